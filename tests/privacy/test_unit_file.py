from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_agent.errors import ConfigError
from edge_agent.privacy.unit_file import find_unit, read_unit


def test_continuation_lines_are_joined(fixtures: Path) -> None:
    unit = read_unit(fixtures / "units/edge-agent.service", dropin_dirs=[])
    exec_start = unit.get("Service", "ExecStart")
    assert exec_start is not None
    assert exec_start.endswith("run -c /etc/edge-agent/config.toml")


def test_dropin_overrides_the_unit(fixtures: Path) -> None:
    unit = read_unit(
        fixtures / "units/edge-agent.service", dropin_dirs=[fixtures / "units/loopback"]
    )
    assert unit.get("Service", "PrivateNetwork") == "no"
    assert [p.name for p in unit.dropins] == ["loopback-tcp.conf"]


def test_empty_assignment_resets_a_list(fixtures: Path) -> None:
    unit = read_unit(fixtures / "units/edge-agent.service", dropin_dirs=[fixtures / "units/leaky"])
    assert unit.words("Service", "IPAddressAllow") == ("10.0.0.0/8",)


def test_first_directory_wins_for_a_dropin_name(fixtures: Path, tmp_path: Path) -> None:
    high = tmp_path / "etc"
    (high / "edge-agent.service.d").mkdir(parents=True)
    (high / "edge-agent.service.d/loopback-tcp.conf").write_text(
        "[Service]\nPrivateNetwork=yes\n", encoding="utf-8"
    )
    unit = read_unit(
        fixtures / "units/edge-agent.service", dropin_dirs=[high, fixtures / "units/loopback"]
    )
    assert unit.get("Service", "PrivateNetwork") == "yes"


def test_key_outside_a_section_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.service"
    bad.write_text("\nExecStart=/bin/true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_unit(bad, dropin_dirs=[])
    assert info.value.line == 2


def test_find_unit_takes_the_first_directory(fixtures: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    shutil.copy(fixtures / "units/edge-agent.service", second / "edge-agent.service")
    assert find_unit(dirs=[first, second]) == second / "edge-agent.service"
    assert find_unit("other.service", dirs=[first, second]) is None
