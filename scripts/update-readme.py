#!/usr/bin/env python3
"""Refresh generated README sections (config reference) in place."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent.config.reference import reference_markdown  # noqa: E402

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def main() -> None:
    """Rewrite the block between the config-reference markers in README.md."""
    readme = REPO / "README.md"
    block = f"{START}\n{reference_markdown()}{END}"
    text = re.sub(f"{START}.*?{END}", lambda _: block, readme.read_text(), flags=re.S)
    readme.write_text(text)


if __name__ == "__main__":
    main()
