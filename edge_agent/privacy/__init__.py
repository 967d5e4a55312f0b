"""Privacy audit: daemon config, mosquitto config and systemd unit."""

from edge_agent.privacy.check import DEFAULT_MOSQUITTO_CONF, PrivacyReport, run_privacy_check
from edge_agent.privacy.findings import Finding, Severity
from edge_agent.privacy.report import format_json, format_text
from edge_agent.privacy.unit_file import find_unit

__all__ = [
    "DEFAULT_MOSQUITTO_CONF",
    "Finding",
    "PrivacyReport",
    "Severity",
    "find_unit",
    "format_json",
    "format_text",
    "run_privacy_check",
]
