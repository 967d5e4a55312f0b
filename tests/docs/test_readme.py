"""The README stays true: generated sections match the code."""

from __future__ import annotations

import re
from pathlib import Path

from edge_agent.config.reference import reference_markdown
from edge_agent.errors import Reason

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_config_reference_matches_the_models() -> None:
    block = re.search(
        r"<!-- config-reference:start -->\n(.*?)<!-- config-reference:end -->", README, re.S
    )
    assert block is not None
    assert block.group(1) == reference_markdown(), "run scripts/update-readme.py"


def test_every_reason_code_is_documented() -> None:
    for reason in Reason:
        assert f"`{reason.value}`" in README, reason.value


def test_quick_start_names_the_two_commands() -> None:
    assert "make run" in README
    assert "make test" in README
