"""`edge-agent privacy-check`: audit what could make data leave the device.

Reads the effective daemon config (a nested dict), the mosquitto configuration
(following ``include_dir``) and the installed systemd unit, and reports findings
with a severity.  The exit status is non-zero when any finding is high.

Daemon-config rules:
- a broker URL that is neither ``unix://`` nor loopback: results leave the device (high);
- ``privacy.allow_remote_broker = true`` with a local URL: one edit away (medium);
- a route asking for embeddings while ``privacy.allow_embeddings`` is true: rich
  derived data is published (medium); asked but not allowed: refused (low);
- ``log.level = "debug"``: per-message metadata (topics, sensor ids, sizes, timings)
  in the journal; the daemon never logs payload bytes or text at any level (low).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.errors import ConfigError
from edge_agent.privacy.broker_checks import check_broker
from edge_agent.privacy.findings import Finding, Severity
from edge_agent.privacy.loopback import is_local_broker_url
from edge_agent.privacy.mosquitto_conf import read_mosquitto_conf
from edge_agent.privacy.unit_checks import check_unit
from edge_agent.privacy.unit_file import read_unit

__all__ = [
    "DEFAULT_MOSQUITTO_CONF",
    "PrivacyReport",
    "check_config",
    "run_privacy_check",
]

DEFAULT_MOSQUITTO_CONF = Path("/etc/mosquitto/mosquitto.conf")
_DEFAULT_BROKER_URL = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True, slots=True)
class PrivacyReport:
    """All findings, worst first.

    Attributes:
        findings: The findings, sorted by severity (stable within one severity).
    """

    findings: tuple[Finding, ...]

    @property
    def exit_status(self) -> int:
        """1 when any finding is high, else 0."""
        return 1 if any(f.severity is Severity.HIGH for f in self.findings) else 0

    def count(self, severity: Severity) -> int:
        """Number of findings of one severity."""
        return sum(1 for f in self.findings if f.severity is severity)


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError("expected a table", key=key)
    return value


def _broker(config: Mapping[str, Any]) -> list[Finding]:
    broker = _section(config, "broker")
    privacy = _section(config, "privacy")
    url = str(broker.get("url") or _DEFAULT_BROKER_URL)
    allowed = bool(privacy.get("allow_remote_broker", False))
    if not is_local_broker_url(url):
        refused = "" if allowed else " (the daemon refuses to start: allow_remote_broker is false)"
        return [
            Finding(
                code="remote-broker",
                severity=Severity.HIGH,
                message=f"broker {url} is not on this device: every result leaves it{refused}",
                where="config: broker.url",
                advice="use unix:///run/mosquitto/edge-agent.sock or a loopback address",
            )
        ]
    if allowed:
        return [
            Finding(
                code="remote-broker-allowed",
                severity=Severity.MEDIUM,
                message="privacy.allow_remote_broker is true: a remote broker is one edit away",
                where="config: privacy.allow_remote_broker",
                advice="set it to false",
            )
        ]
    return []


def _embeddings(config: Mapping[str, Any]) -> list[Finding]:
    allowed = bool(_section(config, "privacy").get("allow_embeddings", False))
    found: list[Finding] = []
    for name, route in sorted(_section(config, "routes").items()):
        options = (route.get("options") or {}) if isinstance(route, Mapping) else {}
        if not (isinstance(options, Mapping) and options.get("embedding")):
            continue
        if allowed:
            found.append(
                Finding(
                    code="embeddings-published",
                    severity=Severity.MEDIUM,
                    message=f"route '{name}' publishes embeddings, which can be matched "
                    "or partly inverted to recover what was sensed",
                    where=f"config: routes.{name}.options.embedding",
                    advice="publish labels/scores only, or keep such results on the device",
                )
            )
        else:
            found.append(
                Finding(
                    code="embeddings-refused",
                    severity=Severity.LOW,
                    message=f"route '{name}' asks for embeddings but "
                    "privacy.allow_embeddings is false: they are not published",
                    where=f"config: routes.{name}.options.embedding",
                    advice="remove the option, or allow embeddings deliberately",
                )
            )
    return found


def _logging(config: Mapping[str, Any]) -> list[Finding]:
    if str(_section(config, "log").get("level", "info")).lower() != "debug":
        return []
    return [
        Finding(
            code="daemon-debug-log",
            severity=Severity.LOW,
            message="log.level is debug: topics, sensor ids, sizes and timings of every "
            "message go to the journal (never payload bytes or text)",
            where="config: log.level",
            advice='use "info" in production',
        )
    ]


def check_config(config: Mapping[str, Any]) -> list[Finding]:
    """Audit the daemon's effective configuration.

    Args:
        config: The effective config as a nested dict (keys of config.toml).

    Returns:
        Findings about the broker address, embeddings and logging.

    Raises:
        ConfigError: A section that must be a table is not.
    """
    return _broker(config) + _embeddings(config) + _logging(config)


def run_privacy_check(
    config: Mapping[str, Any],
    *,
    mosquitto_conf: Path | None = DEFAULT_MOSQUITTO_CONF,
    unit_path: Path | None = None,
    unit_dropin_dirs: list[Path] | None = None,
) -> PrivacyReport:
    """Run every check and collect the findings.

    Args:
        config: The effective daemon config.
        mosquitto_conf: mosquitto's main file (includes are followed); None skips
            the broker audit (reported as info).
        unit_path: The installed unit (see ``unit_file.find_unit()``); None reports
            it missing.
        unit_dropin_dirs: Where to look for the unit's drop-ins; default: next to
            the unit, then the systemd unit directories.

    Returns:
        The report; ``exit_status`` is the process exit status.

    Raises:
        ConfigError: A file exists but cannot be read or parsed.
    """
    found = check_config(config)
    if mosquitto_conf is None:
        found.append(Finding("broker-not-audited", Severity.INFO, "mosquitto was not audited", "-"))
    elif not mosquitto_conf.exists():
        found.append(
            Finding(
                code="broker-not-found",
                severity=Severity.INFO,
                message="no mosquitto configuration here: the broker was not audited",
                where=str(mosquitto_conf),
                advice="run the check where the broker runs",
            )
        )
    else:
        found += check_broker(read_mosquitto_conf(mosquitto_conf))
    unit = read_unit(unit_path, unit_dropin_dirs) if unit_path is not None else None
    found += check_unit(unit)
    ordered = sorted(found, key=lambda f: f.severity.rank)
    return PrivacyReport(findings=tuple(ordered))
