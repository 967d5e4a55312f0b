"""Counters and latency percentiles per pipeline, for the stats topic."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PipelineStats", "Stats", "process_memory"]

_WINDOW = 2048


@dataclass
class PipelineStats:
    """Counters of one pipeline (mutated under the Stats lock)."""

    received: int = 0
    processed: int = 0
    published: int = 0
    dropped: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    latency: dict[str, collections.deque[float]] = field(default_factory=dict)


def process_memory(proc: Path = Path("/proc/self/status")) -> dict[str, int]:
    """RSS split into anonymous and file-backed bytes (Linux), else empty."""
    out: dict[str, int] = {}
    try:
        for line in proc.read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key.lower()] = int(rest.split()[0]) * 1024
    except OSError:
        return {}
    return out


def _percentiles(values: collections.deque[float]) -> dict[str, float]:
    arr = np.fromiter(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "n": int(arr.size),
    }


class Stats:
    """Thread-safe stats of the whole daemon."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipelines: dict[str, PipelineStats] = collections.defaultdict(PipelineStats)
        self.started = time.monotonic()
        self.unrouted = 0
        self.retained_skipped = 0

    def _p(self, pipeline: str) -> PipelineStats:
        return self._pipelines[pipeline]

    def received(self, pipeline: str) -> None:
        """Count a message routed to ``pipeline``."""
        with self._lock:
            self._p(pipeline).received += 1

    def dropped(self, pipeline: str) -> None:
        """Count a message dropped from a full inbox."""
        with self._lock:
            self._p(pipeline).dropped += 1

    def error(self, pipeline: str, reason: str) -> None:
        """Count a rejected message by reason code."""
        with self._lock:
            self._p(pipeline).errors[reason] += 1

    def processed(self, pipeline: str, timings_ms: Mapping[str, float], published: int) -> None:
        """Count a processed message and record its stage timings."""
        with self._lock:
            p = self._p(pipeline)
            p.processed += 1
            p.published += published
            for stage, ms in timings_ms.items():
                p.latency.setdefault(stage, collections.deque(maxlen=_WINDOW)).append(ms)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view: counts, errors by reason, latency percentiles per stage."""
        with self._lock:
            pipelines = {
                name: {
                    "received": p.received,
                    "processed": p.processed,
                    "published": p.published,
                    "dropped": p.dropped,
                    "errors": dict(p.errors),
                    "latency_ms": {s: _percentiles(v) for s, v in p.latency.items() if v},
                }
                for name, p in self._pipelines.items()
            }
            unrouted = self.unrouted
            retained = self.retained_skipped
        return {
            "uptime_s": round(time.monotonic() - self.started, 1),
            "unrouted": unrouted,
            "retained_skipped": retained,
            "pipelines": pipelines,
            "memory": process_memory(),
        }
