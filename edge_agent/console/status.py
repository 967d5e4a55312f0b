"""``edge-agent status``: the retained status and details plus the latest stats, for a person.

The status (``online``/``offline``) and details are retained, so they arrive at
once. Stats are periodic: the command asks the control API for them
(``request/stats``) and otherwise waits for the next periodic document, up to
``--wait`` seconds (the broker ACL may not let this account send requests).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as paho

from edge_agent.config.models import AgentSettings
from edge_agent.console.client import OperatorClient
from edge_agent.elastic.sizes import format_size
from edge_agent.results.schema import Topics

__all__ = ["format_status", "read_status"]


def read_status(settings: AgentSettings, *, wait_s: float) -> dict[str, Any]:
    """Collect ``{"status", "details", "stats"}`` from the broker (missing parts are None).

    Raises:
        TransportError: The broker cannot be reached.
    """
    topics = Topics(settings.topic_prefix, settings.device_id)
    reply = f"{topics.base}/response/stats"
    got: dict[str, Any] = {"status": None, "details": None, "stats": None}
    done = threading.Event()
    lock = threading.Lock()

    def on_message(msg: paho.MQTTMessage) -> None:
        with lock:
            if msg.topic == topics.status:
                got["status"] = msg.payload.decode("utf-8", "replace")
            elif msg.topic == topics.status_details:
                got["details"] = _json(bytes(msg.payload))
            elif msg.topic == topics.stats:
                got["stats"] = _json(bytes(msg.payload))
            elif msg.topic == reply:
                doc = _json(bytes(msg.payload))
                if isinstance(doc, dict) and doc.get("status") == "ok":
                    got["stats"] = doc.get("data")
            if got["status"] is not None and got["stats"] is not None:
                done.set()

    client = OperatorClient(settings.broker, on_message, "status")
    client.connect()
    try:
        client.subscribe([topics.status, topics.status_details, topics.stats, reply])
        client.request(f"{topics.base}/request/stats", b"{}", reply)
        deadline = time.monotonic() + wait_s
        while not done.wait(0.1) and time.monotonic() < deadline:
            with lock:
                if got["status"] == "offline" and got["details"] is not None:
                    break  # an offline daemon sends no stats: do not wait for them
    finally:
        client.close()
    return got


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {s:02d}s"


def _ms(latency: Mapping[str, Any], stage: str) -> str:
    value = latency.get(stage, {}).get("p50")
    return f"{value:.1f} ms" if isinstance(value, int | float) else "-"


def _pipeline_lines(details: Mapping[str, Any], stats: Mapping[str, Any]) -> list[str]:
    """A table of pipelines (variant, counts, p50s), then errors by reason and unavailability."""
    lines: list[str] = []
    pipelines = stats.get("pipelines") or {}
    rows = [("pipeline", "family", "variant", "recv", "done", "drop", "infer p50", "total p50")]
    for name, p in (details.get("pipelines") or {}).items():
        s = pipelines.get(name, {})
        latency = s.get("latency_ms", {})
        variant = p.get("variant") or ("unavailable" if p.get("unavailable") else "not loaded")
        rows.append(
            (
                name,
                str(p.get("family", "")),
                str(variant),
                str(s.get("received", "-")),
                str(s.get("processed", "-")),
                str(s.get("dropped", "-")),
                _ms(latency, "infer"),
                _ms(latency, "total"),
            )
        )
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
    for name, s in pipelines.items():
        errors = s.get("errors") or {}
        if errors:
            text = ", ".join(f"{reason} {n}" for reason, n in sorted(errors.items()))
            lines.append(f"errors {name}: {text}")
    for name, p in (details.get("pipelines") or {}).items():
        if p.get("unavailable"):
            lines.append(f"unavailable {name}: {p['unavailable']}")
    return lines


def format_status(device: str, got: Mapping[str, Any]) -> str:
    """Render what :func:`read_status` collected as a few lines for a terminal."""
    details: Mapping[str, Any] = got.get("details") or {}
    stats: Mapping[str, Any] = got.get("stats") or {}
    state = got.get("status") or "unknown (no retained status: never started here?)"
    head = f"edge-agent {device}: {state}"
    if details.get("version"):
        head += f", version {details['version']}"
    if "uptime_s" in stats:
        head += f", up {_duration(stats['uptime_s'])}"
    lines = [head]
    if details.get("remote_broker_allowed"):
        lines.append("privacy: remote broker allowed (privacy.allow_remote_broker)")
    broker = stats.get("broker") or {}
    if broker:
        conn = "connected" if broker.get("connected") else "disconnected"
        lines.append(f"broker: {conn}, {broker.get('reconnects', 0)} reconnect(s)")
    sizing = stats.get("sizing") or details.get("sizing") or {}
    if sizing:
        budget = sizing.get("budget_bytes")
        shown = format_size(budget) if isinstance(budget, int) else "unknown"
        lines.append(f"sizing: {sizing.get('mode', '?')}, budget {shown}")
    lines += _pipeline_lines(details, stats)
    memory = stats.get("memory") or {}
    if "vmrss" in memory:
        lines.append(
            f"memory: RSS {format_size(memory['vmrss'])} (anonymous "
            f"{format_size(memory.get('rssanon', 0))}, "
            f"file-backed {format_size(memory.get('rssfile', 0))})"
        )
    if not stats:
        lines.append("stats: none received (no answer to request/stats, no periodic stats in time)")
    return "\n".join(lines) + "\n"
