"""Stats: counts, errors by reason and latency percentiles."""

from __future__ import annotations

from edge_agent.health.stats import Stats, process_memory


def test_percentiles_per_stage() -> None:
    stats = Stats()
    for ms in range(1, 101):
        stats.processed("faces", {"infer": float(ms)}, published=1)
    infer = stats.snapshot()["pipelines"]["faces"]["latency_ms"]["infer"]
    assert infer["p50"] == 50.5
    assert infer["p99"] > infer["p95"] > infer["p50"]


def test_errors_by_reason() -> None:
    stats = Stats()
    stats.error("faces", "too_large")
    stats.error("faces", "too_large")
    stats.error("faces", "malformed_image")
    assert stats.snapshot()["pipelines"]["faces"]["errors"] == {
        "too_large": 2,
        "malformed_image": 1,
    }


def test_process_memory_reads_rss() -> None:
    mem = process_memory()
    assert mem["vmrss"] > 0
    assert mem["rssanon"] > 0
