"""The control API's request loop: ``<prefix>/<device>/request/<verb>`` in, responses out.

Requests arrive on the MQTT network thread, which must never block, so they are
acknowledged at once and queued for one ``control`` thread that runs the verbs
in order (``pin`` waits for its swap). The queue is bounded: a request that finds
it full is answered ``busy`` right away. Who may send requests is decided by the
broker's ACL (publish access to the request topic), not here.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from edge_agent.codecs.limits import TextLimits
from edge_agent.control.context import ControlContext
from edge_agent.control.request import (
    ControlError,
    ControlReason,
    Request,
    parse_request,
    response_document,
)
from edge_agent.control.verbs import VERBS, Verb
from edge_agent.results.schema import Topics
from edge_agent.transport.message import InboundMessage

__all__ = ["ControlServer", "PublishFn"]

PublishFn = Callable[[str, Mapping[str, Any], bytes | None], None]
"""``publish(topic, document, correlation_data)``: QoS 1, not retained."""

log = structlog.get_logger("edge_agent.control")

_QUEUE = 16


def _verb(name: str) -> Verb:
    handler = VERBS.get(name)
    if handler is None:
        raise ControlError(
            ControlReason.UNKNOWN_VERB, f"unknown verb {name[:64]!r} (known: {', '.join(VERBS)})"
        )
    return handler


class ControlServer:
    """Answers control requests for one device.

    Args:
        context: What the verbs read and steer.
        topics: The device's topics.
        limits: Size and JSON depth limits for request payloads.
        publish: Publishes a response.
    """

    def __init__(
        self,
        context: ControlContext,
        topics: Topics,
        limits: TextLimits,
        publish: PublishFn,
    ) -> None:
        self.context = context
        self._request_prefix = f"{topics.base}/request/"
        self._response_prefix = f"{topics.base}/response/"
        self._limits = limits
        self._publish = publish
        self._queue: queue.Queue[InboundMessage | None] = queue.Queue(_QUEUE)
        self._thread: threading.Thread | None = None
        self.answered = 0

    @property
    def subscription(self) -> str:
        """The filter to subscribe to (at QoS 1)."""
        return f"{self._request_prefix}+"

    def handles(self, topic: str) -> bool:
        """Whether ``topic`` is a request for this device."""
        return topic.startswith(self._request_prefix)

    def submit(self, message: InboundMessage, ack: Callable[[], None]) -> None:
        """Take a request (network thread): acknowledge it and queue it, never blocking."""
        ack()
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            verb = message.topic[len(self._request_prefix) :]
            error = ControlError(ControlReason.UNAVAILABLE, "busy: too many requests waiting")
            self._respond(message, verb, response_document(transaction=None, error=error))

    def start(self) -> None:
        """Start the control thread."""
        self._thread = threading.Thread(target=self._run, name="control", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the request being answered (waiting ones are dropped)."""
        if self._thread is None:
            return
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            self.answer(message)

    def answer(self, message: InboundMessage) -> dict[str, Any]:
        """Run one request and publish its response (the control thread; tests call it)."""
        started = time.monotonic()
        verb = message.topic[len(self._request_prefix) :]
        transaction: Any = None
        reason: str | None = None
        try:
            request: Request = parse_request(verb, message.payload, self._limits)
            transaction = request.transaction
            doc = response_document(
                transaction=transaction, data=_verb(verb)(self.context, request.body)
            )
        except ControlError as exc:
            reason = exc.reason
            doc = response_document(transaction=transaction, error=exc)
        except Exception as exc:  # a verb's bug is an error response, never a dead thread
            log.exception("control_verb_failed", verb=verb[:64], error=type(exc).__name__)
            reason = ControlReason.FAILED
            failure = ControlError(ControlReason.FAILED, f"{type(exc).__name__}: {exc}")
            doc = response_document(transaction=transaction, error=failure)
        self._respond(message, verb, doc)
        self.answered += 1
        log.info(
            "control_request",
            verb=verb[:64],
            status=doc["status"],
            reason=reason,
            size=len(message.payload),
            response_topic=bool(message.response_topic),
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return doc

    def _respond(self, message: InboundMessage, verb: str, doc: Mapping[str, Any]) -> None:
        corr = message.correlation_data
        self._publish(f"{self._response_prefix}{verb}", doc, corr)
        if message.response_topic:
            self._publish(message.response_topic, doc, corr)
