"""The JSON documents edge-agent publishes (public, versioned contract).

``edge-agent/result/1`` and ``edge-agent/error/1`` only ever gain optional
fields; a breaking change gets a new schema tag and a new topic version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ERROR_SCHEMA",
    "EVENT_SCHEMA",
    "PARTIAL_SCHEMA",
    "RESULT_SCHEMA",
    "Topics",
    "error_document",
    "event_document",
    "partial_document",
    "result_document",
    "to_json",
]

RESULT_SCHEMA = "edge-agent/result/1"
ERROR_SCHEMA = "edge-agent/error/1"
STATS_SCHEMA = "edge-agent/stats/1"
STATUS_SCHEMA = "edge-agent/status/1"
EVENT_SCHEMA = "edge-agent/event/1"
PARTIAL_SCHEMA = "edge-agent/partial/1"


class Topics:
    """The topics of one device.

    Args:
        prefix: Topic prefix (``edge-agent``).
        device: Device id.
    """

    def __init__(self, prefix: str, device: str) -> None:
        self.base = f"{prefix.rstrip('/')}/{device}"

    def result(self, pipeline: str, sensor: str) -> str:
        """``<prefix>/<device>/results/<pipeline>/<sensor>``."""
        return f"{self.base}/results/{pipeline}/{sensor}"

    @property
    def errors(self) -> str:
        """``<prefix>/<device>/errors``."""
        return f"{self.base}/errors"

    @property
    def status(self) -> str:
        """``<prefix>/<device>/status`` (retained ``online``/``offline``, last will)."""
        return f"{self.base}/status"

    @property
    def status_details(self) -> str:
        """``<prefix>/<device>/status/details`` (retained JSON)."""
        return f"{self.base}/status/details"

    @property
    def stats(self) -> str:
        """``<prefix>/<device>/stats``."""
        return f"{self.base}/stats"

    def partial(self, pipeline: str, sensor: str) -> str:
        """``<prefix>/<device>/results/<pipeline>/<sensor>/partial``."""
        return f"{self.result(pipeline, sensor)}/partial"

    def event(self, pipeline: str, sensor: str) -> str:
        """``<prefix>/<device>/events/<pipeline>/<sensor>``."""
        return f"{self.base}/events/{pipeline}/{sensor}"

    def state(self, path: str) -> str:
        """``<prefix>/<device>/<path>`` for a retained state (``counts/<sensor>/<label>``)."""
        return f"{self.base}/{path}"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def result_document(
    *,
    request_id: str,
    device: str,
    pipeline: str,
    route: str,
    sensor: str,
    topic: str,
    family: str,
    variant: str | None,
    task: str,
    timings_ms: Mapping[str, float],
    result: Mapping[str, Any],
) -> dict[str, Any]:
    """Build an ``edge-agent/result/1`` document."""
    return {
        "schema": RESULT_SCHEMA,
        "request_id": request_id,
        "device": device,
        "pipeline": pipeline,
        "route": route,
        "sensor": sensor,
        "topic": topic,
        "model": {"family": family, "variant": variant, "task": task},
        "timings_ms": {k: round(v, 3) for k, v in timings_ms.items()},
        "time": _iso(time.time()),
        "result": dict(result),
    }


def error_document(
    *,
    reason: str,
    detail: str,
    device: str,
    topic: str | None,
    sensor: str | None,
    size: int | None,
    request_id: str | None,
    route: str | None = None,
) -> dict[str, Any]:
    """Build an ``edge-agent/error/1`` document (never the payload)."""
    return {
        "schema": ERROR_SCHEMA,
        "reason": reason,
        "detail": detail,
        "device": device,
        "topic": topic,
        "sensor": sensor,
        "route": route,
        "size": size,
        "request_id": request_id,
        "time": _iso(time.time()),
    }


def event_document(
    *,
    event_type: str,
    request_id: str,
    device: str,
    pipeline: str,
    route: str,
    sensor: str,
    model: Mapping[str, Any],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """Build an ``edge-agent/event/1`` document (envelope first, then the event's fields).

    ``event_type`` is a top-level key so Home Assistant's MQTT ``event`` entity
    reads it without a template.
    """
    return {
        "schema": EVENT_SCHEMA,
        "event_type": event_type,
        "request_id": request_id,
        "device": device,
        "pipeline": pipeline,
        "route": route,
        "sensor": sensor,
        "model": dict(model),
        "time": _iso(time.time()),
        **data,
    }


def partial_document(
    *,
    request_id: str,
    device: str,
    pipeline: str,
    route: str,
    sensor: str,
    seq: int,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """Build an ``edge-agent/partial/1`` document: one streamed piece of a result."""
    return {
        "schema": PARTIAL_SCHEMA,
        "request_id": request_id,
        "device": device,
        "pipeline": pipeline,
        "route": route,
        "sensor": sensor,
        "seq": seq,
        "time": _iso(time.time()),
        "partial": dict(data),
    }


def to_json(document: Mapping[str, Any]) -> bytes:
    """Serialise compactly (NaN/inf are not JSON: they raise)."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
