"""Control requests and responses: parsing with payload limits, and the response document.

A request is ``<prefix>/<device>/request/<verb>`` with a JSON object (or nothing)
as payload; the answer is ``<prefix>/<device>/response/<verb>`` in the style of
Zigbee2MQTT's bridge API: ``{"status": "ok"|"error", "data": ..., "error": ...,
"transaction": ...}``, the request's ``transaction`` echoed. A request is checked
like any payload before it is parsed: its size against ``limits.text.max_bytes``
and its JSON depth against ``limits.text.max_json_depth`` (the text codec's checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_agent.codecs.limits import TextLimits
from edge_agent.codecs.text import parse_json_object
from edge_agent.errors import EdgeAgentError, PayloadError, Reason

__all__ = [
    "RESPONSE_SCHEMA",
    "ControlError",
    "ControlReason",
    "Request",
    "parse_request",
    "response_document",
]

RESPONSE_SCHEMA = "edge-agent/response/1"


class ControlReason:
    """Reason codes of control errors (beside the payload ones from :class:`Reason`)."""

    UNKNOWN_VERB = "unknown_verb"
    BAD_REQUEST = "bad_request"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


class ControlError(EdgeAgentError):
    """A request that cannot be answered with data.

    Attributes:
        reason: A reason code (``unknown_verb``, ``bad_request``, ``too_large``...).
        detail: What went wrong, for a person.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed control request.

    Attributes:
        verb: The topic's last level.
        body: The JSON object (empty when the payload was empty).
        transaction: The body's ``transaction`` value, echoed in the response.
    """

    verb: str
    body: dict[str, Any] = field(default_factory=dict)
    transaction: Any = None


def parse_request(verb: str, payload: bytes, limits: TextLimits) -> Request:
    """Check and parse one request payload.

    Args:
        verb: The verb from the topic.
        payload: The raw payload (empty means ``{}``).
        limits: Size and depth limits (the text limits).

    Returns:
        The request.

    Raises:
        ControlError: Too large, not UTF-8, too deep, not JSON, or not an object.
    """
    if len(payload) > limits.max_bytes:
        raise ControlError(
            Reason.TOO_LARGE.value, f"{len(payload)} bytes > limit {limits.max_bytes}"
        )
    if not payload.strip():
        return Request(verb)
    try:
        body = parse_json_object(payload, limits)
    except PayloadError as exc:
        raise ControlError(exc.reason.value, exc.detail) from None
    return Request(verb, body, body.get("transaction"))


def response_document(
    *,
    transaction: Any,
    data: Any = None,
    error: ControlError | None = None,
) -> dict[str, Any]:
    """A response: ``status`` ok with ``data``, or error with ``error`` and ``reason``.

    Args:
        transaction: The request's transaction (None when it had none).
        data: The answer (ok responses).
        error: The failure (error responses).

    Returns:
        The JSON-ready document.
    """
    doc: dict[str, Any] = {"schema": RESPONSE_SCHEMA}
    if error is None:
        doc |= {"status": "ok", "data": data if data is not None else {}}
    else:
        doc |= {"status": "error", "data": {}, "error": error.detail, "reason": error.reason}
    if transaction is not None:
        doc["transaction"] = transaction
    return doc
