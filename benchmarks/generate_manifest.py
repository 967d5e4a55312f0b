"""Write measured figures into one variant's block of models/generate/manifest.toml."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[1] / "models" / "generate" / "manifest.toml"


def write_figures(variant: str, values: Mapping[str, object], path: Path = MANIFEST) -> None:
    """Set ``key = value`` lines in the ``[[variants]]`` block of ``variant`` (added before
    ``quality`` when missing); everything else in the file is left as it is."""
    text = path.read_text()
    start = text.index(f'id = "{variant}"')
    end = text.find("[[variants]]", start)
    end = len(text) if end < 0 else end
    block = text[start:end]
    for key, value in values.items():
        if re.search(rf"^{key} = ", block, re.M):
            block = re.sub(rf"^{key} = .*$", f"{key} = {value}", block, flags=re.M)
        else:
            block = block.replace("quality = ", f"{key} = {value}\nquality = ", 1)
    path.write_text(text[:start] + block + text[end:])
