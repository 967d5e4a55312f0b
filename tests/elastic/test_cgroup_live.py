"""The real thing: the daemon in a memory-limited cgroup steps down before the kernel
kills it, answers every message across the swaps, and steps back up after the hold time.

cgroup v1 (this test bench) or v2 (Raspberry Pi OS); needs root. Skips with the reason
when no memory cgroup can be created.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.client import TestClient
from support.daemon import DaemonProcess

MiB = 1024 * 1024
DETAILS = "edge-agent/testdev/status/details"
RESULTS = "edge-agent/testdev/results/text/probe"


class MemoryCgroup:
    """A memory cgroup we create, limit and remove (v1 or v2)."""

    def __init__(self) -> None:
        name = f"edge-agent-test-{uuid.uuid4().hex[:8]}"
        v1 = Path("/sys/fs/cgroup/memory")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "memory.limit_in_bytes").exists() or (v1 / "cgroup.procs").exists():
            self.path, self.version = v1 / name, 1
        elif "memory" in (v2 / "cgroup.subtree_control").read_text(errors="ignore"):
            self.path, self.version = v2 / name, 2
        else:
            raise OSError("no writable memory controller")
        self.path.mkdir()

    def set_limit(self, limit: int) -> None:
        name = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
        (self.path / name).write_text(str(limit))

    def working_set(self) -> int:
        usage_file = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        usage = int((self.path / usage_file).read_text())
        stat = dict(line.split() for line in (self.path / "memory.stat").read_text().splitlines())
        inactive = int(stat.get("total_inactive_file", stat.get("inactive_file", 0)))
        return usage - inactive

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def remove(self) -> None:
        root = self.path.parent
        for pid in self.procs.read_text().split():
            with contextlib.suppress(OSError):
                (root / "cgroup.procs").write_text(pid)
        for _ in range(50):
            try:
                self.path.rmdir()
            except OSError:
                time.sleep(0.1)
            else:
                return


@pytest.fixture
def cgroup() -> Iterator[MemoryCgroup]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a memory cgroup (CI runs as root)")
    try:
        group = MemoryCgroup()
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup here: {exc}")
    group.set_limit(2048 * MiB)
    yield group
    group.remove()


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
        stepped_down_at = time.monotonic()
        assert lowered is not None, "stepped down to nothing: the squeeze skipped every variant"
        assert daemon.proc is not None
        assert daemon.proc.poll() is None
        assert cgroup.oom_kills() == 0
        time.sleep(1.0)
        cgroup.set_limit(2048 * MiB)
        _wait_variant(mqtt, lambda v: v == "xl", 60)
        # Hysteresis: back up only after the budget held with margin for hold_s (the
        # hold may start before the limit is raised, never before the step down).
        stepped_up_after = time.monotonic() - stepped_down_at
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
