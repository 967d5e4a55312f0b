"""Content-type parsing and format resolution."""

from __future__ import annotations

import pytest

from edge_agent.codecs.formats import (
    parse_content_type,
    parse_format,
    resolve_format,
    sniff_format,
)
from edge_agent.errors import PayloadError, Reason

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


def test_parse_lowercases_type_and_parameter_names() -> None:
    ctype = parse_content_type("Audio/L16; RATE=16000;Channels=2")
    assert (ctype.mime, dict(ctype.params)) == ("audio/l16", {"rate": "16000", "channels": "2"})


def test_parse_unquotes_values_and_keeps_their_case() -> None:
    ctype = parse_content_type('text/plain; charset="UTF-8"; note="a \\"b\\"; c"')
    assert dict(ctype.params) == {"charset": "UTF-8", "note": 'a "b"; c'}


def test_parse_tolerates_trailing_semicolon_and_spaces() -> None:
    assert parse_content_type(" image/png ; ").mime == "image/png"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "image",
        "image/",
        "/png",
        "image/png; rate",
        "image/png; a=1; a=2",
        "image/png x",
        'text/plain; charset="utf-8',
        "image/png;=1",
        "x" * 600 + "/y",
    ],
)
def test_parse_rejects_bad_syntax(value: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_content_type(value)
    assert info.value.reason is Reason.BAD_CONTENT_TYPE


@pytest.mark.parametrize(
    ("value", "mime"),
    [
        ("image/jpg", "image/jpeg"),
        ("IMAGE/JPEG", "image/jpeg"),
        ("image/x-png", "image/png"),
        ("image/x-raw-rgb;width=2;height=2", "image/x-raw-rgb"),
    ],
)
def test_image_aliases_map_to_canonical_names(value: str, mime: str) -> None:
    fmt = parse_format(value, "image")
    assert fmt is not None
    assert fmt.mime == mime


@pytest.mark.parametrize(
    ("value", "mime"),
    [
        ("audio/x-wav", "audio/wav"),
        ("audio/wave", "audio/wav"),
        ("audio/l16;rate=8000", "audio/L16"),
    ],
)
def test_audio_aliases_map_to_canonical_names(value: str, mime: str) -> None:
    fmt = parse_format(value, "audio")
    assert fmt is not None
    assert fmt.mime == mime


def test_json_content_type_belongs_to_text_pipelines() -> None:
    fmt = parse_format("application/json", "text")
    assert fmt is not None
    assert (fmt.mime, fmt.modality) == ("application/json", "text")


@pytest.mark.parametrize(
    ("value", "modality"),
    [
        ("image/png", "audio"),
        ("audio/wav", "text"),
        ("text/plain", "image"),
        ("application/json", "audio"),
    ],
)
def test_modality_mismatch_is_wrong_modality(value: str, modality: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_format(value, modality)  # type: ignore[arg-type]
    assert info.value.reason is Reason.WRONG_MODALITY


@pytest.mark.parametrize(
    ("value", "modality"),
    [
        ("image/gif", "image"),
        ("audio/ogg", "audio"),
        ("text/html", "text"),
        ("application/pdf", "text"),
        ("video/mp4", "image"),
    ],
)
def test_known_syntax_unknown_type_is_unsupported(value: str, modality: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_format(value, modality)  # type: ignore[arg-type]
    assert info.value.reason is Reason.UNSUPPORTED_FORMAT


def test_content_type_wins_over_route_format() -> None:
    fmt = resolve_format(
        JPEG, modality="image", content_type="image/png", declared_format="image/jpeg"
    )
    assert (fmt.mime, fmt.origin) == ("image/png", "content_type")


def test_route_format_used_without_content_type() -> None:
    fmt = resolve_format(JPEG, modality="image", content_type=None, declared_format="image/png")
    assert (fmt.mime, fmt.origin) == ("image/png", "route")


def test_octet_stream_falls_through_to_sniffing() -> None:
    fmt = resolve_format(
        PNG, modality="image", content_type="application/octet-stream", declared_format=None
    )
    assert (fmt.mime, fmt.origin) == ("image/png", "sniffed")


@pytest.mark.parametrize(
    ("payload", "modality", "mime"),
    [
        (JPEG, "image", "image/jpeg"),
        (PNG, "image", "image/png"),
        (WAV, "audio", "audio/wav"),
        (b' \n{"text": "x"}', "text", "application/json"),
        ("héllo".encode(), "text", "text/plain"),
        (b'\xef\xbb\xbf{"text": "x"}', "text", "application/json"),
    ],
)
def test_sniffing_recognises_magic_bytes(payload: bytes, modality: str, mime: str) -> None:
    fmt = resolve_format(payload, modality=modality, content_type=None, declared_format=None)  # type: ignore[arg-type]
    assert fmt.mime == mime


def test_sniffed_image_on_audio_route_is_wrong_modality() -> None:
    with pytest.raises(PayloadError) as info:
        resolve_format(JPEG, modality="audio", content_type=None, declared_format=None)
    assert info.value.reason is Reason.WRONG_MODALITY


def test_sniffed_gif_is_unsupported() -> None:
    with pytest.raises(PayloadError) as info:
        resolve_format(
            b"GIF89a" + b"\x00" * 10, modality="image", content_type=None, declared_format=None
        )
    assert info.value.reason is Reason.UNSUPPORTED_FORMAT


@pytest.mark.parametrize(("payload", "modality"), [(b"hello", "image"), (b"\x00\x01", "audio")])
def test_unrecognisable_payload_is_unknown_format(payload: bytes, modality: str) -> None:
    with pytest.raises(PayloadError) as info:
        resolve_format(payload, modality=modality, content_type=None, declared_format=None)  # type: ignore[arg-type]
    assert info.value.reason is Reason.UNKNOWN_FORMAT


def test_utf16_text_is_unsupported_not_unknown() -> None:
    with pytest.raises(PayloadError) as info:
        sniff_format("héllo".encode("utf-16"), "text")
    assert info.value.reason is Reason.UNSUPPORTED_FORMAT


@pytest.mark.parametrize("blank", [0, 1, 63, 64, 65, 4000])
def test_json_after_any_amount_of_whitespace_is_json(blank: int) -> None:
    fmt = sniff_format(b" \n\t" * blank + b'{"text": "x"}', "text")
    assert fmt.mime == "application/json"


def test_invalid_utf8_on_a_text_route_is_sniffed_as_text_for_the_decoder() -> None:
    assert sniff_format(b"caf\xe9 ok", "text").mime == "text/plain"
