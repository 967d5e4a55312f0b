"""The decode() entry point: order of checks, reason codes, error hygiene."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pytest

from edge_agent.codecs import AudioLimits, ImageLimits, Limits, TextLimits, decode
from edge_agent.errors import PayloadError, Reason

if TYPE_CHECKING:
    from edge_agent.pipelines.base import Modality

_TINY = Limits(
    image=ImageLimits(max_bytes=100, max_pixels=4),
    audio=AudioLimits(max_bytes=100, max_seconds=0.001),
    text=TextLimits(max_bytes=100, max_chars=3, max_json_depth=2),
)

# One payload per reason code the codecs can produce: (reason, modality, content type, payload).
_CASES: list[tuple[Reason, Modality, str | None, bytes]] = [
    (Reason.EMPTY, "text", "text/plain", b""),
    (Reason.TOO_LARGE, "image", "image/png", b"\x00" * 101),
    (Reason.UNKNOWN_FORMAT, "image", None, b"plain words"),
    (Reason.UNSUPPORTED_FORMAT, "image", "image/tiff", b"II*\x00"),
    (Reason.BAD_CONTENT_TYPE, "image", "image png", b"\x00"),
    (Reason.MALFORMED_IMAGE, "image", "image/png", b"\x89PNG\r\n\x1a\n"),
    (Reason.TOO_MANY_PIXELS, "image", "image/x-raw-gray;width=3;height=2", b"\x00" * 6),
    (Reason.MALFORMED_AUDIO, "audio", "audio/wav", b"RIFF\x04\x00\x00\x00WAVE"),
    (Reason.AUDIO_TOO_LONG, "audio", "audio/L16;rate=8000", b"\x00" * 20),
    (Reason.INVALID_UTF8, "text", "text/plain", b"\xc3\x28"),
    (Reason.TEXT_TOO_LONG, "text", "text/plain", b"abcd"),
    (Reason.MALFORMED_JSON, "text", "application/json", b"{nope}"),
    (Reason.JSON_TOO_DEEP, "text", "application/json", b'{"a": [[]]}'),
    (Reason.BAD_ENVELOPE, "text", "application/json", b'{"a": 1}'),
    (Reason.WRONG_MODALITY, "audio", "image/png", b"\x00"),
]


@pytest.mark.parametrize(
    ("reason", "modality", "ctype", "payload"), _CASES, ids=[c[0].value for c in _CASES]
)
def test_reason_code(reason: Reason, modality: Modality, ctype: str | None, payload: bytes) -> None:
    with pytest.raises(PayloadError) as info:
        decode(
            payload,
            modality=modality,
            content_type=ctype,
            declared_format=None,
            limits=_TINY,
            audio_rate=None,
        )
    assert info.value.reason is reason
    assert info.value.size == len(payload)


def test_size_is_checked_before_content_type() -> None:
    with pytest.raises(PayloadError) as info:
        decode(
            b"\x00" * 101,
            modality="image",
            content_type="not a type",
            declared_format=None,
            limits=_TINY,
            audio_rate=None,
        )
    assert info.value.reason is Reason.TOO_LARGE


def test_route_format_is_used_when_message_has_none() -> None:
    sample = decode(
        b"\x00" * 4,
        modality="image",
        content_type=None,
        declared_format="image/x-raw-gray;width=2;height=2",
        limits=_TINY,
        audio_rate=None,
    )
    assert sample.source_format == "image/x-raw-gray"


def test_unexpected_decoder_exception_becomes_payload_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("secret payload text")

    module = importlib.import_module("edge_agent.codecs.decode")
    monkeypatch.setattr(module, "decode_text", explode)
    with pytest.raises(PayloadError) as info:
        decode(
            b"hi",
            modality="text",
            content_type="text/plain",
            declared_format=None,
            limits=Limits(),
            audio_rate=None,
        )
    assert info.value.reason is Reason.MALFORMED_JSON
    assert "secret" not in str(info.value)
    assert info.value.__cause__ is None
