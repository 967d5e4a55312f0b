"""Work out a payload's format: content type, else route format, else magic bytes.

Canonical format names (``PayloadFormat.mime``) and the parameters they take:

- ``image/jpeg``, ``image/png`` (aliases ``image/jpg``, ``image/pjpeg``, ``image/x-png``)
- ``image/x-raw-rgb;width=W;height=H``: W*H*3 bytes, row-major, RGB
- ``image/x-raw-gray;width=W;height=H``: W*H bytes, row-major, 8-bit gray
- ``audio/wav`` (aliases ``audio/wave``, ``audio/x-wav``, ``audio/vnd.wave``)
- ``audio/L16;rate=R[;channels=C]``: big-endian int16 (RFC 2586), C defaults to 1
- ``audio/x-raw;format=S16LE|S16BE;rate=R[;channels=C]``: raw int16
- ``text/plain[;charset=utf-8|us-ascii]``
- ``application/json`` (alias ``text/json``): an object with a string ``text`` field

``application/octet-stream`` is treated like a missing content type.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from edge_agent.errors import PayloadError, Reason

if TYPE_CHECKING:
    from collections.abc import Mapping

    from edge_agent.pipelines.base import Modality

__all__ = [
    "ContentType",
    "PayloadFormat",
    "int_param",
    "parse_content_type",
    "parse_format",
    "resolve_format",
]

_MAX_CONTENT_TYPE_LEN = 512
_MAX_INT_DIGITS = 9
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # noqa: S105 - a regex, not a secret
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
_HEAD_RE = re.compile(rf"[ \t]*({_TOKEN})/({_TOKEN})[ \t]*")
_PARAM_RE = re.compile(rf";[ \t]*(?:({_TOKEN})[ \t]*=[ \t]*({_TOKEN}|{_QUOTED})[ \t]*)?")
_UNESCAPE_RE = re.compile(r"\\(.)")

_CANONICAL: Mapping[str, str] = MappingProxyType(
    {
        "image/jpeg": "image/jpeg",
        "image/jpg": "image/jpeg",
        "image/pjpeg": "image/jpeg",
        "image/png": "image/png",
        "image/x-png": "image/png",
        "image/x-raw-rgb": "image/x-raw-rgb",
        "image/x-raw-gray": "image/x-raw-gray",
        "audio/wav": "audio/wav",
        "audio/wave": "audio/wav",
        "audio/x-wav": "audio/wav",
        "audio/vnd.wave": "audio/wav",
        "audio/l16": "audio/L16",
        "audio/x-raw": "audio/x-raw",
        "text/plain": "text/plain",
        "text/json": "application/json",
        "application/json": "application/json",
    }
)
_OCTET_STREAM = "application/octet-stream"

# Magic numbers: (prefix, offset, format, modality, decodable). A prefix at a
# non-zero offset also needs the RIFF header (WAVE, WEBP).
_MAGIC: tuple[tuple[bytes, int, str, Modality, bool], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "image", True),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "image", True),
    (b"WAVE", 8, "audio/wav", "audio", True),
    (b"GIF87a", 0, "image/gif", "image", False),
    (b"GIF89a", 0, "image/gif", "image", False),
    (b"WEBP", 8, "image/webp", "image", False),
    (b"OggS", 0, "audio/ogg", "audio", False),
    (b"fLaC", 0, "audio/flac", "audio", False),
    (b"ID3", 0, "audio/mpeg", "audio", False),
)


@dataclass(frozen=True, slots=True)
class ContentType:
    """A parsed media type.

    Attributes:
        type: Top-level type, lower case.
        subtype: Subtype, lower case.
        params: Parameters; names lower case, values unquoted and case kept.
    """

    type: str
    subtype: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def mime(self) -> str:
        """``type/subtype``, lower case."""
        return f"{self.type}/{self.subtype}"


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """The format a payload will be decoded as.

    Attributes:
        mime: Canonical format name (see the module docstring).
        modality: Modality of the format.
        params: Content-type parameters (names lower case).
        origin: Where the format came from: ``content_type``, ``route`` or ``sniffed``.
    """

    mime: str
    modality: Modality
    params: Mapping[str, str]
    origin: str


def parse_content_type(value: str) -> ContentType:
    """Parse an RFC 2045 media type with parameters (quoted values allowed).

    Args:
        value: The content type, e.g. ``audio/L16; rate=16000; channels="1"``.

    Returns:
        The parsed content type.

    Raises:
        PayloadError: BAD_CONTENT_TYPE when the syntax is wrong.
    """
    if len(value) > _MAX_CONTENT_TYPE_LEN:
        raise PayloadError(
            Reason.BAD_CONTENT_TYPE, f"content type longer than {_MAX_CONTENT_TYPE_LEN}"
        )
    head = _HEAD_RE.match(value)
    if head is None:
        raise PayloadError(Reason.BAD_CONTENT_TYPE, "content type is not type/subtype")
    params: dict[str, str] = {}
    pos = head.end()
    while pos < len(value):
        match = _PARAM_RE.match(value, pos)
        if match is None:
            raise PayloadError(Reason.BAD_CONTENT_TYPE, f"bad content type parameter at {pos}")
        name, raw = match.group(1), match.group(2)
        if name is not None:
            key = name.lower()
            if key in params:
                raise PayloadError(Reason.BAD_CONTENT_TYPE, f"duplicate parameter {key!r}")
            if raw.startswith('"'):
                raw = _UNESCAPE_RE.sub(r"\1", raw[1:-1])
            params[key] = raw
        pos = match.end()
    return ContentType(head.group(1).lower(), head.group(2).lower(), MappingProxyType(params))


def int_param(fmt: PayloadFormat, name: str, default: int | None = None) -> int:
    """Read a positive decimal integer parameter of a format.

    Args:
        fmt: The format.
        name: Parameter name (lower case).
        default: Value when the parameter is absent; None makes it required.

    Returns:
        The value.

    Raises:
        PayloadError: BAD_CONTENT_TYPE when missing (and required) or not a positive integer.
    """
    raw = fmt.params.get(name)
    if raw is None:
        if default is None:
            raise PayloadError(Reason.BAD_CONTENT_TYPE, f"{fmt.mime} needs parameter {name!r}")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_INT_DIGITS or int(raw) <= 0:
        raise PayloadError(
            Reason.BAD_CONTENT_TYPE, f"parameter {name!r} must be a positive integer"
        )
    return int(raw)


def _modality_of(ctype: ContentType) -> Modality | None:
    if ctype.type == "image":
        return "image"
    if ctype.type == "audio":
        return "audio"
    if ctype.type == "text" or ctype.mime == "application/json":
        return "text"
    return None


@functools.lru_cache(maxsize=256)
def parse_format(value: str, modality: Modality, *, origin: str = "route") -> PayloadFormat | None:
    """Turn a content type (or a route's declared format) into a payload format.

    Args:
        value: The content type string.
        modality: Modality of the pipeline the payload is for.
        origin: Recorded in the result (``content_type`` or ``route``).

    Returns:
        The format, or None for ``application/octet-stream`` (meaning: unknown).

    Raises:
        PayloadError: BAD_CONTENT_TYPE, WRONG_MODALITY or UNSUPPORTED_FORMAT.
    """
    ctype = parse_content_type(value)
    if ctype.mime == _OCTET_STREAM:
        return None
    own = _modality_of(ctype)
    if own is not None and own != modality:
        raise PayloadError(
            Reason.WRONG_MODALITY, f"{ctype.mime} is {own}, pipeline takes {modality}"
        )
    canonical = _CANONICAL.get(ctype.mime)
    if canonical is None or own is None:
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"{ctype.mime} is not supported")
    return PayloadFormat(canonical, own, ctype.params, origin)


def _sniff_magic(payload: bytes) -> tuple[str, Modality, bool] | None:
    for magic, offset, mime, modality, decodable in _MAGIC:
        if payload[offset : offset + len(magic)] == magic and (
            offset == 0 or payload.startswith(b"RIFF")
        ):
            return mime, modality, decodable
    return None


def _sniff_text(payload: bytes) -> str:
    # All leading whitespace, however much (a JSON object after 64 blank bytes is
    # still JSON); anything else on a text route is text, and text that is not
    # UTF-8 is then reported as invalid_utf8, which says more than unknown_format.
    body = payload.removeprefix(b"\xef\xbb\xbf")
    start = len(body) - len(body.lstrip(b" \t\r\n"))
    if body[start : start + 1] == b"{":
        return "application/json"
    return "text/plain"


def sniff_format(payload: bytes, modality: Modality) -> PayloadFormat:
    """Guess the format from magic bytes.

    Args:
        payload: The payload (non-empty).
        modality: Modality of the pipeline.

    Returns:
        The sniffed format.

    Raises:
        PayloadError: WRONG_MODALITY, UNSUPPORTED_FORMAT or UNKNOWN_FORMAT.
    """
    found = _sniff_magic(payload)
    if found is not None:
        mime, own, decodable = found
        if own != modality:
            raise PayloadError(Reason.WRONG_MODALITY, f"sniffed {mime}, pipeline takes {modality}")
        if not decodable:
            raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"sniffed {mime}, not supported")
        return PayloadFormat(mime, own, MappingProxyType({}), "sniffed")
    if modality == "text":
        if payload.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise PayloadError(
                Reason.UNSUPPORTED_FORMAT, "UTF-16 text (byte-order mark): send UTF-8"
            )
        return PayloadFormat(_sniff_text(payload), "text", MappingProxyType({}), "sniffed")
    raise PayloadError(Reason.UNKNOWN_FORMAT, f"no content type and no known magic for {modality}")


def resolve_format(
    payload: bytes,
    *,
    modality: Modality,
    content_type: str | None,
    declared_format: str | None,
) -> PayloadFormat:
    """Resolve a payload's format: content type, else route's format, else magic bytes.

    Args:
        payload: The payload (non-empty).
        modality: Modality of the pipeline.
        content_type: MQTT v5 content type, if the message had one.
        declared_format: The route's declared format, if configured.

    Returns:
        The format to decode with.

    Raises:
        PayloadError: BAD_CONTENT_TYPE, WRONG_MODALITY, UNSUPPORTED_FORMAT or UNKNOWN_FORMAT.
    """
    if content_type is not None and content_type.strip():
        fmt = parse_format(content_type, modality, origin="content_type")
        if fmt is not None:
            return fmt
    if declared_format is not None and declared_format.strip():
        fmt = parse_format(declared_format, modality, origin="route")
        if fmt is not None:
            return fmt
    return sniff_format(payload, modality)
