"""Config precedence: for every pair of sources, the higher one wins."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from edge_agent.config.loader import load_config

SOURCES = ["default", "fleet_defaults", "group", "device", "local_file", "env", "flag"]
DEFAULT_PREFIX = "edge-agent"


def _setup(tmp_path: Path, present: set[str]) -> tuple[list[Path], dict[str, str], dict[str, str]]:
    fleet = ["[defaults]", "labels = ['kitchen']"]
    if "fleet_defaults" in present:
        fleet.append("topic_prefix = 'from-fleet-defaults'")
    fleet += ["[groups.kitchens]", "match = { labels = ['kitchen'] }"]
    if "group" in present:
        fleet.append("topic_prefix = 'from-group'")
    fleet += ["[devices.pi-1]", "stats = { interval_s = 5 }"]
    if "device" in present:
        fleet.append("topic_prefix = 'from-device'")
    fleet_file = tmp_path / "fleet.toml"
    fleet_file.write_text("\n".join(fleet) + "\n")
    files = [fleet_file]
    if "local_file" in present:
        local = tmp_path / "local.toml"
        local.write_text("topic_prefix = 'from-local-file'\n")
        files.append(local)
    env = {"EDGE_AGENT_TOPIC_PREFIX": "from-env"} if "env" in present else {}
    flags = {"topic_prefix": "from-flag"} if "flag" in present else {}
    return files, env, flags


EXPECTED = {
    "default": DEFAULT_PREFIX,
    "fleet_defaults": "from-fleet-defaults",
    "group": "from-group",
    "device": "from-device",
    "local_file": "from-local-file",
    "env": "from-env",
    "flag": "from-flag",
}


@pytest.mark.parametrize(("low", "high"), list(itertools.combinations(SOURCES, 2)))
def test_higher_source_wins(tmp_path: Path, low: str, high: str) -> None:
    files, env, flags = _setup(tmp_path, {low, high})
    config = load_config(files, device_id="pi-1", flags=flags, environ=env, hostname="h")
    assert config.settings.topic_prefix == EXPECTED[high]


@pytest.mark.parametrize("source", SOURCES[1:])
def test_provenance_names_the_source(tmp_path: Path, source: str) -> None:
    files, env, flags = _setup(tmp_path, {source})
    config = load_config(files, device_id="pi-1", flags=flags, environ=env, hostname="h")
    described = config.source_of(("topic_prefix",))
    words = {
        "fleet_defaults": "fleet defaults",
        "group": "fleet group kitchens",
        "device": "fleet device pi-1",
        "local_file": "local.toml",
        "env": "$EDGE_AGENT_TOPIC_PREFIX",
        "flag": "flag",
    }
    assert words[source] in described


def test_unset_value_reports_default(tmp_path: Path) -> None:
    files, env, flags = _setup(tmp_path, set())
    config = load_config(files, device_id="pi-1", flags=flags, environ=env, hostname="h")
    assert config.source_of(("topic_prefix",)) == "default"


def test_a_route_option_table_replaces_the_default_one(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[routes.texts]\noptions = { labels = { alarm = ["a smoke alarm"] } }\n')
    labels = load_config([f], environ={}).settings.routes["texts"].options["labels"]
    assert labels == {"alarm": ["a smoke alarm"]}  # not the ten default labels beside it


def test_options_merge_key_by_key_across_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(
        '[routes.texts]\noptions = { labels = { a = ["x"] }, threshold = 0.2 }\n', "utf-8"
    )
    second.write_text('[routes.texts]\noptions = { labels = { b = ["y"] } }\n', "utf-8")
    options = load_config([first, second], environ={}).settings.routes["texts"].options
    assert options == {"labels": {"b": ["y"]}, "threshold": 0.2}
