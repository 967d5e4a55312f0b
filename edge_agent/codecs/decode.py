"""The one entry point: payload bytes in, typed sample out, PayloadError otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_agent.codecs.audio import decode_audio
from edge_agent.codecs.formats import resolve_format
from edge_agent.codecs.image import decode_image
from edge_agent.codecs.text import decode_text
from edge_agent.errors import PayloadError, Reason

if TYPE_CHECKING:
    from edge_agent.codecs.limits import Limits
    from edge_agent.pipelines.base import Modality, Sample

__all__ = ["decode"]

_MALFORMED: dict[Modality, Reason] = {
    "image": Reason.MALFORMED_IMAGE,
    "audio": Reason.MALFORMED_AUDIO,
    "text": Reason.MALFORMED_JSON,
}


def _decode(
    payload: bytes,
    *,
    modality: Modality,
    content_type: str | None,
    declared_format: str | None,
    limits: Limits,
    audio_rate: int | None,
    image_size: tuple[int, int] | None = None,
    text_keys: tuple[str, ...] = ("text",),
) -> Sample:
    max_bytes = getattr(limits, modality).max_bytes
    if len(payload) > max_bytes:
        raise PayloadError(Reason.TOO_LARGE, f"{len(payload)} bytes > limit {max_bytes}")
    if not payload:
        raise PayloadError(Reason.EMPTY, "payload is empty")
    fmt = resolve_format(
        payload, modality=modality, content_type=content_type, declared_format=declared_format
    )
    if modality == "image":
        return decode_image(payload, fmt, limits.image, image_size)
    if modality == "audio":
        return decode_audio(payload, fmt, limits.audio, audio_rate)
    return decode_text(payload, fmt, limits.text, text_keys)


def decode(
    payload: bytes,
    *,
    modality: Modality,
    content_type: str | None,
    declared_format: str | None,
    limits: Limits,
    audio_rate: int | None,
    image_size: tuple[int, int] | None = None,
    text_keys: tuple[str, ...] = ("text",),
) -> Sample:
    """Decode a payload for a pipeline of the given modality.

    Order: size limit (before any parsing), emptiness, format resolution
    (content type, else route format, else magic bytes), then the decoder.
    Errors never carry payload bytes or text; they are not chained to library
    exceptions (those can hold the payload).

    Args:
        payload: The raw MQTT payload.
        modality: Modality of the pipeline (``image``, ``audio`` or ``text``).
        content_type: MQTT v5 content type, if any.
        declared_format: The route's declared format, if any.
        limits: Payload limits.
        audio_rate: Sample rate an audio pipeline wants (None keeps the payload's).
        image_size: (width, height) an image pipeline's model looks at: decode at
            reduced scale down to it where the format allows (None: full size).
        text_keys: The JSON envelope fields a text pipeline takes its text from
            (exactly one of them must be present).

    Returns:
        An ImageSample, AudioSample or TextSample.

    Raises:
        PayloadError: For every rejected payload, with ``size`` set.
    """
    try:
        return _decode(
            payload,
            modality=modality,
            content_type=content_type,
            declared_format=declared_format,
            limits=limits,
            audio_rate=audio_rate,
            image_size=image_size,
            text_keys=text_keys,
        )
    except PayloadError as err:
        if err.size is None:
            err.size = len(payload)
        raise
    except Exception as exc:  # broad on purpose: a decoder bug must reject the payload, not crash
        raise PayloadError(
            _MALFORMED.get(modality, Reason.UNSUPPORTED_FORMAT),
            f"decoder failed: {type(exc).__name__}",
            size=len(payload),
        ) from None
