"""The worker's stages, with a small fake pipeline at the seam (the real ones run end to end)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from edge_agent.codecs.limits import Limits
from edge_agent.config.models import RouteSettings
from edge_agent.errors import CancelledError, PayloadError
from edge_agent.pipelines.base import (
    Modality,
    NoOptions,
    Pipeline,
    RequestContext,
    Sample,
    TextSample,
)
from edge_agent.runtime.manifest import ModelManifest, ModelPackage
from edge_agent.transport.inbox import Inbox
from edge_agent.transport.job import Job
from edge_agent.transport.message import InboundMessage
from edge_agent.transport.routing import Match
from edge_agent.worker import Worker

_MANIFEST = {
    "schema": "edge-agent/model/1",
    "family": "fake",
    "task": "echo",
    "modality": "text",
    "licence": "MIT",
    "source": {"package": "x", "version": "1", "build_command": "none"},
    "preferred": {"quality_first": "a", "performance_first": "a"},
    "variants": [
        {
            "id": v,
            "file": f"{v}.bin",
            "sha256": "0",
            "parameters": 1,
            "hard_bytes": 1,
            "soft_bytes": 1,
            "latency_ms": 1.0,
            "quality": 0.5,
        }
        for v in ("a", "b")
    ],
}


class _Echo(Pipeline):
    """Staged echo: records which thread ran each stage and which variant it used."""

    kind: ClassVar[str] = "fake"
    modality: ClassVar[Modality] = "text"
    staged: ClassVar[bool] = True

    def __init__(self) -> None:
        package = ModelPackage(Path("/nonexistent"), ModelManifest.model_validate(_MANIFEST))
        super().__init__("fake", package, NoOptions())
        self._variant: str | None = None
        self.threads: dict[str, set[str]] = {"pre": set(), "infer": set(), "post": set()}
        self.infer_delay = 0.0
        self.fail_on: str | None = None
        self.die_on: str | None = None
        self.cancel_on: str | None = None
        self.reprepared = 0

    @property
    def active_variant(self) -> str | None:
        return self._variant

    def load(self, variant_id: str) -> None:
        self._variant = variant_id

    def unload(self) -> None:
        self._variant = None

    def preprocess(self, sample: Sample, ctx: RequestContext) -> Any:
        self.threads["pre"].add(threading.current_thread().name)
        assert isinstance(sample, TextSample)
        return (self._variant, sample.text)

    def infer(self, prepared: Any, ctx: RequestContext) -> Any:
        self.threads["infer"].add(threading.current_thread().name)
        variant, text = prepared
        if variant != self._variant:
            self.reprepared += 1
            variant = self._variant
        if text == self.fail_on:
            raise RuntimeError("boom")
        if text == self.die_on:
            raise SystemExit("thread dies")  # not an Exception: ends the thread
        if text == self.cancel_on:
            raise CancelledError
        time.sleep(self.infer_delay)
        return (variant, text)

    def postprocess(self, raw: Any, ctx: RequestContext) -> list[dict[str, Any]]:
        self.threads["post"].add(threading.current_thread().name)
        variant, text = raw
        return [{"text": text, "variant": variant}]

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        return self.postprocess(self.infer(self.preprocess(sample, ctx), ctx), ctx)


class _Harness:
    def __init__(self, pipeline: _Echo) -> None:
        self.pipeline = pipeline
        self.inbox: Inbox[Job] = Inbox(64)
        self.results: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, str]] = []
        self.acked: list[str] = []
        self.lock = threading.Lock()
        route = RouteSettings(topic="t/+/x", pipeline="fake")
        self.match = Match("r", route, "s")
        self.worker = Worker(
            pipeline,
            self.inbox,
            limits=Limits(),
            route_options={"r": NoOptions()},
            on_results=self._on_results,
            on_error=self._on_error,
            on_done=lambda job, timings, n: None,
        )

    def _on_results(
        self, job: Job, ctx: RequestContext, results: list[dict[str, Any]], variant: str | None
    ) -> bool:
        with self.lock:
            self.results.extend((job.request_id, r) for r in results)
        return True

    def _on_error(self, job: Job, exc: PayloadError) -> None:
        with self.lock:
            self.errors.append((job.request_id, exc.reason.value))

    def send(self, text: str, rid: str) -> None:
        msg = InboundMessage(topic="t/s/x", payload=text.encode(), qos=1, content_type="text/plain")

        def ack() -> None:
            with self.lock:
                self.acked.append(rid)

        self.inbox.put(Job(msg, self.match, rid, ack))

    def wait(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.results) + len(self.errors) >= n:
                    return
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.results)} results, {len(self.errors)} errors")


@pytest.fixture
def harness() -> Any:
    pipeline = _Echo()
    pipeline.load("a")
    h = _Harness(pipeline)
    h.worker.start()
    yield h
    h.worker.stop(time.monotonic())
    h.worker.join(5)


def test_stages_run_on_three_threads_and_keep_order(harness: _Harness) -> None:
    for i in range(30):
        harness.send(f"m{i}", f"r{i}")
    harness.wait(30)
    assert [rid for rid, _ in harness.results] == [f"r{i}" for i in range(30)]
    assert harness.acked == [f"r{i}" for i in range(30)]
    names = harness.pipeline.threads
    assert names["pre"] == {"prepare-fake"}
    assert names["infer"] == {"worker-fake"}
    assert names["post"] == {"finish-fake"}


def test_an_exception_in_one_message_answers_it_and_the_next_is_served(
    harness: _Harness,
) -> None:
    harness.pipeline.fail_on = "bad"
    harness.send("bad", "r0")
    harness.send("good", "r1")
    harness.wait(2)
    assert harness.errors == [("r0", "inference_failed")]
    assert [rid for rid, _ in harness.results] == ["r1"]
    assert harness.worker.alive
    assert harness.worker.errors == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_stage_thread_shows_in_alive(harness: _Harness) -> None:
    assert harness.worker.alive
    harness.pipeline.die_on = "die"
    harness.send("die", "r0")
    deadline = time.monotonic() + 5
    while harness.worker.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not harness.worker.alive


def test_cancelled_message_is_neither_answered_nor_acknowledged(harness: _Harness) -> None:
    harness.pipeline.cancel_on = "long"
    harness.send("long", "r0")
    harness.send("after", "r1")
    harness.wait(1)
    time.sleep(0.2)
    assert [rid for rid, _ in harness.results] == ["r1"]
    assert harness.errors == []
    assert harness.acked == ["r1"]


def test_swap_while_stages_hold_messages_loses_none_and_answers_none_twice(
    harness: _Harness,
) -> None:
    harness.pipeline.infer_delay = 0.01
    for i in range(10):
        harness.send(f"m{i}", f"r{i}")
    harness.wait(3)
    harness.worker.request_variant("b")
    for i in range(10, 40):
        harness.send(f"m{i}", f"r{i}")
    harness.wait(40)
    time.sleep(0.2)
    ids = [rid for rid, _ in harness.results]
    assert ids == [f"r{i}" for i in range(40)]
    variants = [r["variant"] for _, r in harness.results]
    assert variants[0] == "a"
    assert variants[-1] == "b"
    # Once switched, never back: every answer after the first "b" is "b".
    assert "a" not in variants[variants.index("b") :]
