"""benchmarks/measure_model.py measures a real faces variant in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "benchmarks" / "measure_model.py"
MODEL = REPO / "models" / "faces" / "face_detection_short_range_int8.tflite"


@pytest.fixture(scope="module")
def figures() -> dict[str, object]:
    """The JSON printed for the short-range int8 variant with 2 threads."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(MODEL), "--threads", "2", "--runs", "5"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_reports_every_documented_field(figures: dict[str, object]) -> None:
    assert {
        "file_bytes",
        "hard_bytes",
        "soft_bytes",
        "model_rss_bytes",
        "p50_ms",
        "p90_ms",
        "threads",
    } <= set(figures)


def test_file_bytes_is_the_file_size(figures: dict[str, object]) -> None:
    assert figures["file_bytes"] == MODEL.stat().st_size


def test_threads_are_passed_through(figures: dict[str, object]) -> None:
    assert figures["threads"] == 2


def test_memory_and_latency_are_positive(figures: dict[str, object]) -> None:
    assert isinstance(figures["hard_bytes"], int)
    assert figures["hard_bytes"] > 0
    assert isinstance(figures["p50_ms"], float)
    assert 0 < figures["p50_ms"] <= figures["p90_ms"]  # type: ignore[operator]


def test_the_model_file_is_mapped_not_copied(figures: dict[str, object]) -> None:
    # Interpreter(model_path=...) memory-maps the file: its pages show up as
    # file-backed RSS of the model file itself.
    assert figures["model_rss_bytes"] == pytest.approx(MODEL.stat().st_size, rel=0.05)


def test_a_missing_file_is_an_error() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(REPO / "missing.tflite")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "no such file" in proc.stderr
