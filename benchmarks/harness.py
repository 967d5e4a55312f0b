"""Shared pieces of the end-to-end benchmarks: a private mosquitto, the real daemon,
a collecting client, and the daemon's memory from /proc.

Nothing here is measured by itself; the benchmark scripts import it.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess, toml_dump

FACE = REPO / "tests" / "fixtures" / "images" / "face.jpg"
WAKE = REPO / "tests" / "fixtures" / "wakeword" / "okay_nabu_flite_rms.wav"
DEVICE = "bench"


def props(content_type: str | None, rid: str | None) -> Any:
    """MQTT v5 publish properties with a content type and correlation data."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = Properties(PacketTypes.PUBLISH)
    if content_type:
        p.ContentType = content_type
    if rid:
        p.CorrelationData = rid.encode()
    return p


def rss_of(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile, VmHWM of a process, in bytes."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(rest.split()[0]) * 1024
    return out


def minor_faults(pid: int) -> int:
    """Minor page faults of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[7])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Collector:
    """Counts and times every document the daemon publishes, by kind."""

    sent: dict[str, float] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    stats: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, topic: str, payload: bytes) -> None:
        if "/results/" in topic and not topic.endswith("/partial"):
            doc = json.loads(payload)
            pipeline = doc["pipeline"]
            with self.lock:
                self.results[pipeline] = self.results.get(pipeline, 0) + 1
                t0 = self.sent.pop(doc["request_id"], None)
                if t0 is not None:
                    self.latency.setdefault(pipeline, []).append((time.perf_counter() - t0) * 1000)
        elif topic.endswith("/errors"):
            doc = json.loads(payload)
            with self.lock:
                self.errors[doc["reason"]] = self.errors.get(doc["reason"], 0) + 1
                if doc["reason"] == "inbox_full":
                    self.dropped += int(doc.get("count", 1))
        elif topic.endswith("/stats"):
            with self.lock:
                self.stats.append(json.loads(payload))


@dataclass
class Bench:
    """A running broker + daemon + collecting client."""

    root: Path
    broker: Broker
    daemon: DaemonProcess
    client: TestClient
    collector: Collector

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid

    def publish(
        self,
        topic: str,
        payload: bytes,
        content_type: str | None,
        rid: str,
        *,
        timed: bool = True,
        qos: int = 1,
    ) -> None:
        """Publish without waiting (the collector times publish → result)."""
        if timed:
            with self.collector.lock:
                self.collector.sent[rid] = time.perf_counter()
        self.client.client.publish(topic, payload, qos=qos, properties=props(content_type, rid))


def _pipelines(enabled: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {k: {"kind": k, "enabled": False} for k in ("faces", "text", "wakeword")}
    out.update(enabled)
    return out


# As deploy/mosquitto/edge-agent.conf.in: mosquitto advertises it as its MQTT 5 Receive
# Maximum, which bounds the daemon's answers in flight (mosquitto's default is 20).
SHIPPED_INFLIGHT = "max_inflight_messages 1000\n"


@contextlib.contextmanager
def running(
    pipelines: dict[str, dict[str, Any]],
    *,
    routes: dict[str, dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    broker_conf: str = SHIPPED_INFLIGHT,
    argv_prefix: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Bench]:
    """Start mosquitto (unix socket) and the daemon with these pipelines; yield; stop both."""
    with tempfile.TemporaryDirectory(prefix="ea-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.extra_conf = broker_conf
        broker.start()
        config: dict[str, Any] = {
            "device_id": DEVICE,
            "cache_dir": str(root / "cache"),
            "broker": {"url": broker.unix_url},
            "log": {"format": "json", "level": "warning"},
            "stats": {"interval_s": 1.0},
            "pipelines": _pipelines(pipelines),
        }
        if routes is not None:
            config["routes"] = routes
        config.update(extra or {})
        cfg = root / "bench.toml"
        cfg.write_text(toml_dump(config))
        collector = Collector()
        client = TestClient(broker.unix_url)
        original = client._on_message

        def on_message(c: Any, u: Any, msg: Any) -> None:
            collector.on_message(msg.topic, bytes(msg.payload))
            if msg.topic.endswith("/status"):
                original(c, u, msg)

        client.client.on_message = on_message
        client.subscribe(f"edge-agent/{DEVICE}/#")
        daemon = DaemonProcess(cfg, root, env=env, argv_prefix=argv_prefix)
        daemon.start()
        daemon.wait_online(client, f"edge-agent/{DEVICE}/status", timeout=120)
        try:
            yield Bench(root, broker, daemon, client, collector)
        finally:
            daemon.terminate()
            client.close()
            broker.stop()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]
