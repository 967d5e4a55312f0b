"""Status and stats document parts: the running pipelines, the broker link, sick workers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edge_agent.results.publisher import Publisher
from edge_agent.shards import Entry
from edge_agent.transport.mqtt import MqttTransport

__all__ = ["broker_stats", "pipeline_details", "pipeline_stats", "worker_problems"]


def pipeline_details(entries: Iterable[Entry]) -> dict[str, Any]:
    """Per pipeline: family, variant, shards, and why it cannot run (if so)."""
    return {
        e.name: {
            "family": e.package.family,
            "variant": e.pipeline.active_variant,
            "shards": len(e.shards),
            **({"unavailable": e.worker.unavailable} if e.worker.unavailable else {}),
        }
        for e in entries
    }


def pipeline_stats(doc: dict[str, Any], entries: Iterable[Entry]) -> None:
    """Add inbox, variant and worker figures to each pipeline of a stats document."""
    for entry in entries:
        p = doc["pipelines"].setdefault(entry.name, {})
        p["inbox"] = {
            "waiting": sum(len(s.inbox) for s in entry.shards),
            "capacity": sum(s.inbox.maxsize for s in entry.shards),
            "dropped": sum(s.inbox.dropped for s in entry.shards),
        }
        p["variant"] = entry.pipeline.active_variant
        p["family"] = entry.package.family
        p["shards"] = len(entry.shards)
        p["worker_errors"] = sum(s.worker.errors for s in entry.shards)


def broker_stats(
    transport: MqttTransport | None, publisher: Publisher, broker_dropped: int | None
) -> dict[str, Any]:
    """The broker link: connection, publishing and back-pressure counters."""
    t = transport
    return {
        "connected": bool(t and t.connected),
        "reconnects": max(0, (t.connects - 1) if t else 0),
        "outgoing": t.outgoing if t else 0,
        "published": t.published if t else 0,
        "publish_failures": publisher.failures,
        "backpressure_waits": t.backpressure_waits if t else 0,
        "backpressure_timeouts": t.backpressure_timeouts if t else 0,
        "receive_maximum": t.receive_maximum if t else None,
        "broker_dropped": broker_dropped,
        # copies of one message sent again for an overlapping subscription (not answered)
        "overlap_copies": t.subscriptions.copies_dropped if t else 0,
    }


def worker_problems(entries: Iterable[Entry], *, serving: bool, now: float) -> dict[str, str]:
    """Worker name -> what is wrong with it (empty when all are well).

    A worker is ``dead`` when its thread is gone while the daemon serves, and stuck
    when one message has kept it longer than its family's ``max_busy_s``.
    """
    problems: dict[str, str] = {}
    for entry in entries:
        for shard in entry.shards:
            w = shard.worker
            if not w.alive and serving:
                problems[w.name] = "dead"
            elif w.busy_since is not None and now - w.busy_since > w.pipeline.max_busy_s:
                problems[w.name] = f"stuck for {now - w.busy_since:.0f}s"
    return problems
