"""A routed message on its way through a pipeline, and the checks done when it arrives."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge_agent.errors import PayloadError
from edge_agent.transport.message import InboundMessage
from edge_agent.transport.properties import (
    check_correlation_data,
    check_response_topic,
    check_stream_properties,
    check_topic_length,
)
from edge_agent.transport.routing import Match

__all__ = ["Job", "make_job", "new_request_id", "request_id_of"]


@dataclass(frozen=True, slots=True)
class Job:
    """A routed message waiting in an inbox or moving through a worker's stages.

    Attributes:
        message: The MQTT message.
        match: Its route and sensor.
        request_id: Correlation id.
        ack: Acknowledges the message to the broker (after it was answered or rejected).
        origin: For a message forwarded along a chain: where it came from
            (``pipeline``, ``route``, ``topic``); None for a message from the broker.
        reply_to: The request's response topic if it passed the checks, else None
            (an answer is never sent to a topic that failed them).
        problem: Why the request's properties or topics are refused, if they are;
            the worker answers it with this error without running the model.
    """

    message: InboundMessage
    match: Match
    request_id: str
    ack: Callable[[], None]
    origin: Mapping[str, Any] | None = None
    reply_to: str | None = None
    problem: PayloadError | None = None


_PROCESS = uuid.uuid4().hex[:12]
_SERIAL = itertools.count(1)


def new_request_id() -> str:
    """A request id unique to this process: a random per-process prefix and a counter.

    uuid4() reads the kernel's random source on every call; at thousands of audio
    chunks a second that was a sixth of the network thread's time.
    """
    return f"{_PROCESS}-{next(_SERIAL):x}"


def request_id_of(msg: InboundMessage) -> str:
    """The request id: printable ASCII correlation data as is, else its hex, else a new id."""
    if msg.correlation_data:
        try:
            text = msg.correlation_data.decode("ascii")
            if text.isprintable() and len(text) <= 128:
                return text
        except UnicodeDecodeError:
            pass
        return msg.correlation_data.hex()[:64]
    return new_request_id()


def make_job(
    msg: InboundMessage,
    match: Match,
    ack: Callable[[], None],
    *,
    own_prefix: str,
    answer_topic: str,
    request_id: str | None = None,
    origin: Mapping[str, Any] | None = None,
) -> Job:
    """Build a job, checking the request's properties and the topics it will be answered on.

    Args:
        msg: The message.
        match: Its route and sensor.
        ack: Acknowledges it.
        own_prefix: The daemon's topic prefix (response topics under it are refused).
        answer_topic: The longest topic the daemon would publish this answer on.
        request_id: Use this id (a forwarded hop keeps its chain's); default: from the message.
        origin: The chain origin of a forwarded message.
    """
    problem: PayloadError | None = None
    reply_to = msg.response_topic
    try:
        if reply_to is not None:
            try:
                check_response_topic(reply_to, own_prefix)
            except PayloadError:
                reply_to = None
                raise
        if msg.correlation_data is not None:
            check_correlation_data(msg.correlation_data)
        if msg.user_properties:
            check_stream_properties(msg.user_properties)
        check_topic_length(answer_topic)
    except PayloadError as exc:
        exc.topic, exc.sensor, exc.size = msg.topic, match.sensor, len(msg.payload)
        problem = exc
    return Job(
        msg,
        match,
        request_id if request_id is not None else request_id_of(msg),
        ack,
        origin=origin,
        reply_to=reply_to,
        problem=problem,
    )


def _no_ack() -> None:
    """A forwarded hop is an in-process message: nothing to acknowledge."""


def forward_job(
    job: Job,
    payload: bytes,
    match: Match,
    *,
    own_prefix: str,
    answer_topic: str,
    from_pipeline: str,
) -> Job:
    """The next hop of a forward chain: ``payload`` as a message for the next route.

    It keeps the original's topic, request id, response topic and correlation data,
    records where it came from, and is never acknowledged to the broker (the
    original was, once its own answer was out).

    Args:
        job: The message answered.
        payload: The next route's input (JSON).
        match: The next route (see ``Router.forwarded``).
        own_prefix: The daemon's topic prefix.
        answer_topic: The longest topic the next pipeline would answer on.
        from_pipeline: The pipeline that answered ``job``.
    """
    message = InboundMessage(
        topic=job.message.topic,
        payload=payload,
        content_type="application/json",
        correlation_data=job.message.correlation_data,
        response_topic=job.reply_to,
    )
    return make_job(
        message,
        match,
        _no_ack,
        own_prefix=own_prefix,
        answer_topic=answer_topic,
        request_id=job.request_id,
        origin={"pipeline": from_pipeline, "route": job.match.route, "topic": job.message.topic},
    )
