"""English training corpus: Debian package descriptions from ``apt-cache dumpavail``.

Synopses and the sentences of the long descriptions are kept when they are 4–40
words of mostly plain English; packages are split into train and held-out sets by
a hash of the package name, so no package contributes to both.
"""

from __future__ import annotations

import re
import subprocess
import zlib
from dataclasses import dataclass

__all__ = ["Corpus", "load_corpus"]

_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Corpus:
    """Deduplicated sentences.

    Attributes:
        train: Sentences of training packages.
        heldout: Sentences of held-out packages (never trained on).
        packages: Number of packages read.
    """

    train: list[str]
    heldout: list[str]
    packages: int


def _sentences(desc_lines: list[str]) -> list[str]:
    synopsis, body = desc_lines[0], desc_lines[1:]
    paras: list[str] = []
    cur: list[str] = []
    for line in body:
        s = line.strip()
        if s == "." or not s:
            if cur:
                paras.append(" ".join(cur))
            cur = []
        elif line.startswith("  "):  # verbatim (lists, code): skip
            continue
        else:
            cur.append(s)
    if cur:
        paras.append(" ".join(cur))
    out = [synopsis]
    for para in paras:
        out.extend(_SENT_SPLIT.split(para))
    return out


def _keep(s: str) -> bool:
    words = s.split()
    if not 4 <= len(words) <= 40:
        return False
    alpha = sum(len(w) for w in _WORD.findall(s))
    return alpha >= 0.7 * len(s.replace(" ", "")) and "http" not in s


def load_corpus(heldout_mod: int = 20) -> Corpus:
    """Read and split the apt package descriptions.

    Args:
        heldout_mod: One package in ``heldout_mod`` (by crc32 of its name) is held out.

    Returns:
        The corpus.

    Raises:
        RuntimeError: apt has no package lists (run ``apt-get update``).
    """
    text = subprocess.run(  # noqa: S603
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True  # noqa: S607
    ).stdout
    train: dict[str, None] = {}
    held: dict[str, None] = {}
    packages = 0
    for stanza in text.split("\n\n"):
        name = ""
        desc: list[str] = []
        in_desc = False
        for line in stanza.splitlines():
            if line.startswith("Package:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Description:"):
                desc = [line.split(":", 1)[1].strip()]
                in_desc = True
            elif in_desc and line.startswith(" "):
                desc.append(line[1:])
            else:
                in_desc = False
        if not name or not desc:
            continue
        packages += 1
        dest = held if zlib.crc32(name.encode()) % heldout_mod == 0 else train
        for s in _sentences(desc):
            s = " ".join(s.split())
            if _keep(s):
                dest[s] = None
    if packages == 0:
        raise RuntimeError("apt-cache dumpavail is empty: run `apt-get update` first")
    heldout = [s for s in held if s not in train]
    return Corpus(train=list(train), heldout=heldout, packages=packages)
