"""The Prometheus textfile parses with prometheus_client's parser and matches the stats."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from support.client import TestClient
from support.daemon import DaemonProcess

from edge_agent.health.stats import Stats
from edge_agent.integrations.prometheus import PrometheusSettings, TextfileWriter, render_metrics

IMAGE = Path(__file__).resolve().parents[2] / "tests/fixtures/images/face.jpg"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def stats_doc() -> dict[str, Any]:
    stats = Stats()
    stats.received("faces")
    stats.processed("faces", {"decode": 2.0, "infer": 5.0, "total": 9.0}, 1)
    stats.error("faces", "too_large")
    doc = stats.snapshot()
    doc |= {"schema": "edge-agent/stats/1", "device": "pi", "broker": {"connected": True}}
    doc["pipelines"]["faces"] |= {"variant": "full-float", "family": "faces"}
    doc["sizing"] = {"budget_bytes": 123456789}
    return doc


def test_metrics_follow_the_stats_document() -> None:
    got = samples(render_metrics(stats_doc()))
    faces = (("device", "pi"), ("pipeline", "faces"))
    assert got[("edge_agent_messages_processed_total", faces)] == 1
    assert got[("edge_agent_errors_total", (*faces, ("reason", "too_large")))] == 1
    p50 = (("device", "pi"), ("pipeline", "faces"), ("quantile", "0.5"), ("stage", "infer"))
    assert got[("edge_agent_latency_seconds", p50)] == 0.005
    info = (*faces, ("family", "faces"), ("variant", "full-float"))
    assert got[("edge_agent_variant_info", tuple(sorted(info)))] == 1
    assert got[("edge_agent_sizing_budget_bytes", (("device", "pi"),))] == 123456789
    assert got[("edge_agent_broker_connected", (("device", "pi"),))] == 1


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=30))
def test_label_values_are_escaped(name: str) -> None:
    doc = {"device": name, "pipelines": {name: {"received": 3}}}
    got = samples(render_metrics(doc))
    assert got[("edge_agent_messages_received_total", (("device", name), ("pipeline", name)))] == 3


def test_the_file_is_replaced_atomically_and_failures_are_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "edge_agent.prom"
    writer = TextfileWriter(PrometheusSettings(textfile=path))
    assert writer.write(stats_doc())
    assert writer.write(stats_doc())
    assert [p.name for p in tmp_path.iterdir()] == ["edge_agent.prom"]  # no temporary left
    assert path.stat().st_mode & 0o777 == 0o644
    assert samples(path.read_text())
    missing = TextfileWriter(PrometheusSettings(textfile=tmp_path / "no/such/dir/x.prom"))
    assert missing.write(stats_doc()) is False
    assert TextfileWriter(PrometheusSettings()).write(stats_doc()) is False  # off


def test_the_daemon_writes_the_textfile_after_each_stats(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, tmp_path: Path
) -> None:
    path = tmp_path / "prom" / "edge_agent.prom"
    path.parent.mkdir()
    start_daemon(prometheus={"textfile": str(path)}, stats={"interval_s": 0.5})
    mqtt.publish("sensors/door/image", IMAGE.read_bytes(), content_type="image/jpeg")
    mqtt.on_topic("edge-agent/testdev/results/faces/door")
    stats = mqtt.wait_for(
        lambda m: (
            m.topic == "edge-agent/testdev/stats"
            and m.json()["pipelines"].get("faces", {}).get("processed") == 1
        )
    )[-1].json()
    deadline = time.monotonic() + 10
    key = ("edge_agent_messages_processed_total", (("device", "testdev"), ("pipeline", "faces")))
    while time.monotonic() < deadline:
        got = samples(path.read_text()) if path.exists() else {}
        if got.get(key) == 1:
            break
        time.sleep(0.1)
    assert got[key] == stats["pipelines"]["faces"]["processed"]
    variant = stats["pipelines"]["faces"]["variant"]
    assert any(k[0] == "edge_agent_variant_info" and ("variant", variant) in k[1] for k in got)
