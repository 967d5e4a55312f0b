"""Everything the daemon publishes about a message: results, events, states, partials, errors.

One place builds the documents of the contract and hands them to the transport,
so the rules hold everywhere: an answer goes to the result (or error) topic and
to the request's response topic only if that passed the checks; a publish the
transport refuses is logged and counted, never silent.

Drops from a full inbox are **aggregated**: the first drop of a (pipeline,
sensor) is reported at once, later ones within ``drop_report_s`` are counted and
reported in one document with ``count`` when the window closes. Under overload
that keeps the error topic from multiplying the load it reports. A dropped
request that named a response topic still gets its own error there (someone is
waiting for that answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import RequestContext
from edge_agent.results.schema import (
    Topics,
    error_document,
    event_document,
    partial_document,
    result_document,
    to_json,
)
from edge_agent.transport.job import Job

__all__ = ["PublishTarget", "Publisher"]

log = structlog.get_logger("edge_agent.publisher")


class PublishTarget(Protocol):
    """What the publisher needs of the transport."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        correlation_data: bytes | None = None,
        content_type: str | None = "application/json",
    ) -> bool:
        """Publish; True once accepted for delivery."""
        ...


@dataclass(slots=True)
class _DropWindow:
    opened: float
    count: int = 0
    last: Job | None = None


class Publisher:
    """Builds and publishes the documents of one device.

    Args:
        topics: The device's topics.
        device: Device id.
        qos: QoS of everything published.
        drop_report_s: Window over which drops of one (pipeline, sensor) are aggregated.
        clock: Monotonic clock.
    """

    def __init__(
        self,
        topics: Topics,
        device: str,
        *,
        qos: int = 1,
        drop_report_s: float = 1.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.topics = topics
        self.device = device
        self.qos = qos
        self.drop_report_s = drop_report_s
        self.transport: PublishTarget | None = None
        self.failures = 0
        self._clock = clock
        self._drops: dict[tuple[str, str], _DropWindow] = {}
        self._lock = threading.Lock()

    # -- low level -------------------------------------------------------------------

    def publish_doc(
        self,
        topic: str,
        doc: Mapping[str, Any],
        *,
        corr: bytes | None = None,
        retain: bool = False,
    ) -> bool:
        """Publish a JSON document; False (logged, counted) when it was refused."""
        return self._send(topic, to_json(doc), corr=corr, retain=retain)

    def publish_text(self, topic: str, payload: bytes, *, retain: bool) -> bool:
        """Publish a plain-text value (status, counts)."""
        return self._send(topic, payload, retain=retain, content_type="text/plain")

    def _send(
        self,
        topic: str,
        payload: bytes,
        *,
        corr: bytes | None = None,
        retain: bool = False,
        content_type: str = "application/json",
    ) -> bool:
        if self.transport is None:
            return False
        ok = self.transport.publish(
            topic,
            payload,
            qos=self.qos,
            retain=retain,
            correlation_data=corr,
            content_type=content_type,
        )
        if not ok:
            self.failures += 1
        return ok

    # -- per message -----------------------------------------------------------------

    def results(
        self,
        job: Job,
        ctx: RequestContext,
        results: list[dict[str, Any]],
        *,
        pipeline: str,
        model: Mapping[str, Any],
    ) -> bool:
        """Publish a message's results, then its events and retained states.

        Returns:
            True when every document was accepted for delivery.
        """
        corr = job.message.correlation_data
        ok = True
        for result in results:
            doc = result_document(
                request_id=job.request_id,
                device=self.device,
                pipeline=pipeline,
                route=job.match.route,
                sensor=job.match.sensor,
                topic=job.message.topic,
                family=model["family"],
                variant=model["variant"],
                task=model["task"],
                timings_ms=ctx.timer.stages,
                result=result,
            )
            if job.origin is not None:
                doc["chain"] = dict(job.origin)
            ok &= self.publish_doc(self.topics.result(pipeline, job.match.sensor), doc, corr=corr)
            if job.reply_to:
                ok &= self.publish_doc(job.reply_to, doc, corr=corr)
        for event in ctx.outputs.events:
            doc = event_document(
                event_type=event.event_type,
                request_id=job.request_id,
                device=self.device,
                pipeline=pipeline,
                route=job.match.route,
                sensor=job.match.sensor,
                model=model,
                data=event.data,
            )
            ok &= self.publish_doc(self.topics.event(pipeline, job.match.sensor), doc)
        for state in ctx.outputs.states:
            ok &= self.publish_text(self.topics.state(state.path), state.payload, retain=True)
        return ok

    def partial(self, job: Job, seq: int, data: Mapping[str, Any]) -> None:
        """Publish one partial result at once."""
        pipeline = job.match.settings.pipeline
        doc = partial_document(
            request_id=job.request_id,
            device=self.device,
            pipeline=pipeline,
            route=job.match.route,
            sensor=job.match.sensor,
            seq=seq,
            data=data,
        )
        corr = job.message.correlation_data
        self.publish_doc(self.topics.partial(pipeline, job.match.sensor), doc, corr=corr)
        if job.reply_to:
            self.publish_doc(job.reply_to, doc, corr=corr)

    def error(self, job: Job, exc: PayloadError, *, count: int | None = None) -> bool:
        """Publish an error document (never the payload); log it."""
        log.warning(
            "payload_rejected",
            reason=exc.reason.value,
            detail=exc.detail,
            topic=_short(exc.topic),
            sensor=_short(exc.sensor),
            size=exc.size,
            request_id=job.request_id,
            pipeline=job.match.settings.pipeline,
            **({"count": count} if count is not None else {}),
        )
        doc = self._error_document(job, exc)
        if count is not None:
            doc["count"] = count
        if exc.retry_after_s is not None:
            doc["retry_after_s"] = round(exc.retry_after_s, 1)
        corr = job.message.correlation_data
        ok = self.publish_doc(self.topics.errors, doc, corr=corr)
        if job.reply_to and count is None:
            ok &= self.publish_doc(job.reply_to, doc, corr=corr)
        return ok

    # -- drops -----------------------------------------------------------------------

    def dropped(self, job: Job) -> None:
        """Report a message dropped from a full inbox (aggregated per pipeline and sensor)."""
        if job.reply_to:
            self._send_reply_only(job, _drop_error(job, 1))
        key = (job.match.settings.pipeline, job.match.sensor)
        now = self._clock()
        with self._lock:
            window = self._drops.get(key)
            first = window is None
            if window is None:
                window = self._drops[key] = _DropWindow(opened=now)
            else:
                window.count += 1
                window.last = job
        if first:
            self.error(job, _drop_error(job, 1), count=1)

    def flush_drops(self, *, force: bool = False) -> int:
        """Publish the aggregated drop reports whose window closed; returns how many."""
        now = self._clock()
        due: list[_DropWindow] = []
        with self._lock:
            for key, window in list(self._drops.items()):
                if force or now - window.opened >= self.drop_report_s:
                    del self._drops[key]
                    if window.count and window.last is not None:
                        due.append(window)
        for window in due:
            if window.last is not None:
                self.error(window.last, _drop_error(window.last, window.count), count=window.count)
        return len(due)

    def _error_document(self, job: Job, exc: PayloadError) -> dict[str, Any]:
        return error_document(
            reason=exc.reason.value,
            detail=exc.detail,
            device=self.device,
            topic=_short(exc.topic),
            sensor=_short(exc.sensor),
            size=exc.size,
            request_id=job.request_id,
            route=job.match.route,
        )

    def _send_reply_only(self, job: Job, exc: PayloadError) -> None:
        doc = self._error_document(job, exc)
        if job.reply_to:
            self.publish_doc(job.reply_to, doc, corr=job.message.correlation_data)


def _drop_error(job: Job, count: int) -> PayloadError:
    detail = (
        "inbox full: dropped the oldest waiting message"
        if count == 1
        else f"inbox full: dropped the {count} oldest waiting messages"
    )
    return PayloadError(
        Reason.INBOX_FULL,
        detail,
        topic=job.message.topic,
        sensor=job.match.sensor,
        size=len(job.message.payload),
    )


def _short(text: str | None, limit: int = 256) -> str | None:
    """Topics and sensor ids can be 64 KiB long: keep documents and log lines bounded."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"...(+{len(text) - limit})"
