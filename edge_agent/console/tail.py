"""``edge-agent tail [--pipeline P]``: follow results, events and errors live.

One line per document (``--json``: the documents themselves, one per line), until
Ctrl-C or ``--count`` documents; for debugging a real installation.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import IO

import paho.mqtt.client as paho

from edge_agent.config.models import AgentSettings
from edge_agent.console.client import OperatorClient
from edge_agent.console.summary import summary_line
from edge_agent.results.schema import Topics

__all__ = ["tail", "tail_topics"]


def tail_topics(topics: Topics, pipeline: str | None) -> list[str]:
    """The filters to follow: results, events and errors (of one pipeline, if given)."""
    level = pipeline or "+"
    return [f"{topics.base}/results/{level}/+", f"{topics.base}/events/{level}/+", topics.errors]


def tail(
    settings: AgentSettings,
    out: IO[str],
    *,
    pipeline: str | None = None,
    as_json: bool = False,
    count: int = 0,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> int:
    """Print documents as they arrive; returns how many were printed.

    Args:
        settings: Effective settings (broker, prefix, device id).
        out: Where lines go.
        pipeline: Only this pipeline's results and events (errors always).
        as_json: One JSON document per line instead of a summary.
        count: Stop after this many documents (0: until ``stop`` or Ctrl-C).
        stop: Set to stop.
        ready: Set once subscribed (tests).

    Raises:
        TransportError: The broker cannot be reached.
    """
    topics = Topics(settings.topic_prefix, settings.device_id)
    inbox: queue.Queue[bytes] = queue.Queue()

    def on_message(msg: paho.MQTTMessage) -> None:
        inbox.put(bytes(msg.payload))  # errors carry no pipeline field: all of them are shown

    client = OperatorClient(settings.broker, on_message, "tail")
    client.connect()
    printed = 0
    stop = stop or threading.Event()
    try:
        client.subscribe(tail_topics(topics, pipeline))
        if ready is not None:
            ready.set()
        while not stop.is_set() and (count == 0 or printed < count):
            try:
                payload = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                doc = json.loads(payload)
            except ValueError:
                continue
            line = json.dumps(doc, separators=(",", ":")) if as_json else summary_line(doc)
            out.write(f"{time.strftime('%H:%M:%S')} {line}\n" if not as_json else line + "\n")
            out.flush()
            printed += 1
    finally:
        client.close()
    return printed
