"""The real thing: the daemon in a memory-limited cgroup steps down before the kernel
kills it, answers every message across the swaps, and steps back up after the hold time.

cgroup v1 (this test bench) or v2 (Raspberry Pi OS); needs root. Skips with the reason
when no memory cgroup can be created.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cgroup import MemoryCgroup, memory_cgroup
from support.client import TestClient
from support.daemon import DaemonProcess

MiB = 1024 * 1024
DETAILS = "edge-agent/testdev/status/details"
RESULTS = "edge-agent/testdev/results/text/probe"


@pytest.fixture
def cgroup() -> Iterator[MemoryCgroup]:
    with memory_cgroup() as group:
        yield group


def _variant(mqtt: TestClient, since: int) -> str | None:
    docs = [m.json() for m in mqtt.messages[since:] if m.topic == DETAILS]
    return docs[-1]["pipelines"]["text"]["variant"] if docs else None


def _wait_variant(
    mqtt: TestClient, pred: Callable[[str | None], bool], timeout: float
) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = _variant(mqtt, 0)
        if pred(v):
            return v
        time.sleep(0.1)
    raise TimeoutError(f"variant still {_variant(mqtt, 0)}")


def test_steps_down_under_a_lowered_limit_and_back_up_without_losing_messages(
    start_daemon: Callable[..., DaemonProcess],
    mqtt: TestClient,
    cgroup: MemoryCgroup,
    tmp_path: Path,
) -> None:
    wrapper = tmp_path / "in-cgroup.sh"
    wrapper.write_text(f'#!/bin/sh\necho $$ > {cgroup.procs}\nexec "$@"\n')
    wrapper.chmod(0o755)
    hold_s = 4.0
    reserve = 24 * MiB
    daemon = start_daemon(
        argv_prefix=[str(wrapper)],
        pipelines={
            "faces": {"kind": "faces", "enabled": False},
            "text": {"kind": "text"},
            "wakeword": {"kind": "wakeword", "enabled": False},
        },
        elastic={
            "check_interval_s": 0.3,
            "hold_s": hold_s,
            "cgroup_reserve_bytes": reserve,
            "mode": "quality-first",
        },
    )
    top = _wait_variant(mqtt, lambda v: v is not None, 30)
    assert top == "xl"

    sent: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            rid = f"m{i}"
            mqtt.publish(
                "sensors/probe/text",
                b"the basement floor is wet near the boiler",
                correlation_data=rid.encode(),
            )
            sent.append(rid)
            i += 1
            time.sleep(0.05)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        # Lower the limit 1 MiB at a time (the kernel sees a memory-hungry neighbour
        # arriving) until the running variant no longer fits; a smaller one must take
        # over, not nothing. budget = limit - working set - reserve + what models hold.
        limit = cgroup.working_set() + reserve + 4 * MiB
        deadline = time.monotonic() + 90
        while _variant(mqtt, 0) == "xl" and time.monotonic() < deadline:
            limit -= MiB
            cgroup.set_limit(limit)
            time.sleep(1.0)
        lowered = _wait_variant(mqtt, lambda v: v != "xl", 5)
        stepped_down_at = next(  # when the step-down was announced, not when we looked
            m.at
            for m in mqtt.messages
            if m.topic == DETAILS and m.json()["pipelines"]["text"]["variant"] == lowered
        )
        assert lowered is not None, "stepped down to nothing: the squeeze skipped every variant"
        assert daemon.proc is not None
        assert daemon.proc.poll() is None
        assert cgroup.oom_kills() == 0
        time.sleep(1.0)
        cgroup.set_limit(2048 * MiB)
        _wait_variant(mqtt, lambda v: v == "xl", 60)
        # Hysteresis: back up only after the budget held with margin for hold_s (the
        # hold may start before the limit is raised, never before the step down).
        stepped_up_after = (
            next(
                m.at
                for m in mqtt.messages
                if m.topic == DETAILS
                and m.at > stepped_down_at
                and m.json()["pipelines"]["text"]["variant"] == "xl"
            )
            - stepped_down_at
        )
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(10)
    assert lowered != "xl"
    assert stepped_up_after >= hold_s * 0.9
    results = mqtt.wait_for(lambda m: m.topic == RESULTS, count=len(sent), timeout=60)
    answered = [m.json()["request_id"] for m in results]
    assert sorted(answered) == sorted(sent)  # every message answered, none twice
    assert cgroup.oom_kills() == 0
    assert daemon.terminate() == 0
