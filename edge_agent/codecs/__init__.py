"""Payload codecs: bytes plus content type in, typed samples out, within limits."""

from edge_agent.codecs.decode import decode
from edge_agent.codecs.formats import (
    ContentType,
    PayloadFormat,
    parse_content_type,
    parse_format,
    resolve_format,
)
from edge_agent.codecs.limits import AudioLimits, ImageLimits, Limits, TextLimits

__all__ = [
    "AudioLimits",
    "ContentType",
    "ImageLimits",
    "Limits",
    "PayloadFormat",
    "TextLimits",
    "decode",
    "parse_content_type",
    "parse_format",
    "resolve_format",
]
