"""Property tests: codecs raise nothing but PayloadError, and limits are exact."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.codecs import (
    AudioLimits,
    ImageLimits,
    Limits,
    TextLimits,
    decode,
    parse_content_type,
)
from edge_agent.codecs.resample import resample
from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import AudioSample, ImageSample, Modality, Sample, TextSample

Wav = Callable[[npt.NDArray[np.int16], int], bytes]
_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_SAMPLE_TYPES: dict[Modality, type[Sample]] = {
    "image": ImageSample,
    "audio": AudioSample,
    "text": TextSample,
}
_CONTENT_TYPES: dict[Modality, list[str | None]] = {
    "image": [
        None,
        "image/jpeg",
        "image/png",
        "image/x-raw-rgb;width=4;height=4",
        "image/x-raw-gray;width=8;height=2",
    ],
    "audio": [
        None,
        "audio/wav",
        "audio/L16;rate=16000",
        "audio/x-raw;format=S16LE;rate=8000;channels=2",
    ],
    "text": [None, "text/plain", "application/json", "text/plain;charset=utf-8"],
}
_MAGIC = [
    b"",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"{",
    b'{"text": ',
]


def _decode_or_reject(
    payload: bytes, modality: Modality, ctype: str | None, limits: Limits | None = None
) -> None:
    try:
        sample = decode(
            payload,
            modality=modality,
            content_type=ctype,
            declared_format=None,
            limits=limits or Limits(),
            audio_rate=16000,
        )
    except PayloadError as err:
        assert err.size == len(payload)  # noqa: PT017 - rejecting is one of the two valid outcomes
        return
    assert isinstance(sample, _SAMPLE_TYPES[modality])


@pytest.mark.parametrize("modality", ["image", "audio", "text"])
@_SETTINGS
@given(data=st.data(), magic=st.sampled_from(_MAGIC), tail=st.binary(max_size=300))
def test_random_bytes_only_raise_payload_error(
    modality: Modality, data: st.DataObject, magic: bytes, tail: bytes
) -> None:
    ctype = data.draw(st.sampled_from(_CONTENT_TYPES[modality]))
    _decode_or_reject(magic + tail, modality, ctype)


@_SETTINGS
@given(value=st.text(max_size=80))
def test_content_type_parser_only_raises_payload_error(value: str) -> None:
    try:
        parse_content_type(value)
    except PayloadError as err:
        assert err.reason is Reason.BAD_CONTENT_TYPE  # noqa: PT017 - parsing may succeed or fail


@pytest.mark.parametrize(
    ("fixture", "modality"),
    [("jpeg_payload", "image"), ("png_payload", "image"), ("wav_payload", "audio")],
)
@_SETTINGS
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncations_give_payload_error_or_sample(
    fixture: str, modality: Modality, cut: float, request: pytest.FixtureRequest
) -> None:
    payload: bytes = request.getfixturevalue(fixture)
    _decode_or_reject(payload[: int(len(payload) * cut)], modality, None)


@pytest.mark.parametrize(
    ("fixture", "modality"),
    [("jpeg_payload", "image"), ("png_payload", "image"), ("wav_payload", "audio")],
)
@_SETTINGS
@given(
    flips=st.lists(
        st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_corruptions_give_payload_error_or_sample(
    fixture: str, modality: Modality, flips: list[tuple[float, int]], request: pytest.FixtureRequest
) -> None:
    payload = bytearray(request.getfixturevalue(fixture))
    for where, mask in flips:
        payload[int(where * len(payload))] ^= mask
    _decode_or_reject(bytes(payload), modality, None)


@pytest.mark.parametrize("modality", ["image", "audio", "text"])
@_SETTINGS
@given(
    limit=st.integers(1, 2000),
    extra=st.integers(1, 2000),
    byte=st.binary(min_size=1, max_size=1),
    ctype=st.sampled_from([None, "image/png", "audio/wav", "text/plain", "bad type"]),
)
def test_over_max_bytes_is_too_large(
    modality: Modality, limit: int, extra: int, byte: bytes, ctype: str | None
) -> None:
    limits = Limits(
        image=ImageLimits(max_bytes=limit),
        audio=AudioLimits(max_bytes=limit),
        text=TextLimits(max_bytes=limit),
    )
    with pytest.raises(PayloadError) as info:
        decode(
            byte * (limit + extra),
            modality=modality,
            content_type=ctype,
            declared_format=None,
            limits=limits,
            audio_rate=None,
        )
    assert info.value.reason is Reason.TOO_LARGE


@settings(max_examples=60, deadline=None)
@given(
    frames=st.integers(1, 2000).flatmap(
        lambda n: st.integers(1, 4).flatmap(lambda c: arrays(np.int16, (n, c)))
    ),
    rate=st.integers(1000, 96000),
)
def test_wav_round_trip_keeps_count_and_rate(
    frames: npt.NDArray[np.int16], rate: int, make_wav: Wav
) -> None:
    sample = decode(
        make_wav(frames, rate),
        modality="audio",
        content_type=None,
        declared_format=None,
        limits=Limits(),
        audio_rate=None,
    )
    assert isinstance(sample, AudioSample)
    assert (len(sample.pcm), sample.rate, sample.source_rate, sample.source_channels) == (
        frames.shape[0],
        rate,
        rate,
        frames.shape[1],
    )
    if frames.shape[1] == 1:
        np.testing.assert_array_equal(sample.pcm, frames[:, 0])


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(0, 3000),
    src=st.integers(1000, 96000),
    dst=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
)
def test_resampled_length_is_floor_of_ratio(n: int, src: int, dst: int) -> None:
    out = resample(np.zeros(n, np.float32), src, dst)
    assert len(out) == n * dst // src


@_SETTINGS
@given(
    text=st.text(min_size=1, max_size=60).filter(
        lambda t: not t.startswith(("\ufeff", "{", " ", "\t", "\r", "\n"))
    )
)
def test_char_limit_exact_at_boundary(text: str) -> None:
    exact = Limits(text=TextLimits(max_chars=len(text)))
    sample = decode(
        text.encode(),
        modality="text",
        content_type="text/plain",
        declared_format=None,
        limits=exact,
        audio_rate=None,
    )
    assert isinstance(sample, TextSample)
    assert sample.text == text
    below = Limits(text=TextLimits(max_chars=len(text) - 1)) if len(text) > 1 else None
    if below is not None:
        with pytest.raises(PayloadError) as info:
            decode(
                text.encode(),
                modality="text",
                content_type="text/plain",
                declared_format=None,
                limits=below,
                audio_rate=None,
            )
        assert info.value.reason is Reason.TEXT_TOO_LONG


@_SETTINGS
@given(text=st.text(max_size=40), limit=st.integers(1, 200))
def test_byte_limit_exact_at_boundary(text: str, limit: int) -> None:
    payload = text.encode().ljust(limit, b"x")
    limits = Limits(text=TextLimits(max_bytes=len(payload), max_chars=1_000_000))
    sample = decode(
        payload,
        modality="text",
        content_type="text/plain",
        declared_format=None,
        limits=limits,
        audio_rate=None,
    )
    assert isinstance(sample, TextSample)
    with pytest.raises(PayloadError) as info:
        decode(
            payload + b"x",
            modality="text",
            content_type="text/plain",
            declared_format=None,
            limits=limits,
            audio_rate=None,
        )
    assert info.value.reason is Reason.TOO_LARGE


@_SETTINGS
@given(depth=st.integers(1, 40), limit=st.integers(1, 30))
def test_json_depth_limit_exact(depth: int, limit: int) -> None:
    payload = ('{"text": "t", "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}").encode()
    if depth == 1:
        payload = b'{"text": "t"}'
    limits = Limits(text=TextLimits(max_json_depth=limit))
    try:
        decode(
            payload,
            modality="text",
            content_type=None,
            declared_format=None,
            limits=limits,
            audio_rate=None,
        )
    except PayloadError as err:
        assert err.reason is Reason.JSON_TOO_DEEP  # noqa: PT017 - outcome depends on the drawn depth
        assert depth > limit
    else:
        assert depth <= limit
