"""deploy/fleet/example.toml: shape, resolution per device, and privacy."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from deploy_support import REPO

from edge_agent.privacy.check import check_config
from edge_agent.privacy.findings import Severity

FLEET = REPO / "deploy/fleet/example.toml"
DEVICES = ["cam-kitchen", "cam-door", "kiosk-lobby", "mic-hall", "jetson-garage"]


def fleet() -> dict[str, Any]:
    return tomllib.loads(FLEET.read_text(encoding="utf-8"))


def test_has_defaults_three_groups_and_five_devices() -> None:
    doc = fleet()
    assert set(doc) == {"defaults", "groups", "devices"}
    assert len(doc["groups"]) == 3
    assert sorted(doc["devices"]) == sorted(DEVICES)


def test_every_group_matches_on_known_keys() -> None:
    for group in fleet()["groups"].values():
        assert group["match"]
        assert set(group["match"]) <= {"devices", "hostnames", "labels"}


def effective(device: str) -> dict[str, Any]:
    loader = pytest.importorskip("edge_agent.config.loader")
    config = loader.load_config([FLEET], device_id=device, environ={}, hostname="unknown-host")
    dumped: dict[str, Any] = config.settings.model_dump(mode="json")
    return dumped


@pytest.mark.parametrize("device", DEVICES)
def test_each_device_resolves_to_a_valid_config(device: str) -> None:
    config = effective(device)
    assert config["device_id"] == device
    assert config["broker"]["url"].startswith("unix://")


def test_groups_enable_what_their_sensors_need() -> None:
    enabled = {
        device: sorted(name for name, r in effective(device)["routes"].items() if r["enabled"])
        for device in DEVICES
    }
    assert enabled == {
        "cam-kitchen": ["audio", "images"],
        "cam-door": ["audio", "images"],
        "kiosk-lobby": ["audio", "texts"],
        "mic-hall": ["audio"],
        "jetson-garage": ["audio", "images"],
    }


@pytest.mark.parametrize("device", DEVICES)
def test_no_device_has_a_high_privacy_finding(device: str) -> None:
    findings = check_config(effective(device))
    assert [f for f in findings if f.severity is Severity.HIGH] == []


def test_fleet_is_installed_where_the_role_puts_it() -> None:
    defaults = (REPO / "deploy/ansible/roles/edge_agent/defaults/main.yml").read_text()
    assert "deploy/fleet/example.toml" in defaults
    assert Path(FLEET).is_file()
