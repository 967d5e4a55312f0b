"""Checks of a request's MQTT properties, done like payload checks: a reason, never a crash.

Any sensor account can set a response topic, correlation data and user
properties. They are validated when the message arrives, before a worker sees
it, so that:

- a response topic the daemon must not or cannot publish to (wildcards, under
  the daemon's own prefix, a ``$`` topic, too long, empty, NUL) is refused with
  ``bad_response_topic`` and the error goes to the error topic only;
- correlation data is bounded (it is echoed on every answer);
- the stream properties ``stream`` and ``seq`` are plain (``seq`` a decimal
  number of at most 18 ASCII digits: ``"²"``, ``"--1"`` or 5,000 digits are
  ``bad_property``, not a traceback);
- every topic the daemon would answer on fits MQTT's 65,535-byte limit
  (``topic_too_long``), checked before the model runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edge_agent.errors import PayloadError, Reason

__all__ = [
    "MAX_CORRELATION_BYTES",
    "MAX_TOPIC_BYTES",
    "check_correlation_data",
    "check_response_topic",
    "check_stream_properties",
    "check_topic_length",
]

MAX_TOPIC_BYTES = 65_535
"""MQTT's limit on a topic name (UTF-8 bytes)."""

MAX_CORRELATION_BYTES = 4096
"""Longest correlation data echoed back (MQTT allows 65,535; nobody needs that)."""

_MAX_STREAM_ID = 128
_SEQ = re.compile(r"^[0-9]{1,18}$")  # ASCII digits only: str.isdigit() accepts "²"


def check_response_topic(topic: str, own_prefix: str) -> None:
    """Refuse a response topic the daemon must not publish to.

    Args:
        topic: The v5 response topic of a request.
        own_prefix: The daemon's topic prefix (``edge-agent``).

    Raises:
        PayloadError: ``bad_response_topic`` with the reason in ``detail``.
    """
    if not topic:
        raise PayloadError(Reason.BAD_RESPONSE_TOPIC, "response topic is empty")
    if "+" in topic or "#" in topic:
        raise PayloadError(Reason.BAD_RESPONSE_TOPIC, "response topic contains a wildcard")
    if "\x00" in topic:
        raise PayloadError(Reason.BAD_RESPONSE_TOPIC, "response topic contains NUL")
    if topic.startswith("$"):
        raise PayloadError(Reason.BAD_RESPONSE_TOPIC, "response topic is a $ (broker) topic")
    own = own_prefix.rstrip("/")
    if topic == own or topic.startswith(own + "/"):
        raise PayloadError(
            Reason.BAD_RESPONSE_TOPIC,
            f"response topic is under the daemon's own prefix {own}/ (status, results, errors)",
        )
    size = len(topic.encode("utf-8", "surrogatepass"))
    if size > MAX_TOPIC_BYTES:
        raise PayloadError(
            Reason.BAD_RESPONSE_TOPIC, f"response topic is {size} bytes > {MAX_TOPIC_BYTES}"
        )


def check_correlation_data(data: bytes) -> None:
    """Refuse correlation data too long to echo.

    Raises:
        PayloadError: ``bad_property``.
    """
    if len(data) > MAX_CORRELATION_BYTES:
        raise PayloadError(
            Reason.BAD_PROPERTY,
            f"correlation data is {len(data)} bytes > {MAX_CORRELATION_BYTES}",
        )


def check_stream_properties(user_properties: Sequence[tuple[str, str]]) -> None:
    """Check the user properties the daemon reads (``stream``, ``seq``); others pass.

    Raises:
        PayloadError: ``bad_property`` naming the property (never echoing its value).
    """
    for key, value in user_properties:
        if key == "seq" and not _SEQ.match(value):
            raise PayloadError(
                Reason.BAD_PROPERTY,
                f"user property seq must be 1-18 ASCII digits (got {len(value)} characters)",
            )
        if key == "stream" and (
            not value or len(value) > _MAX_STREAM_ID or not value.isprintable()
        ):
            raise PayloadError(
                Reason.BAD_PROPERTY,
                f"user property stream must be 1-{_MAX_STREAM_ID} printable characters",
            )


def check_topic_length(topic: str) -> None:
    """Refuse an answer topic over MQTT's limit (a sensor id can make one).

    Raises:
        PayloadError: ``topic_too_long``.
    """
    size = len(topic.encode("utf-8", "surrogatepass"))
    if size > MAX_TOPIC_BYTES:
        raise PayloadError(
            Reason.TOPIC_TOO_LONG, f"the result topic would be {size} bytes > {MAX_TOPIC_BYTES}"
        )
