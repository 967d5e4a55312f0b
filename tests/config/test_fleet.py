"""Fleet resolution: groups by device glob, hostname glob and labels; device sections."""

from __future__ import annotations

from pathlib import Path

from edge_agent.config.loader import load_config

FLEET = """
[defaults]
topic_prefix = "home"

[groups.cameras]
match = { devices = ["cam-*"] }
stats = { interval_s = 11 }

[groups.garage-hosts]
match = { hostnames = ["garage*"] }
stats = { interval_s = 22 }

[groups.outdoor]
match = { labels = ["outdoor"] }
log = { level = "warning" }

[devices.cam-2]
labels = ["outdoor"]
shutdown_deadline_s = 3
"""


def _load(tmp_path: Path, device: str, hostname: str = "nohost") -> object:
    f = tmp_path / "fleet.toml"
    f.write_text(FLEET)
    return load_config([f], device_id=device, environ={}, hostname=hostname).settings


def test_defaults_apply_to_every_device(tmp_path: Path) -> None:
    assert _load(tmp_path, "other").topic_prefix == "home"  # type: ignore[attr-defined]


def test_group_matches_device_glob(tmp_path: Path) -> None:
    assert _load(tmp_path, "cam-1").stats.interval_s == 11  # type: ignore[attr-defined]


def test_group_not_matching_leaves_default(tmp_path: Path) -> None:
    assert _load(tmp_path, "door-1").stats.interval_s == 30  # type: ignore[attr-defined]


def test_group_matches_hostname_glob(tmp_path: Path) -> None:
    settings = _load(tmp_path, "x", hostname="garage-pi")
    assert settings.stats.interval_s == 22  # type: ignore[attr-defined]


def test_group_matches_label_from_device_section(tmp_path: Path) -> None:
    assert _load(tmp_path, "cam-2").log.level == "warning"  # type: ignore[attr-defined]


def test_later_group_wins_over_earlier(tmp_path: Path) -> None:
    settings = _load(tmp_path, "cam-9", hostname="garage-1")
    assert settings.stats.interval_s == 22  # type: ignore[attr-defined]


def test_device_section_applies(tmp_path: Path) -> None:
    assert _load(tmp_path, "cam-2").shutdown_deadline_s == 3  # type: ignore[attr-defined]


def test_device_id_comes_from_hostname_by_default(tmp_path: Path) -> None:
    f = tmp_path / "fleet.toml"
    f.write_text(FLEET)
    settings = load_config([f], environ={}, hostname="cam-7").settings
    assert settings.device_id == "cam-7"
    assert settings.stats.interval_s == 11
