"""The sizing loop with a fake probe and a fake clock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from structlog.testing import capture_logs

from edge_agent.elastic.controller import SizingController
from edge_agent.elastic.decision import Decision
from edge_agent.elastic.policy import SizingPolicy
from edge_agent.elastic.probe import MemorySnapshot
from edge_agent.elastic.profile import FamilyProfile, VariantOption
from edge_agent.elastic.settings import ElasticSettings

MiB = 1024**2
RESERVE = 64 * MiB


def faces() -> FamilyProfile:
    return FamilyProfile(
        "faces",
        (
            VariantOption("small", 10 * MiB, 1.0, 0.7),
            VariantOption("mid", 30 * MiB, 3.0, 0.85),
            VariantOption("big", 80 * MiB, 9.0, 0.95),
        ),
        quality_first="big",
    )


def text() -> FamilyProfile:
    return FamilyProfile(
        "text",
        (VariantOption("t-small", 20 * MiB, 2.0, 0.6), VariantOption("t-big", 60 * MiB, 6.0, 0.9)),
        quality_first="t-big",
    )


@dataclass
class FakeProbe:
    """Free memory for models = ``free``; the probe adds the reserve back."""

    free: int
    psi: float | None = None

    def read(self) -> MemorySnapshot:
        return MemorySnapshot(
            mem_total=8 * 1024 * MiB, mem_available=self.free + RESERVE, psi_some_avg10=self.psi
        )


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    calls: list[tuple[str, str | None, Decision]] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)

    def __call__(self, family: str, to: str | None, decision: Decision) -> None:
        if family in self.fail:
            raise RuntimeError("load failed")
        self.calls.append((family, to, decision))


def make(
    probe: FakeProbe, *profiles: FamilyProfile, clock: FakeClock | None = None, **kw: Any
) -> tuple[SizingController, Recorder, threading.Event]:
    base: dict[str, Any] = {
        "reserve_bytes": RESERVE,
        "hold_s": 30.0,
        "step_up_margin": 0.0,
        "step_up_margin_bytes": 0,
        "idle_unload_s": None,
    }
    base.update(kw)
    rec, stop = Recorder(), threading.Event()
    ctl = SizingController(
        probe,
        SizingPolicy(ElasticSettings(**base)),
        profiles or (faces(),),
        rec,
        stop,
        clock=clock or FakeClock(),
    )
    return ctl, rec, stop


def test_tick_applies_the_change_and_tracks_current() -> None:
    ctl, rec, _ = make(FakeProbe(free=50 * MiB))
    ctl.tick()
    assert [(f, to) for f, to, _ in rec.calls] == [("faces", "mid")]
    assert ctl.current() == {"faces": "mid"}


def test_unchanged_decisions_are_not_applied() -> None:
    ctl, rec, _ = make(FakeProbe(free=50 * MiB))
    ctl.tick()
    ctl.tick()  # mid now held: free 50 + held 30 -> step-up to big waits for the hold
    assert len(rec.calls) == 1
    assert ctl.latest()[0].reason.value == "hold_time_not_elapsed"


def test_changes_that_free_memory_are_applied_first() -> None:
    probe = FakeProbe(free=500 * MiB)
    ctl, rec, _ = make(probe, faces(), text())
    ctl.set_current("text", "t-big")
    probe.free = 40 * MiB  # budget 40 + 60 held = 100: faces takes big, text must shrink
    ctl.tick()
    assert [(f, to) for f, to, _ in rec.calls] == [("text", "t-small"), ("faces", "big")]


def test_failed_apply_keeps_the_old_variant_and_is_logged() -> None:
    ctl, rec, _ = make(FakeProbe(free=500 * MiB))
    rec.fail.add("faces")
    with capture_logs() as logs:
        ctl.tick()
    assert ctl.current() == {"faces": None}
    failed = [e for e in logs if e["event"] == "sizing_apply_failed"]
    assert failed[0]["family"] == "faces"
    assert failed[0]["error"] == "RuntimeError"


def test_every_decision_is_logged_with_budget_and_need() -> None:
    ctl, _, _ = make(FakeProbe(free=500 * MiB), faces(), text())
    with capture_logs() as logs:
        ctl.tick()
    events = [e for e in logs if e["event"] == "sizing_decision"]
    assert [(e["family"], e["from"], e["to"], e["reason"]) for e in events] == [
        ("faces", None, "big", "fits"),
        ("text", None, "t-big", "fits"),
    ]
    assert events[0]["budget"] == 500 * MiB
    assert events[0]["need"] == 80 * MiB


def test_repeated_decisions_log_at_debug() -> None:
    ctl, _, _ = make(FakeProbe(free=500 * MiB))
    ctl.tick()
    with capture_logs() as logs:
        ctl.tick()
    assert [e["log_level"] for e in logs if e["event"] == "sizing_decision"] == ["debug"]


def test_observed_memory_corrects_the_need() -> None:
    probe = FakeProbe(free=100 * MiB)
    ctl, _, _ = make(probe)
    ctl.set_current("faces", "mid")
    ctl.note_observed("faces", "mid", 50 * MiB)
    probe.free = 0  # budget = 0 free + 50 observed held: mid still fits
    (d,) = ctl.tick()
    assert (d.to_variant, d.need_bytes, d.budget_bytes) == ("mid", 50 * MiB, 50 * MiB)


def test_idle_family_is_unloaded_with_the_fake_clock() -> None:
    clock = FakeClock()
    ctl, rec, _ = make(FakeProbe(free=500 * MiB), clock=clock, idle_unload_s=60.0)
    ctl.tick()
    clock.now += 61.0
    ctl.tick()
    assert rec.calls[-1][:2] == ("faces", None)
    assert rec.calls[-1][2].reason.value == "idle"


def test_activity_keeps_a_family_loaded() -> None:
    clock = FakeClock()
    ctl, rec, _ = make(FakeProbe(free=500 * MiB), clock=clock, idle_unload_s=60.0)
    ctl.tick()
    clock.now += 50.0
    ctl.note_activity("faces")
    clock.now += 50.0
    ctl.tick()
    assert len(rec.calls) == 1


def test_stats_show_mode_budget_and_decisions() -> None:
    ctl, _, _ = make(FakeProbe(free=500 * MiB))
    ctl.tick()
    stats = ctl.stats()
    assert stats["mode"] == "quality-first"
    assert stats["budget_bytes"] == 500 * MiB
    assert stats["decisions"][0]["to"] == "big"
    assert stats["memory"]["mem_available"] == 500 * MiB + RESERVE


@pytest.mark.timeout(10)
def test_loop_runs_in_a_named_daemon_thread_and_stops() -> None:
    ctl, rec, stop = make(FakeProbe(free=500 * MiB), check_interval_s=0.05)
    ctl.start()
    deadline = time.monotonic() + 5
    while not rec.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    names = {t.name: t.daemon for t in threading.enumerate()}
    stop.set()
    assert ctl.join(timeout=5)
    assert names.get("edge-agent-sizing") is True
    assert rec.calls


@pytest.mark.timeout(10)
def test_wake_runs_a_check_before_the_interval() -> None:
    clock = FakeClock()
    probe = FakeProbe(free=500 * MiB)
    ctl, rec, stop = make(probe, clock=clock, check_interval_s=60.0, idle_unload_s=60.0)
    ctl.tick()
    clock.now += 100.0
    ctl.tick()  # idle: unloaded
    ctl.start()  # first loop check happens at once; the next one would be in 60 s
    deadline = time.monotonic() + 5
    while len(rec.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    n = len(rec.calls)
    ctl.note_activity("faces", wake=True)
    while len(rec.calls) == n and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    assert ctl.join(timeout=5)
    assert rec.calls[-1][:2] == ("faces", "big")


@pytest.mark.timeout(10)
def test_a_failing_probe_does_not_end_the_loop() -> None:
    calls = []

    class Broken(FakeProbe):
        def read(self) -> MemorySnapshot:
            calls.append(1)
            raise OSError("gone")

    ctl, _, stop = make(Broken(free=0), check_interval_s=0.05)
    with capture_logs() as logs:
        ctl.start()
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        assert ctl.join(timeout=5)
    assert len(calls) >= 2
    assert any(e["event"] == "sizing_check_failed" for e in logs)


def test_loads_go_highest_priority_first_and_frees_lowest_first() -> None:
    from edge_agent.elastic.decision import FamilyConfig
    from edge_agent.elastic.settings import ElasticSettings

    applied: list[tuple[str, str | None]] = []
    small = [
        FamilyProfile(n, (VariantOption("v", 10 * MiB, 1.0, 0.5),), quality_first="v")
        for n in ("low", "mid", "high")
    ]

    class Probe:
        def __init__(self, free: int) -> None:
            self.free = free

        def read(self) -> MemorySnapshot:
            return MemorySnapshot(mem_total=1 << 40, mem_available=self.free)

    probe = Probe(1000 * MiB)
    controller = SizingController(
        probe,
        SizingPolicy(ElasticSettings(reserve_bytes=0, hold_s=0.0, idle_unload_s=None)),
        small,
        lambda family, to, d: applied.append((family, to)),
        threading.Event(),
        families={"low": FamilyConfig(10), "mid": FamilyConfig(50), "high": FamilyConfig(90)},
    )
    controller.tick()
    assert applied == [("high", "v"), ("mid", "v"), ("low", "v")]
    applied.clear()
    probe.free = -1000 * MiB  # everything must go
    controller.tick()
    assert applied == [("low", None), ("mid", None), ("high", None)]
