"""Native runtime lines on file descriptor 2 become structured events; stdout stays data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.logs import classify_native_line

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO / "tests/fixtures/images/face.jpg"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _events(stderr: str) -> list[dict[str, object]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON, or this raises


def test_a_litert_load_writes_no_raw_line_to_stderr(tmp_path: Path) -> None:
    done = _run(
        "-m",
        "edge_agent",
        "infer",
        "--pipeline",
        "faces",
        "--log-level",
        "debug",
        "--set",
        "log.format=json",
        "--set",
        f"cache_dir={tmp_path}",
        str(IMAGE),
    )
    assert done.returncode == 0, done.stderr
    assert "INFO: Created TensorFlow Lite" not in done.stderr
    native = [e for e in _events(done.stderr) if e["event"] == "native_log"]
    assert any("XNNPACK" in str(e["line"]) for e in native), native
    assert all(e["level"] == "debug" for e in native if e.get("native_level") == "info")


def test_native_warnings_are_warnings_and_python_errors_still_reach_stderr() -> None:
    script = (
        "import os, sys, time\n"
        "from edge_agent.logs import configure_logging\n"
        "configure_logging('info', 'json', capture_native=True)\n"
        "os.write(2, b'INFO: quiet at info level\\n')\n"
        "os.write(2, b'WARNING: something native\\n')\n"
        "os.write(2, b'E0101 12:00:00.000000 42 engine.cc:7] native error\\n')\n"
        "time.sleep(0.5)\n"
        "print('python stderr', file=sys.stderr)\n"
    )
    done = _run("-c", script)
    assert done.returncode == 0, done.stderr
    *json_lines, plain = [line for line in done.stderr.splitlines() if line.strip()]
    events = _events("\n".join(json_lines))
    assert [(e["level"], e["line"]) for e in events] == [
        ("warning", "something native"),
        ("error", "native error"),
    ]
    assert events[1]["where"] == "engine.cc:7"
    assert plain == "python stderr"  # sys.stderr is the real one, not the pipe
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", "debug"),
        (
            "WARNING: Attempting to use a delegate that only supports static-sized tensors",
            "warning",
        ),
        ("ERROR: failed to allocate", "error"),
        ("I0000 00:00:1733 123 litert_lm.cc:12] loaded", "debug"),
        ("W0000 00:00:1733 123 engine.cc:9] slow", "warning"),
        ("  continuation of a native message", "debug"),
    ],
)
def test_native_lines_are_classified(line: str, level: str) -> None:
    assert classify_native_line(line)[0] == level
