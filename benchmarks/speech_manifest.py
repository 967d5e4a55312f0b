"""Write measured figures into ``models/speech/manifest.toml`` (one variant's block).

The manifest is hand-laid (comments, the ``installed`` tables), so figures are
replaced line by line inside the ``[[variants]]`` block of the given id instead
of re-rendering the file. Used by ``speech_wer.py`` (quality) and
``speech_models.py`` (memory, latency).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "models" / "speech" / "manifest.toml"


def update_variant(variant: str, figures: dict[str, int | float], path: Path = MANIFEST) -> None:
    """Set ``key = value`` lines of one variant (keys must already be there, or be added)."""
    text = path.read_text(encoding="utf-8")
    blocks = text.split("[[variants]]")
    for i, original in enumerate(blocks[1:], 1):
        if not re.search(rf'^id = "{re.escape(variant)}"$', original, flags=re.M):
            continue
        block = original
        for key, value in figures.items():
            line = f"{key} = {value!r}"
            if re.search(rf"^{key} = .*$", block, flags=re.M):
                block = re.sub(rf"^{key} = .*$", line, block, count=1, flags=re.M)
            else:
                block = block.replace("\ndescription = ", f"\n{line}\ndescription = ", 1)
        blocks[i] = block
        break
    else:
        raise SystemExit(f"no variant {variant!r} in {path}")
    new = "[[variants]]".join(blocks)
    tomllib.loads(new)  # still valid TOML
    path.write_text(new, encoding="utf-8")
