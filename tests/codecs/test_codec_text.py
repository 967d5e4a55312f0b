"""Text decoding: text/plain, JSON envelope, limits."""

from __future__ import annotations

import json
import time

import pytest

from edge_agent.codecs import Limits, TextLimits, decode
from edge_agent.codecs.text import json_depth
from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import TextSample


def _text(
    payload: bytes, content_type: str | None = None, limits: Limits | None = None
) -> TextSample:
    sample = decode(
        payload,
        modality="text",
        content_type=content_type,
        declared_format=None,
        limits=limits or Limits(),
        audio_rate=None,
    )
    assert isinstance(sample, TextSample)
    return sample


def _reason(
    payload: bytes, content_type: str | None = None, limits: Limits | None = None
) -> Reason:
    with pytest.raises(PayloadError) as info:
        _text(payload, content_type, limits)
    return info.value.reason


def _small(max_chars: int = 4096, depth: int = 16, max_bytes: int = 64 * 1024) -> Limits:
    return Limits(text=TextLimits(max_chars=max_chars, max_json_depth=depth, max_bytes=max_bytes))


def test_plain_text_is_decoded() -> None:
    sample = _text("grüße 👋".encode(), "text/plain; charset=UTF-8")
    assert (sample.text, dict(sample.fields), sample.source_format) == (
        "grüße 👋",
        {},
        "text/plain",
    )


def test_byte_order_mark_is_dropped() -> None:
    assert _text(b"\xef\xbb\xbfhi", "text/plain").text == "hi"


def test_us_ascii_charset_is_accepted() -> None:
    assert _text(b"hi", "text/plain;charset=us-ascii").text == "hi"


def test_other_charset_is_unsupported() -> None:
    assert _reason(b"hi", "text/plain; charset=iso-8859-1") is Reason.UNSUPPORTED_FORMAT


def test_invalid_utf8_is_rejected_without_payload_in_message() -> None:
    with pytest.raises(PayloadError) as info:
        _text(b"secret \xff", "text/plain")
    assert info.value.reason is Reason.INVALID_UTF8
    assert "secret" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_char_limit_is_exact_at_boundary() -> None:
    assert _text(("é" * 10).encode(), limits=_small(max_chars=10)).text == "é" * 10
    assert _reason(("é" * 11).encode(), limits=_small(max_chars=10)) is Reason.TEXT_TOO_LONG


def test_json_envelope_passes_other_fields() -> None:
    payload = json.dumps({"text": "hello", "lang": "en", "meta": {"n": [1, 2]}}).encode()
    sample = _text(payload, "application/json")
    assert (sample.text, dict(sample.fields)) == ("hello", {"lang": "en", "meta": {"n": [1, 2]}})


def test_lone_surrogate_escape_is_invalid_utf8() -> None:
    assert _reason(b'{"text": "a\\ud800b"}', "application/json") is Reason.INVALID_UTF8


def test_json_text_field_counts_toward_char_limit() -> None:
    payload = json.dumps({"text": "x" * 11}).encode()
    assert _reason(payload, "application/json", _small(max_chars=10)) is Reason.TEXT_TOO_LONG


@pytest.mark.parametrize(
    "payload", [b'{"text": 1}', b'{"txt": "a"}', b'["text"]', b'"text"', b"{}"]
)
def test_envelope_without_string_text_is_bad(payload: bytes) -> None:
    assert _reason(payload, "application/json") is Reason.BAD_ENVELOPE


@pytest.mark.parametrize(
    "payload",
    [
        b'{"text": "a"',
        b'{"text": NaN}',
        b"{'text': 'a'}",
        b'{"text": "a"} x',
        b'{"text": "a", "n": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_json_is_rejected(payload: bytes) -> None:
    assert _reason(payload, "application/json") is Reason.MALFORMED_JSON


def test_json_depth_limit_is_exact_at_boundary() -> None:
    inner = "[" * 3 + "]" * 3
    assert _text(f'{{"text": "a", "x": {inner}}}'.encode(), limits=_small(depth=4)).text == "a"
    assert (
        _reason(f'{{"text": "a", "x": [{inner}]}}'.encode(), limits=_small(depth=4))
        is Reason.JSON_TOO_DEEP
    )


def test_brackets_inside_strings_do_not_count() -> None:
    assert json_depth('{"text": "[[[[{{\\"[[", "a": []}') == 2


def test_hundred_thousand_brackets_rejected_fast() -> None:
    start = time.perf_counter()
    reason = _reason(b"[" * 100_000, "application/json", _small(max_bytes=200_000))
    assert reason is Reason.JSON_TOO_DEEP
    assert time.perf_counter() - start < 0.1


def test_unterminated_escaped_quotes_scan_fast() -> None:
    start = time.perf_counter()
    json_depth('"\\"' * 30_000)
    assert time.perf_counter() - start < 0.1


def _keyed(payload: bytes, keys: tuple[str, ...]) -> TextSample:
    sample = decode(
        payload,
        modality="text",
        content_type="application/json",
        declared_format=None,
        limits=Limits(),
        audio_rate=None,
        text_keys=keys,
    )
    assert isinstance(sample, TextSample)
    return sample


def test_a_pipeline_may_take_its_text_from_another_envelope_field() -> None:
    sample = _keyed(b'{"prompt": "hello", "max_tokens": 4}', ("prompt", "text"))
    assert (sample.text, dict(sample.fields)) == ("hello", {"max_tokens": 4})
    assert _keyed(b'{"text": "hello"}', ("prompt", "text")).text == "hello"


def test_an_envelope_with_two_text_fields_is_refused() -> None:
    with pytest.raises(PayloadError) as info:
        _keyed(b'{"prompt": "a", "text": "b"}', ("prompt", "text"))
    assert info.value.reason is Reason.BAD_ENVELOPE
    assert "'prompt' or 'text'" in info.value.detail


def test_other_text_pipelines_do_not_take_prompt() -> None:
    assert _reason(b'{"prompt": "hello"}', "application/json") is Reason.BAD_ENVELOPE
