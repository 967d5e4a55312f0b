"""Stats as a Prometheus textfile for node_exporter's textfile collector (no socket).

After each stats document the daemon writes the file named by
``prometheus.textfile`` (off by default) atomically: a temporary file in the same
folder, then ``rename`` (node_exporter never reads a half-written file, and reads
only ``*.prom`` files, so the temporary name is ignored). The format is the text
exposition format: ``# HELP``/``# TYPE`` lines, then samples with escaped labels.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PrometheusSettings", "TextfileWriter", "render_metrics"]

log = structlog.get_logger("edge_agent.prometheus")


class PrometheusSettings(BaseModel):
    """Prometheus metrics through node_exporter's textfile collector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    textfile: Path | None = Field(
        default=None,
        description="Write the stats to this .prom file after each stats interval, atomically "
        "(node_exporter --collector.textfile.directory); null: off.",
    )


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, object]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class _Family:
    __slots__ = ("help", "kind", "name", "samples")

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: list[tuple[dict[str, object], float]] = []

    def add(self, value: object, **labels: object) -> None:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int | float) and math.isfinite(value):
            self.samples.append((labels, float(value)))

    def lines(self) -> Iterable[str]:
        if not self.samples:
            return
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {value:.17g}"


def render_metrics(stats: Mapping[str, Any], *, now: float | None = None) -> str:
    """The text exposition of one ``edge-agent/stats/1`` document.

    Args:
        stats: The stats document.
        now: Unix time of the document (default: now).

    Returns:
        The file content, ending with a newline.
    """
    dev = {"device": stats.get("device", "")}
    f: dict[str, _Family] = {}

    def fam(name: str, kind: str, help_text: str) -> _Family:
        return f.setdefault(name, _Family(f"edge_agent_{name}", kind, help_text))

    fam("up", "gauge", "1 while the daemon writes this file.").add(1, **dev)
    fam("stats_timestamp_seconds", "gauge", "When these stats were taken (Unix time).").add(
        time.time() if now is None else now, **dev
    )
    fam("uptime_seconds", "gauge", "Seconds since the daemon started.").add(
        stats.get("uptime_s"), **dev
    )
    fam("unrouted_total", "counter", "Messages no route took.").add(stats.get("unrouted"), **dev)
    for name, p in stats.get("pipelines", {}).items():
        pl = {**dev, "pipeline": name}
        for key, text in (
            ("received", "Messages routed to the pipeline."),
            ("processed", "Messages the pipeline answered."),
            ("published", "Result documents published."),
            ("dropped", "Messages dropped from a full inbox."),
        ):
            fam(f"messages_{key}_total", "counter", text).add(p.get(key), **pl)
        for reason, count in p.get("errors", {}).items():
            fam("errors_total", "counter", "Rejected messages by reason code.").add(
                count, **pl, reason=reason
            )
        for stage, q in p.get("latency_ms", {}).items():
            for quantile, label in (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")):
                fam(
                    "latency_seconds",
                    "gauge",
                    "Latency per stage over the recent window, by quantile.",
                ).add(
                    q[quantile] / 1000 if quantile in q else None,
                    **pl,
                    stage=stage,
                    quantile=label,
                )
        inbox = p.get("inbox", {})
        fam("inbox_waiting", "gauge", "Messages waiting in the inbox.").add(
            inbox.get("waiting"), **pl
        )
        fam("inbox_capacity", "gauge", "Inbox size.").add(inbox.get("capacity"), **pl)
        if p.get("variant") is not None:
            fam("variant_info", "gauge", "The variant a pipeline runs (value 1).").add(
                1, **pl, family=p.get("family", ""), variant=p["variant"]
            )
    for kind, value in stats.get("memory", {}).items():
        fam("memory_bytes", "gauge", "Process memory by kind (/proc/self/status).").add(
            value, **dev, kind=kind
        )
    sizing = stats.get("sizing") or {}
    fam("sizing_budget_bytes", "gauge", "Memory budget of the loaded variants.").add(
        sizing.get("budget_bytes"), **dev
    )
    broker = stats.get("broker") or {}
    fam("broker_connected", "gauge", "1 while connected to the broker.").add(
        broker.get("connected"), **dev
    )
    fam("broker_reconnects_total", "counter", "Reconnects since start.").add(
        broker.get("reconnects"), **dev
    )
    return "\n".join(line for family in f.values() for line in family.lines()) + "\n"


class TextfileWriter:
    """Writes stats to one textfile, atomically; failures are logged, never raised.

    Args:
        settings: The ``[prometheus]`` settings (``reload`` may replace them).
    """

    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self.writes = 0

    def write(self, stats: Mapping[str, Any]) -> bool:
        """Write the file for ``stats``; False when off or the write failed."""
        path = self.settings.textfile
        if path is None:
            return False
        text = render_metrics(stats)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chmod(tmp, 0o644)  # node_exporter runs as another user
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("prometheus_textfile_failed", path=str(path), error=exc.strerror)
            return False
        self.writes += 1
        return True
