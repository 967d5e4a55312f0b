"""SwitchQueue: switches queued by one thread, applied by the owner, errors handed back."""

from __future__ import annotations

import threading
import time

import pytest

from edge_agent.errors import CancelledError, ModelError
from edge_agent.switches import SwitchQueue
from tests.test_worker import _Echo


class _Flaky(_Echo):
    def load(self, variant_id: str) -> None:
        if variant_id == "b":
            raise ModelError("file gone", family="fake", variant="b")
        super().load(variant_id)


def _queue() -> tuple[SwitchQueue, list[int]]:
    wakes: list[int] = []
    return SwitchQueue(_Flaky(), "fake", lambda: wakes.append(1)), wakes


def test_a_switch_waits_for_the_owner_and_wakes_it() -> None:
    switches, wakes = _queue()
    finish = switches.request_variant("a")
    assert wakes == [1]
    assert switches.pipeline.active_variant is None
    switches.apply()
    finish(0.0)
    assert switches.pipeline.active_variant == "a"


def test_a_failed_load_reaches_the_requester() -> None:
    switches, _ = _queue()
    finish = switches.request_variant("b")
    switches.apply()  # never raises on the owner thread
    with pytest.raises(ModelError, match="file gone"):
        finish(0.0)


def test_an_unapplied_switch_times_out() -> None:
    switches, _ = _queue()
    with pytest.raises(ModelError, match="timed out"):
        switches.request_variant("a")(0.01)


def test_switches_apply_in_order() -> None:
    switches, _ = _queue()
    seen: list[str | None] = []
    switches.on_loaded = seen.append
    for variant in ("a", None, "a"):
        switches.request_variant(variant)
    switches.apply()
    assert seen == ["a", None, "a"]


def test_waiting_for_a_load_ends_when_another_thread_asks_for_one() -> None:
    switches, _ = _queue()
    threading.Timer(0.05, lambda: switches.request_variant("a")).start()
    assert switches.wait_loaded(time.monotonic() + 5.0, threading.Event())


def test_waiting_for_a_load_gives_up_at_the_deadline() -> None:
    switches, _ = _queue()
    assert not switches.wait_loaded(time.monotonic() + 0.1, threading.Event())


def test_waiting_for_a_load_is_cancelled_by_shutdown() -> None:
    switches, _ = _queue()
    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError):
        switches.wait_loaded(time.monotonic() + 5.0, stop)
