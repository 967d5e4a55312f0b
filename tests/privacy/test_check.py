from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.privacy.check import PrivacyReport, check_config, run_privacy_check
from edge_agent.privacy.findings import Finding, Severity
from edge_agent.privacy.report import format_json, format_text


def _run(config: dict[str, Any], fixtures: Path, broker: str = "clean", **kw: Any) -> PrivacyReport:
    unit = kw.pop("unit", fixtures / "units/edge-agent.service")
    return run_privacy_check(
        config,
        mosquitto_conf=fixtures / f"mosquitto/{broker}/mosquitto.conf",
        unit_path=unit,
        unit_dropin_dirs=kw.pop("dropins", []),
    )


def _codes(report: PrivacyReport) -> dict[str, Severity]:
    return {f.code: f.severity for f in report.findings}


def test_clean_setup_has_no_findings(clean_config: dict[str, Any], fixtures: Path) -> None:
    report = _run(clean_config, fixtures)
    assert report.findings == ()
    assert report.exit_status == 0


@pytest.mark.parametrize(
    "url", ["mqtt://192.168.1.10:1883", "mqtts://broker.example.com:8883", "mqtt://0.0.0.0:1883"]
)
def test_remote_broker_url_is_high(clean_config: dict[str, Any], url: str) -> None:
    clean_config["broker"]["url"] = url
    assert [(f.code, f.severity) for f in check_config(clean_config)] == [
        ("remote-broker", Severity.HIGH)
    ]


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:1883", "mqtt://[::1]:1883", "mqtt://localhost"])
def test_loopback_broker_url_is_fine(clean_config: dict[str, Any], url: str) -> None:
    clean_config["broker"]["url"] = url
    assert check_config(clean_config) == []


def test_allow_remote_broker_is_medium(clean_config: dict[str, Any]) -> None:
    clean_config["privacy"]["allow_remote_broker"] = True
    assert [(f.code, f.severity) for f in check_config(clean_config)] == [
        ("remote-broker-allowed", Severity.MEDIUM)
    ]


def test_embeddings_published_is_medium(clean_config: dict[str, Any]) -> None:
    clean_config["privacy"]["allow_embeddings"] = True
    clean_config["routes"]["text"]["options"] = {"embedding": True}
    (finding,) = check_config(clean_config)
    assert (finding.code, finding.severity) == ("embeddings-published", Severity.MEDIUM)
    assert finding.where == "config: routes.text.options.embedding"


def test_embeddings_asked_but_not_allowed_is_low(clean_config: dict[str, Any]) -> None:
    clean_config["routes"]["text"]["options"] = {"embedding": True}
    assert [(f.code, f.severity) for f in check_config(clean_config)] == [
        ("embeddings-refused", Severity.LOW)
    ]


def test_embeddings_allowed_but_unused_is_silent(clean_config: dict[str, Any]) -> None:
    clean_config["privacy"]["allow_embeddings"] = True
    assert check_config(clean_config) == []


def test_daemon_debug_logging_is_low(clean_config: dict[str, Any]) -> None:
    clean_config["log"]["level"] = "debug"
    assert [(f.code, f.severity) for f in check_config(clean_config)] == [
        ("daemon-debug-log", Severity.LOW)
    ]


def test_bridge_off_the_device_is_high(clean_config: dict[str, Any], fixtures: Path) -> None:
    report = _run(clean_config, fixtures, broker="bridge")
    (finding,) = report.findings
    assert (finding.code, finding.severity) == ("broker-bridge", Severity.HIGH)
    assert finding.where.endswith("zz-cloud.conf:1")
    assert report.exit_status == 1


def test_bare_listener_binds_every_interface(clean_config: dict[str, Any], fixtures: Path) -> None:
    report = _run(clean_config, fixtures, broker="open")
    exposed = [f for f in report.findings if f.code == "broker-listener-exposed"]
    assert len(exposed) == 1
    assert exposed[0].severity is Severity.HIGH
    assert "every network interface" in exposed[0].message


def test_per_listener_anonymous_is_high(clean_config: dict[str, Any], fixtures: Path) -> None:
    report = _run(clean_config, fixtures, broker="open")
    anonymous = [f for f in report.findings if f.code == "broker-anonymous"]
    assert [(f.severity, f.where.endswith("edge-agent.conf:8")) for f in anonymous] == [
        (Severity.HIGH, True)
    ]


def test_global_anonymous_is_high(clean_config: dict[str, Any], fixtures: Path) -> None:
    assert _codes(_run(clean_config, fixtures, broker="anon_global")) == {
        "broker-anonymous": Severity.HIGH
    }


def test_broker_logging_and_persistence(clean_config: dict[str, Any], fixtures: Path) -> None:
    assert _codes(_run(clean_config, fixtures, broker="noisy")) == {
        "broker-persistence": Severity.MEDIUM,
        "broker-verbose-log": Severity.LOW,
    }


def test_unit_without_network_isolation_is_high(
    clean_config: dict[str, Any], fixtures: Path
) -> None:
    report = _run(clean_config, fixtures, unit=fixtures / "units/open.service")
    assert _codes(report) == {
        "unit-network-open": Severity.HIGH,
        "unit-runs-as-root": Severity.MEDIUM,
    }
    assert report.exit_status == 1


def test_loopback_ip_filter_is_low(clean_config: dict[str, Any], fixtures: Path) -> None:
    report = _run(clean_config, fixtures, dropins=[fixtures / "units/loopback"])
    assert _codes(report) == {"unit-network-ip-filter": Severity.LOW}
    assert report.exit_status == 0


def test_ip_allow_beyond_loopback_is_high(clean_config: dict[str, Any], fixtures: Path) -> None:
    report = _run(clean_config, fixtures, dropins=[fixtures / "units/leaky"])
    (finding,) = report.findings
    assert (finding.code, finding.severity) == ("unit-network-allowed", Severity.HIGH)
    assert "10.0.0.0/8" in finding.message


def test_missing_unit_is_medium(clean_config: dict[str, Any], fixtures: Path) -> None:
    assert _codes(_run(clean_config, fixtures, unit=None)) == {"unit-missing": Severity.MEDIUM}


def test_missing_mosquitto_config_is_info(clean_config: dict[str, Any], fixtures: Path) -> None:
    assert _codes(_run(clean_config, fixtures, broker="absent")) == {
        "broker-not-found": Severity.INFO
    }


def test_findings_are_sorted_worst_first(clean_config: dict[str, Any], fixtures: Path) -> None:
    config = copy.deepcopy(clean_config)
    config["log"]["level"] = "debug"
    report = _run(config, fixtures, broker="bridge", unit=None)
    ranks = [f.severity.rank for f in report.findings]
    assert ranks == sorted(ranks)
    assert report.findings[0].severity is Severity.HIGH


def test_findings_are_frozen() -> None:
    finding = Finding("x", Severity.LOW, "m", "w")
    with pytest.raises(AttributeError):
        finding.code = "y"  # type: ignore[misc]


def test_json_report(clean_config: dict[str, Any], fixtures: Path) -> None:
    doc = json.loads(format_json(_run(clean_config, fixtures, broker="bridge")))
    assert doc["schema"] == "edge-agent/privacy-check/1"
    assert doc["exit_status"] == 1
    assert doc["counts"]["high"] == 1
    assert doc["findings"][0]["severity"] == "high"
    assert set(doc["findings"][0]) == {"code", "severity", "message", "where", "advice"}


def test_text_report_names_severity_and_verdict(
    clean_config: dict[str, Any], fixtures: Path
) -> None:
    text = format_text(_run(clean_config, fixtures, broker="bridge"))
    assert text.startswith("[HIGH] broker-bridge:")
    assert text.rstrip().endswith("FAIL (1 high, 0 medium, 0 low, 0 info)")


def test_text_report_of_a_clean_setup_passes(clean_config: dict[str, Any], fixtures: Path) -> None:
    assert format_text(_run(clean_config, fixtures)) == (
        "privacy-check: PASS (0 high, 0 medium, 0 low, 0 info)\n"
    )


def test_persistence_on_tmpfs_is_not_a_finding(tmp_path: Path) -> None:
    from edge_agent.privacy.broker_checks import check_broker
    from edge_agent.privacy.mosquitto_conf import read_mosquitto_conf

    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\ntmpfs /run tmpfs rw,nosuid 0 0\n")
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("persistence true\npersistence_location /run/mosquitto/\n")
    codes = {f.code for f in check_broker(read_mosquitto_conf(conf), mounts)}
    assert "broker-persistence" not in codes
    conf.write_text("persistence true\npersistence_location /var/lib/mosquitto/\n")
    found = [
        f for f in check_broker(read_mosquitto_conf(conf), mounts) if f.code == "broker-persistence"
    ]
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "/var/lib/mosquitto/" in found[0].message


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/run/mosquitto", True),
        ("/run/mosquitto/", True),
        ("/var/run/x", False),
        ("/dev/shm/m/", True),
        ("/srv/data/", False),
        ("/mnt/ram/q", True),
    ],
)
def test_ram_filesystem_is_read_from_the_mount_table(
    tmp_path: Path, location: str, expected: bool
) -> None:
    from edge_agent.privacy.broker_checks import on_ram_filesystem

    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n"
        "none /mnt/ram ramfs rw 0 0\n/dev/vdb /srv xfs rw 0 0\n"
    )
    assert on_ram_filesystem(location, mounts) is expected
