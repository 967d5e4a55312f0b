"""Decode ``text/plain`` and JSON-envelope payloads into a TextSample."""

from __future__ import annotations

import json
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import TextSample

if TYPE_CHECKING:
    from edge_agent.codecs.formats import PayloadFormat
    from edge_agent.codecs.limits import TextLimits

__all__ = ["decode_text", "json_depth", "parse_json_object"]

_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_BOM = "\ufeff"
# A JSON string literal as an unrolled loop; the closing quote is optional so an
# unterminated string is consumed in one go and the scan stays linear.
_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
_OPENERS = frozenset(b"[{")


def _check_charset(fmt: PayloadFormat) -> None:
    charset = fmt.params.get("charset")
    if charset is not None and charset.lower() not in _UTF8_CHARSETS:
        raise PayloadError(
            Reason.UNSUPPORTED_FORMAT, f"charset {charset.lower()[:32]!r} not supported (use utf-8)"
        )


def _to_str(payload: bytes) -> str:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only the offset goes into the message; ``exc`` holds the payload, so no chaining.
        offset = exc.start
        raise PayloadError(Reason.INVALID_UTF8, f"invalid UTF-8 at byte {offset}") from None
    return text.removeprefix(_BOM)


def _check_chars(text: str, limits: TextLimits) -> None:
    if len(text) > limits.max_chars:
        raise PayloadError(
            Reason.TEXT_TOO_LONG, f"{len(text)} characters > limit {limits.max_chars}"
        )


def json_depth(document: str) -> int:
    """Deepest nesting of arrays/objects in a JSON document, without recursion.

    Brackets inside string literals are ignored. Linear time: strings are
    blanked by a regular expression, then bracket depth is a cumulative sum.

    Args:
        document: JSON text (need not be valid).

    Returns:
        The maximum depth (0 for a scalar).
    """
    brackets = _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", document)).encode("ascii")
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where(np.isin(codes, list(_OPENERS)), 1, -1)
    return int(np.cumsum(steps).max())


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_constant(_name: str) -> NoReturn:
    raise ValueError


def parse_json_object(payload: bytes, limits: TextLimits) -> dict[str, Any]:
    """Parse a JSON object with the text limits: UTF-8, depth checked before parsing.

    Args:
        payload: The bytes (size already checked).
        limits: Text limits (``max_json_depth``).

    Returns:
        The object.

    Raises:
        PayloadError: INVALID_UTF8, JSON_TOO_DEEP, MALFORMED_JSON, or BAD_ENVELOPE
            when the document is not an object.
    """
    document = _to_str(payload)
    depth = json_depth(document)
    if depth > limits.max_json_depth:
        raise PayloadError(
            Reason.JSON_TOO_DEEP, f"JSON nesting {depth} > limit {limits.max_json_depth}"
        )
    try:
        value: Any = json.loads(document, parse_constant=_reject_constant)
    except RecursionError:
        raise PayloadError(Reason.JSON_TOO_DEEP, "JSON nesting too deep") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, over-long integers
        raise PayloadError(Reason.MALFORMED_JSON, f"invalid JSON: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise PayloadError(Reason.BAD_ENVELOPE, "JSON envelope must be an object")
    return value


def _decode_json(
    payload: bytes, fmt: PayloadFormat, limits: TextLimits, keys: tuple[str, ...]
) -> TextSample:
    _check_charset(fmt)
    value = parse_json_object(payload, limits)
    present = [k for k in keys if k in value]
    names = " or ".join(f"'{k}'" for k in keys)
    if len(present) > 1:
        raise PayloadError(Reason.BAD_ENVELOPE, f"JSON envelope has both {names}: send one")
    text = value.pop(present[0]) if present else None
    if not isinstance(text, str):
        raise PayloadError(Reason.BAD_ENVELOPE, f"JSON envelope needs a string field {names}")
    _check_chars(text, limits)
    if not _encodable(text):
        raise PayloadError(Reason.INVALID_UTF8, "JSON text holds a lone surrogate escape")
    return TextSample(text=text, fields=MappingProxyType(value), source_format=fmt.mime)


def decode_text(
    payload: bytes, fmt: PayloadFormat, limits: TextLimits, keys: tuple[str, ...] = ("text",)
) -> TextSample:
    """Decode a text payload.

    Args:
        payload: The bytes (already checked non-empty and within ``max_bytes``).
        fmt: The resolved format (``text/plain`` or ``application/json``).
        limits: Text limits.
        keys: JSON envelope fields the text may come in (exactly one present).

    Returns:
        The text, plus the other envelope fields for JSON.

    Raises:
        PayloadError: INVALID_UTF8, TEXT_TOO_LONG, JSON_TOO_DEEP, MALFORMED_JSON,
            BAD_ENVELOPE or UNSUPPORTED_FORMAT.
    """
    if fmt.mime == "application/json":
        return _decode_json(payload, fmt, limits, keys)
    if fmt.mime != "text/plain":
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"{fmt.mime} is not a text format")
    _check_charset(fmt)
    text = _to_str(payload)
    _check_chars(text, limits)
    return TextSample(text=text, fields=MappingProxyType({}), source_format=fmt.mime)
