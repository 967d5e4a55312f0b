#!/usr/bin/env python3
"""Refresh generated README sections (config reference) in place."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent.config.reference import reference_markdown  # noqa: E402


def main() -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    block = "<!-- config-reference:start -->\n" + reference_markdown() + "<!-- config-reference:end -->"
    text = re.sub(r"<!-- config-reference:start -->.*?<!-- config-reference:end -->", lambda _: block,
                  text, flags=re.S)
    readme.write_text(text)


if __name__ == "__main__":
    main()
