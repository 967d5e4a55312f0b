"""Render a privacy report as text (for people) or JSON (for tools)."""

from __future__ import annotations

import json
from dataclasses import asdict

from edge_agent.privacy.check import PrivacyReport
from edge_agent.privacy.findings import Severity

__all__ = ["SCHEMA", "format_json", "format_text"]

SCHEMA = "edge-agent/privacy-check/1"


def format_text(report: PrivacyReport) -> str:
    """One block per finding, worst first, then a summary line.

    Args:
        report: The report.

    Returns:
        Text ending with a newline.
    """
    lines: list[str] = []
    for f in report.findings:
        lines.append(f"[{f.severity.value.upper()}] {f.code}: {f.message}")
        lines.append(f"    at: {f.where}")
        if f.advice:
            lines.append(f"    fix: {f.advice}")
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Severity)
    verdict = "FAIL" if report.exit_status else "PASS"
    lines.append(f"privacy-check: {verdict} ({counts})")
    return "\n".join(lines) + "\n"


def format_json(report: PrivacyReport) -> str:
    """The report as one JSON document (``--json``).

    Args:
        report: The report.

    Returns:
        JSON text with schema, findings, counts and exit_status.
    """
    doc = {
        "schema": SCHEMA,
        "findings": [asdict(f) | {"severity": f.severity.value} for f in report.findings],
        "counts": {s.value: report.count(s) for s in Severity},
        "exit_status": report.exit_status,
    }
    return json.dumps(doc, indent=2) + "\n"
