"""One worker per pipeline: three stage threads around the one thread that owns the model.

    inbox ──▶ [prepare] decode the payload; staged pipelines also preprocess it
          ──▶ [owner]   between messages: swaps; then infer (or ``process``)
          ──▶ [finish]  staged pipelines postprocess; publish; acknowledge; count

Only the owner thread touches the interpreter (LiteRT's rule). Decoding the next
message and publishing the previous one run beside it, so on two cores a JPEG
is decoded while the previous one is inferred. The queues between stages are
small and bounded: when a later stage is slow, the earlier one waits, and the
inbox's drop policy (oldest first) decides what is lost. One thread per stage
keeps every message in arrival order, so stream audio chunks stay in order per
sensor.

Swaps drain nothing: a swap happens on the owner thread between two messages. A
message preprocessed for the old variant is preprocessed again by the owner
(the pipeline checks); one inferred by the old variant is postprocessed with that
variant's own data (the raw output carries it). So none is lost or answered twice.

Each stage catches broad exceptions per message (the one place that does): a
bad payload or a failing model produces an error document, never a dead
thread. A message is acknowledged only after its answer was handed to the
transport, and a cancelled one (shutdown during a long generation) not at all.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel

from edge_agent.codecs.limits import Limits
from edge_agent.errors import CancelledError, ModelError, PayloadError, Reason
from edge_agent.pipelines.base import Pipeline, RequestContext, Sample, StageTimer
from edge_agent.pipelines.run import decode_for
from edge_agent.switches import SwitchQueue
from edge_agent.transport.inbox import Inbox
from edge_agent.transport.job import Job

__all__ = ["Job", "Worker"]

log = structlog.get_logger("edge_agent.worker")

_PREFETCH = 2  # decoded messages waiting for the owner: overlap without hoarding memory
_FINISHING = 4  # inferred messages waiting to be published
_STOP = object()


@dataclass(slots=True)
class _Item:
    """A message moving through the stages."""

    job: Job
    ctx: RequestContext
    sample: Sample | None = None
    prepared: Any = None
    raw: Any = None
    results: list[dict[str, Any]] = field(default_factory=list)
    error: PayloadError | None = None
    cancelled: bool = False
    variant: str | None = None


class Worker:
    """Runs one pipeline: a prepare, an owner and a finish thread.

    Args:
        pipeline: The pipeline (its model is touched by the owner thread only).
        inbox: Its inbox.
        limits: Payload limits.
        route_options: Validated options per route name.
        on_results: ``(job, ctx, results, variant) -> accepted`` after a message
            produced results or side outputs (finish thread).
        on_error: ``(job, error)`` after a message was rejected (finish thread).
        on_done: ``(job, timings_ms, published)`` after every answered message.
        on_partial: ``(job, seq, data)`` for each partial result, as it is produced.
        name: Thread name suffix (a shard of a pipeline gets its own).
        answering: A block in which a message's answer and its acknowledgement are
            made, so they leave together (``MqttTransport.answering``).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        inbox: Inbox[Job],
        *,
        limits: Limits,
        route_options: Mapping[str, BaseModel],
        on_results: Callable[[Job, RequestContext, list[dict[str, Any]], str | None], Any],
        on_error: Callable[[Job, PayloadError], Any],
        on_done: Callable[[Job, Mapping[str, float], int], None],
        on_partial: Callable[[Job, int, Mapping[str, Any]], None] | None = None,
        name: str | None = None,
        answering: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.pipeline = pipeline
        self.inbox = inbox
        self.limits = limits
        self.route_options = dict(route_options)
        self.name = name or pipeline.name
        self._on_results = on_results
        self._on_error = on_error
        self._on_done = on_done
        self._on_partial = on_partial
        self._answering = answering
        self._stop = threading.Event()
        self._deadline: float | None = None
        self._ready: queue.Queue[Any] = queue.Queue(_PREFETCH)
        self.switches = SwitchQueue(pipeline, self.name, self._wake_owner)
        self.switches.on_loaded = self._switched
        self._finished: queue.Queue[Any] = queue.Queue(_FINISHING)
        self._threads: list[threading.Thread] = []
        self.on_loaded: Callable[[Worker, str | None], None] | None = None
        self.on_unloaded_message: Callable[[Worker], None] | None = None
        self.load_wait_s = pipeline.load_wait_s
        self.last_message = time.monotonic()
        self.busy_since: float | None = None
        self.unavailable: str | None = None
        """Why no variant of the family can load here (set by the daemon); None: sized."""
        self.memory_hold: str | None = None
        """Set by sizing while the family is unloaded for lack of memory (the reason)."""
        self.retry_after_s = 60.0
        """Hint sent with model_unavailable while held: how soon memory may bring it back."""
        self.errors = 0
        """Unexpected exceptions caught by a stage (each answered the message)."""
        # Stream chunks are tiny and cheap to decode: handing each to another thread
        # costs more than decoding it where it is used.
        self._inline_decode = pipeline.streaming

    # -- control (any thread) ----------------------------------------------------------------

    def start(self) -> None:
        """Start the stage threads (streaming pipelines decode on the owner thread)."""
        stages = [(self._owner_loop, "worker"), (self._finish_loop, "finish")]
        if not self._inline_decode:
            stages.insert(0, (self._prepare_loop, "prepare"))
        for target, stage in stages:
            thread = threading.Thread(target=target, name=f"{stage}-{self.name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    @property
    def alive(self) -> bool:
        """All stage threads run (False once any died, or after a stop)."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def request_variant(
        self, variant: str | None, *, wait: float | None = None
    ) -> Callable[[float], None]:
        """Ask the owner thread to switch to ``variant`` (None: unload) between two messages.

        Args:
            variant: Variant id, or None to unload.
            wait: Seconds to wait for the switch; None returns at once.

        Returns:
            ``finish(timeout)``: waits for the switch (raising like ``wait`` does), for
            callers that start several switches before waiting for them.

        Raises:
            ModelError: When waiting and the variant failed to load.
        """
        finish = self.switches.request_variant(variant)
        if wait is not None:
            finish(wait)
        return finish

    def prepare_variants(self, variant_ids: list[str], *, wait: float) -> None:
        """Have the owner thread materialise variants ahead of time (``Pipeline.prepare``)."""
        self.switches.prepare(variant_ids, wait=wait)

    def _switched(self, variant: str | None) -> None:
        if self.on_loaded is not None:
            self.on_loaded(self, variant)

    def _wake_owner(self) -> None:
        with contextlib.suppress(queue.Full):  # a full queue wakes the owner anyway
            self._ready.put_nowait(None)

    def stop(self, deadline: float) -> None:
        """Drain the inbox until ``deadline`` (monotonic), then stop."""
        self._deadline = deadline
        self._stop.set()
        self.inbox.wake()

    def cancel(self) -> None:
        """Cut a long-running message short (shutdown); it stays unacknowledged."""
        self.pipeline.cancel()

    def join(self, timeout: float) -> bool:
        """Wait for the stage threads; True when they all ended."""
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    # -- prepare thread ----------------------------------------------------------------------

    def _next_job(self) -> Job | object | None:
        if self._stop.is_set():
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return _STOP
            job = self.inbox.get(0.0)
            return _STOP if job is None else job
        return self.inbox.get(0.25)

    def _prepare_loop(self) -> None:
        while True:
            job = self._next_job()
            if job is _STOP:
                break
            if not isinstance(job, Job):
                continue
            try:
                item = self._prepare(job)
            except Exception as exc:  # the stage's catch-all: answer, never die
                item = self._crashed(job, "prepare", exc)
            self._ready.put(item)
        self._ready.put(_STOP)
        left = len(self.inbox)
        if left:
            # Not acknowledged: the broker redelivers them to our next session.
            log.warning("inbox_not_drained", pipeline=self.name, left=left)

    def _prepare(self, job: Job) -> _Item:
        msg, match = job.message, job.match
        ctx = RequestContext(
            topic=msg.topic,
            sensor=match.sensor,
            route=match.route,
            request_id=job.request_id,
            route_options=self.route_options[match.route],
            user_properties=dict(msg.user_properties),
            timer=StageTimer(),
            fields=dict(job.origin) if job.origin else {},
        )
        if self._on_partial is not None:
            on_partial = self._on_partial
            ctx.outputs.partial_sink = lambda seq, data: on_partial(job, seq, data)
        item = _Item(job, ctx)
        if job.problem is not None:
            item.error = job.problem
            return item
        try:
            with ctx.timer.stage("decode"):
                item.sample = decode_for(
                    self.pipeline,
                    msg.payload,
                    content_type=msg.content_type,
                    declared_format=match.settings.format,
                    limits=self.limits,
                )
            if self.pipeline.staged and self.pipeline.active_variant is not None:
                item.prepared = self.pipeline.preprocess(item.sample, ctx)
        except PayloadError as exc:
            item.error = exc
        return item

    # -- owner thread ------------------------------------------------------------------------

    def _next_item(self) -> _Item | object | None:
        """The next message for the owner: from the prepare thread, or decoded here."""
        if not self._inline_decode:
            try:
                got: object = self._ready.get(timeout=0.25)
            except queue.Empty:
                return None
            return got
        job = self._next_job()
        if job is _STOP or not isinstance(job, Job):
            return job if job is _STOP else None
        try:
            return self._prepare(job)
        except Exception as exc:  # the stage's catch-all: answer, never die
            return self._crashed(job, "prepare", exc)

    def _owner_loop(self) -> None:
        while True:
            self.switches.apply()
            item = self._next_item()
            if item is _STOP:
                break
            if not isinstance(item, _Item):
                continue  # a timeout or a control wake-up
            try:
                self._infer(item)
            except Exception as exc:  # the stage's catch-all: answer, never die
                item = self._crashed(item.job, "infer", exc, item)
            finally:
                self.busy_since = None
            if self._silent(item):
                self._done(item, 0)  # nothing to publish: no hand-off to the finish thread
            else:
                self._finished.put(item)
        self.switches.apply()
        if self._inline_decode:
            left = len(self.inbox)
            if left:
                log.warning("inbox_not_drained", pipeline=self.name, left=left)
        self._finished.put(_STOP)

    @staticmethod
    def _silent(item: _Item) -> bool:
        """A message answered by silence (a stream chunk without a detection)."""
        outputs = item.ctx.outputs
        return (
            item.error is None
            and item.raw is None
            and not item.cancelled
            and not item.results
            and not outputs.events
            and not outputs.states
        )

    def _infer(self, item: _Item) -> None:
        if item.error is not None:
            return
        if item.sample is None:  # cannot happen: _prepare sets a sample or an error
            item.error = PayloadError(Reason.INFERENCE_FAILED, "no decoded sample")
            return
        sample = item.sample
        self.busy_since = time.monotonic()
        self.last_message = self.busy_since
        pipeline = self.pipeline
        try:
            self._ensure_loaded(item.job)
            item.variant = pipeline.active_variant
            if pipeline.staged:
                if item.prepared is None:
                    item.prepared = pipeline.preprocess(sample, item.ctx)
                item.raw = pipeline.infer(item.prepared, item.ctx)
            else:
                item.results = pipeline.process(sample, item.ctx)
        except CancelledError:
            item.cancelled = True
        except PayloadError as exc:
            item.error = exc
        except ModelError as exc:
            log.warning(
                "model_unavailable",
                pipeline=self.name,
                error=str(exc),
                request_id=item.job.request_id,
            )
            item.error = PayloadError(Reason.MODEL_UNAVAILABLE, exc.reason)

    def _ensure_loaded(self, job: Job) -> None:
        """An unloaded pipeline waits for sizing to load a variant, or is refused.

        Idle or on demand, the message wakes sizing and waits (a load takes < 1 s).
        Unloaded for lack of memory, the route decides: ``reject`` answers
        ``model_unavailable`` with ``retry_after_s`` at once; ``wait`` keeps the
        message (the pipeline's later ones wait behind it) until the family is back
        or ``wait_s`` after its arrival.

        Raises:
            PayloadError: model_unavailable.
        """
        if self.pipeline.active_variant is not None:
            return
        family = self.pipeline.package.family
        if self.unavailable is not None:
            raise PayloadError(Reason.MODEL_UNAVAILABLE, self.unavailable)
        route = job.match.settings
        if self.memory_hold is not None and route.when_unloaded == "reject":
            raise self._unavailable(f"{family} is unloaded for lack of memory")
        if self.on_unloaded_message is not None:
            self.on_unloaded_message(self)
        # Held off: up to wait_s after the message arrived. Loading (idle, on demand):
        # as long as a load may take (a language model's can take seconds), capped the same.
        if self.memory_hold is not None:
            deadline = job.message.received + route.wait_s
        else:
            deadline = time.monotonic() + max(self.load_wait_s, route.wait_s)
        if not self.switches.wait_loaded(deadline, self._stop):
            raise self._unavailable(f"no variant of {family} fits the memory budget")

    def _unavailable(self, detail: str) -> PayloadError:
        exc = PayloadError(Reason.MODEL_UNAVAILABLE, detail)
        exc.retry_after_s = self.retry_after_s
        return exc

    # -- finish thread -----------------------------------------------------------------------

    def _finish_loop(self) -> None:
        while True:
            item = self._finished.get()
            if item is _STOP:
                break
            with self._answering():
                try:
                    self._finish(item)
                except Exception as exc:  # the stage's catch-all: never die, still acknowledge
                    self.errors += 1
                    log.exception(
                        "finish_failed", pipeline=self.name, error_type=type(exc).__name__
                    )
                    item.job.ack()

    def _finish(self, item: _Item) -> None:
        job, ctx = item.job, item.ctx
        if item.cancelled:
            # Not answered and not acknowledged: the broker redelivers it next session.
            log.warning("message_cancelled", pipeline=self.name, request_id=job.request_id)
            return
        if item.error is None and item.raw is not None:
            try:
                item.results = self.pipeline.postprocess(item.raw, ctx)
            except PayloadError as exc:
                item.error = exc
            except Exception as exc:  # broad on purpose: a decoding bug answers, never kills
                item = self._crashed(job, "postprocess", exc, item)
        published = 0
        if item.error is not None:
            self._reject(job, item.error)
        elif item.results or ctx.outputs.events or ctx.outputs.states:
            self._on_results(job, ctx, item.results, item.variant)
            published = len(item.results)
        self._done(item, published)

    def _done(self, item: _Item, published: int) -> None:
        job = item.job
        timings = {
            **item.ctx.timer.stages,
            "total": (time.monotonic() - job.message.received) * 1000,
        }
        self._on_done(job, timings, published)
        job.ack()

    # -- errors ------------------------------------------------------------------------------

    def _crashed(self, job: Job, stage: str, exc: Exception, item: _Item | None = None) -> _Item:
        self.errors += 1
        # No message and no traceback text: either can echo payload bytes or a
        # property (a bad `seq` did); the innermost frame says where it broke.
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        log.error(
            "inference_failed",
            pipeline=self.name,
            stage=stage,
            request_id=job.request_id,
            error_type=type(exc).__name__,
            where=where,
        )
        out = item or _Item(
            job,
            RequestContext(
                topic=job.message.topic,
                sensor=job.match.sensor,
                route=job.match.route,
                request_id=job.request_id,
                route_options=self.route_options[job.match.route],
            ),
        )
        out.error = PayloadError(Reason.INFERENCE_FAILED, type(exc).__name__)
        out.raw = None
        return out

    def _reject(self, job: Job, exc: PayloadError) -> None:
        exc.topic = exc.topic or job.message.topic
        exc.sensor = exc.sensor or job.match.sensor
        exc.size = exc.size if exc.size is not None else len(job.message.payload)
        self._on_error(job, exc)
