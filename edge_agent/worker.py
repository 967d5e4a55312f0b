"""One worker thread per pipeline: it owns the interpreter and answers messages.

This is the one place that catches broad exceptions per message: a bad payload
or a failing model produces an error message, never a dead worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel

from edge_agent.codecs.decode import decode
from edge_agent.codecs.limits import Limits
from edge_agent.errors import CancelledError, ModelError, PayloadError, Reason
from edge_agent.pipelines.base import Pipeline, RequestContext, StageTimer
from edge_agent.transport.inbox import Inbox
from edge_agent.transport.mqtt import InboundMessage
from edge_agent.transport.routing import Match

__all__ = ["Job", "Worker", "run_payload"]

log = structlog.get_logger("edge_agent.worker")


@dataclass(frozen=True, slots=True)
class Job:
    """A routed message waiting in an inbox.

    Attributes:
        message: The MQTT message.
        match: Its route and sensor.
        request_id: Correlation id.
        ack: Acknowledges the message to the broker (after it was answered or rejected).
        origin: For a message forwarded along a chain: where it came from
            (``pipeline``, ``route``); None for a message from the broker.
    """

    message: InboundMessage
    match: Match
    request_id: str
    ack: Callable[[], None]
    origin: Mapping[str, Any] | None = None


def run_payload(
    pipeline: Pipeline,
    payload: bytes,
    ctx: RequestContext,
    *,
    content_type: str | None,
    declared_format: str | None,
    limits: Limits,
) -> list[dict[str, Any]]:
    """Decode one payload and run the pipeline on it (the daemon's and ``infer``'s path).

    Raises:
        PayloadError: The payload was rejected.
        ModelError: No variant is loaded.
    """
    with ctx.timer.stage("decode"):
        sample = decode(
            payload,
            modality=pipeline.modality,
            content_type=content_type,
            declared_format=declared_format,
            limits=limits,
            audio_rate=pipeline.audio_rate,
        )
    if pipeline.active_variant is None:
        raise ModelError("no variant loaded", family=pipeline.package.family)
    return pipeline.process(sample, ctx)


class Worker:
    """Runs one pipeline on its own thread.

    Args:
        pipeline: The pipeline (owned by this worker from ``start`` on).
        inbox: Its inbox.
        limits: Payload limits.
        route_options: Validated options per route name.
        on_results: ``(job, ctx, results, variant)`` after a message produced results.
        on_error: ``(job, error)`` after a message was rejected.
        on_done: ``(job, timings_ms, published)`` after every processed message.
        on_partial: ``(job, seq, data)`` for each partial result, as it is produced.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        inbox: Inbox[Job],
        *,
        limits: Limits,
        route_options: Mapping[str, BaseModel],
        on_results: Callable[[Job, RequestContext, list[dict[str, Any]], str | None], None],
        on_error: Callable[[Job, PayloadError], None],
        on_done: Callable[[Job, Mapping[str, float], int], None],
        on_partial: Callable[[Job, int, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.inbox = inbox
        self.limits = limits
        self.route_options = dict(route_options)
        self._on_results = on_results
        self._on_error = on_error
        self._on_done = on_done
        self._on_partial = on_partial
        self._stop = threading.Event()
        self._deadline: float | None = None
        self._control: list[tuple[str, str | None, threading.Event, list[BaseException]]] = []
        self._control_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._control_ready = threading.Event()
        self.on_loaded: Callable[[Worker, str | None], None] | None = None
        self.on_unloaded_message: Callable[[Worker], None] | None = None
        self.load_wait_s = 5.0  # sizing is woken by the message; a load takes < 1 s
        self.last_message = time.monotonic()
        self.busy_since: float | None = None
        self.unavailable: str | None = None
        """Why no variant of the family can load here (set by the daemon); None: sized."""

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(
            target=self._run, name=f"worker-{self.pipeline.name}", daemon=True
        )
        self._thread.start()

    def request_variant(self, variant: str | None, *, wait: float | None = None) -> None:
        """Ask the worker to switch to ``variant`` (None: unload) between two messages.

        Args:
            variant: Variant id, or None to unload.
            wait: Seconds to wait for the switch; None returns at once.

        Raises:
            ModelError: When waiting and the variant failed to load.
        """
        done = threading.Event()
        errors: list[BaseException] = []
        with self._control_lock:
            self._control.append(("variant", variant, done, errors))
        self._control_ready.set()
        self.inbox.wake()
        if wait is not None:
            if not done.wait(wait):
                raise ModelError(
                    "variant switch timed out", family=self.pipeline.package.family, variant=variant
                )
            if errors:
                raise errors[0]

    def prepare_variants(self, variant_ids: list[str], *, wait: float) -> None:
        """Have the worker materialise variants ahead of time (see ``Pipeline.prepare``)."""
        done = threading.Event()
        errors: list[BaseException] = []
        with self._control_lock:
            self._control.append(("prepare", ",".join(variant_ids), done, errors))
        self._control_ready.set()
        self.inbox.wake()
        if not done.wait(wait):
            raise ModelError("preparing variants timed out", family=self.pipeline.package.family)

    def stop(self, deadline: float) -> None:
        """Drain the inbox until ``deadline`` (monotonic), then stop."""
        self._deadline = deadline
        self._stop.set()
        self.inbox.wake()

    def cancel(self) -> None:
        """Cut a long-running message short (shutdown); it stays unacknowledged."""
        self.pipeline.cancel()

    def join(self, timeout: float) -> bool:
        """Wait for the thread; True when it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- thread ------------------------------------------------------------------------------

    def _apply_control(self) -> None:
        with self._control_lock:
            pending, self._control = self._control, []
            self._control_ready.clear()
        for kind, variant, done, errors in pending:
            try:
                if kind == "prepare":
                    self.pipeline.prepare((variant or "").split(","))
                    continue
                if variant is None:
                    self.pipeline.unload()
                elif variant != self.pipeline.active_variant:
                    self.pipeline.load(variant)
                if self.on_loaded is not None:
                    self.on_loaded(self, self.pipeline.active_variant)
            except Exception as exc:
                log.exception("variant_switch_failed", pipeline=self.pipeline.name, to=variant)
                errors.append(exc)
            finally:
                done.set()

    def _run(self) -> None:
        while True:
            self._apply_control()
            if self._stop.is_set():
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    break
                job = self.inbox.get(0.0)
                if job is None:
                    break
            else:
                job = self.inbox.get(0.25)
                if job is None:
                    continue
            self._handle(job)
        left = len(self.inbox)
        if left:
            # Not acknowledged: the broker redelivers them to our next session.
            log.warning("inbox_not_drained", pipeline=self.pipeline.name, left=left)

    def _ensure_loaded(self) -> None:
        """An unloaded (idle or squeezed) pipeline waits for sizing to load a variant."""
        if self.pipeline.active_variant is not None:
            return
        if self.unavailable is not None:
            raise ModelError(self.unavailable, family=self.pipeline.package.family)
        if self.on_unloaded_message is not None:
            self.on_unloaded_message(self)
        deadline = time.monotonic() + self.load_wait_s
        while self.pipeline.active_variant is None and time.monotonic() < deadline:
            self._control_ready.wait(0.05)
            self._apply_control()
        if self.pipeline.active_variant is None:
            raise ModelError(
                "no variant loaded: the memory budget fits none",
                family=self.pipeline.package.family,
            )

    def _handle(self, job: Job) -> None:
        msg, match = job.message, job.match
        timer = StageTimer()
        ctx = RequestContext(
            topic=msg.topic,
            sensor=match.sensor,
            route=match.route,
            request_id=job.request_id,
            route_options=self.route_options[match.route],
            user_properties=dict(msg.user_properties),
            timer=timer,
            fields=dict(job.origin) if job.origin else {},
        )
        if self._on_partial is not None:
            on_partial = self._on_partial
            ctx.outputs.partial_sink = lambda seq, data: on_partial(job, seq, data)
        self.busy_since = time.monotonic()
        self.last_message = self.busy_since
        published = 0
        answered = True
        try:
            self._ensure_loaded()
            results = run_payload(
                self.pipeline,
                msg.payload,
                ctx,
                content_type=msg.content_type,
                declared_format=match.settings.format,
                limits=self.limits,
            )
            if results or ctx.outputs.events or ctx.outputs.states:
                self._on_results(job, ctx, results, self.pipeline.active_variant)
                published = len(results)
        except CancelledError:
            # Not answered and not acknowledged: the broker redelivers it next session.
            log.warning("message_cancelled", pipeline=self.pipeline.name, request_id=job.request_id)
            answered = False
        except PayloadError as exc:
            self._reject(job, exc)
        except ModelError as exc:
            log.exception(
                "model_unavailable",
                pipeline=self.pipeline.name,
                error=str(exc),
                request_id=job.request_id,
            )
            self._reject(job, PayloadError(Reason.MODEL_UNAVAILABLE, exc.reason))
        except Exception as exc:
            log.exception(
                "inference_failed",
                pipeline=self.pipeline.name,
                request_id=job.request_id,
                error_type=type(exc).__name__,
            )
            self._reject(job, PayloadError(Reason.INFERENCE_FAILED, type(exc).__name__))
        finally:
            self.busy_since = None
            if answered:
                self._on_done(
                    job,
                    {**timer.stages, "total": (time.monotonic() - msg.received) * 1000},
                    published,
                )
                job.ack()

    def _reject(self, job: Job, exc: PayloadError) -> None:
        exc.topic = exc.topic or job.message.topic
        exc.sensor = exc.sensor or job.match.sensor
        exc.size = exc.size if exc.size is not None else len(job.message.payload)
        self._on_error(job, exc)
