"""Audio decoding: WAV variants, raw PCM, downmix, resampling quality, limits."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge_agent.codecs import AudioLimits, Limits, decode
from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import AudioSample

Riff = Callable[..., bytes]
Wav = Callable[[npt.NDArray[np.int16], int], bytes]
Tone = Callable[..., npt.NDArray[np.float64]]

PCM, FLOAT = 1, 3


def _audio(
    payload: bytes,
    content_type: str | None = None,
    rate: int | None = None,
    limits: Limits | None = None,
) -> AudioSample:
    sample = decode(
        payload,
        modality="audio",
        content_type=content_type,
        declared_format=None,
        limits=limits or Limits(),
        audio_rate=rate,
    )
    assert isinstance(sample, AudioSample)
    return sample


def _reason(
    payload: bytes, content_type: str | None = None, limits: Limits | None = None
) -> Reason:
    with pytest.raises(PayloadError) as info:
        _audio(payload, content_type, limits=limits)
    return info.value.reason


def _peak_hz(pcm: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


def _ramp() -> npt.NDArray[np.int16]:
    return np.array([-32768, -1000, 0, 1000, 32767], dtype=np.int16)


def test_int16_wav_round_trips_exactly(make_wav: Wav) -> None:
    sample = _audio(make_wav(_ramp(), 16000))
    np.testing.assert_array_equal(sample.pcm, _ramp())
    assert (sample.rate, sample.source_rate, sample.source_channels) == (16000, 16000, 1)


def test_stereo_is_averaged_to_mono(make_wav: Wav) -> None:
    frames = np.array([[1000, 3000], [-2000, 0]], dtype=np.int16)
    np.testing.assert_array_equal(_audio(make_wav(frames, 8000)).pcm, [2000, -1000])


def test_eight_bit_wav_is_unsigned(make_riff: Riff) -> None:
    payload = make_riff(bytes([0, 128, 255]), tag=PCM, channels=1, rate=8000, bits=8)
    np.testing.assert_array_equal(_audio(payload).pcm, [-32768, 0, 32512])


def test_twenty_four_bit_wav_keeps_sign(make_riff: Riff) -> None:
    data = b"".join(
        v.to_bytes(3, "little", signed=True) for v in (-(1 << 23), -256, 0, 256, (1 << 23) - 1)
    )
    payload = make_riff(data, tag=PCM, channels=1, rate=8000, bits=24)
    np.testing.assert_array_equal(_audio(payload).pcm, [-32768, -1, 0, 1, 32767])


def test_thirty_two_bit_int_wav(make_riff: Riff) -> None:
    data = np.array([-(1 << 31), 1 << 30], dtype="<i4").tobytes()
    np.testing.assert_array_equal(
        _audio(make_riff(data, tag=PCM, channels=1, rate=8000, bits=32)).pcm, [-32768, 16384]
    )


@pytest.mark.parametrize(("bits", "dtype"), [(32, "<f4"), (64, "<f8")])
def test_float_wav_is_decoded_and_clipped(make_riff: Riff, bits: int, dtype: str) -> None:
    data = np.array([-2.0, -0.5, 0.0, 0.25, np.nan, 1.5], dtype=dtype).tobytes()
    payload = make_riff(data, tag=FLOAT, channels=1, rate=22050, bits=bits)
    np.testing.assert_array_equal(_audio(payload).pcm, [-32768, -16384, 0, 8192, 0, 32767])


def test_extensible_float_wav(make_riff: Riff) -> None:
    data = np.array([0.5, -0.5, 0.25, 0.25], dtype="<f4").tobytes()
    payload = make_riff(data, tag=FLOAT, channels=2, rate=48000, bits=32, extensible=True)
    sample = _audio(payload)
    np.testing.assert_array_equal(sample.pcm, [0, 8192])
    assert sample.source_channels == 2


def test_odd_sized_chunks_are_skipped_with_padding(make_riff: Riff) -> None:
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    payload = make_riff(
        _ramp().tobytes(), tag=PCM, channels=1, rate=8000, bits=16, extra_chunks=extra
    )
    np.testing.assert_array_equal(_audio(payload).pcm, _ramp())


def test_l16_is_big_endian() -> None:
    payload = np.array([1, -2, 256], dtype=">i2").tobytes()
    np.testing.assert_array_equal(_audio(payload, "audio/L16;rate=8000").pcm, [1, -2, 256])


def test_x_raw_s16le_with_channels() -> None:
    payload = np.array([100, 300, -100, -300], dtype="<i2").tobytes()
    sample = _audio(payload, "audio/x-raw;format=S16LE;rate=16000;channels=2")
    np.testing.assert_array_equal(sample.pcm, [200, -200])


def test_tone_frequency_survives_44k1_to_16k(make_tone: Tone, make_wav: Wav) -> None:
    pcm = (make_tone(1000, 44100, 0.5) * 32767).astype(np.int16)
    sample = _audio(make_wav(pcm, 44100), rate=16000)
    assert (sample.rate, len(sample.pcm)) == (16000, 8000)
    assert abs(_peak_hz(sample.pcm, 16000) - 1000) <= 2
    ideal = make_tone(1000, 16000, 0.5) * 32767
    assert np.abs(sample.pcm[200:-200] - ideal[200:-200]).max() < 4  # within a few LSB


def test_tone_frequency_survives_8k_to_16k(make_tone: Tone, make_wav: Wav) -> None:
    pcm = (make_tone(1000, 8000, 0.5) * 32767).astype(np.int16)
    sample = _audio(make_wav(pcm, 8000), rate=16000)
    assert len(sample.pcm) == 8000
    assert abs(_peak_hz(sample.pcm, 16000) - 1000) <= 2
    ideal = make_tone(1000, 16000, 0.5) * 32767
    assert np.abs(sample.pcm[200:-200] - ideal[200:-200]).max() < 4


def test_downsampling_removes_content_above_new_nyquist(make_tone: Tone, make_wav: Wav) -> None:
    pcm = (make_tone(12000, 44100, 0.5) * 32767).astype(np.int16)  # would alias to 4 kHz
    sample = _audio(make_wav(pcm, 44100), rate=16000)
    assert np.sqrt(np.mean(sample.pcm[200:-200].astype(np.float64) ** 2)) < 20  # < -60 dBFS


def test_truncated_wav_is_malformed(wav_payload: bytes) -> None:
    assert _reason(wav_payload[:-10]) is Reason.MALFORMED_AUDIO


def test_wav_without_data_chunk_is_malformed(wav_payload: bytes) -> None:
    assert _reason(wav_payload[:36]) is Reason.MALFORMED_AUDIO


def test_wav_over_duration_limit_is_too_long(make_wav: Wav) -> None:
    limits = Limits(audio=AudioLimits(max_seconds=0.5))
    assert (
        _reason(make_wav(np.zeros(8001, np.int16), 16000), limits=limits) is Reason.AUDIO_TOO_LONG
    )


def test_duration_limit_is_inclusive(make_wav: Wav) -> None:
    limits = Limits(audio=AudioLimits(max_seconds=0.5))
    assert len(_audio(make_wav(np.zeros(8000, np.int16), 16000), limits=limits).pcm) == 8000


def test_raw_over_duration_limit_is_too_long() -> None:
    limits = Limits(audio=AudioLimits(max_seconds=1))
    assert _reason(b"\x00" * 16002, "audio/L16;rate=8000", limits) is Reason.AUDIO_TOO_LONG


def test_raw_with_partial_frame_is_malformed() -> None:
    assert _reason(b"\x00" * 7, "audio/L16;rate=8000;channels=2") is Reason.MALFORMED_AUDIO


@pytest.mark.parametrize("ctype", ["audio/L16", "audio/L16;rate=0", "audio/x-raw;rate=8000"])
def test_raw_without_valid_parameters_is_bad_content_type(ctype: str) -> None:
    assert _reason(b"\x00" * 8, ctype) is Reason.BAD_CONTENT_TYPE


@pytest.mark.parametrize(
    "ctype",
    [
        "audio/x-raw;format=F32LE;rate=8000",
        "audio/L16;rate=8000;channels=9",
        "audio/L16;rate=400000",
    ],
)
def test_raw_outside_supported_space_is_unsupported(ctype: str) -> None:
    assert _reason(b"\x00" * 72, ctype) is Reason.UNSUPPORTED_FORMAT


@pytest.mark.parametrize(("tag", "bits"), [(6, 8), (PCM, 12), (FLOAT, 16)])
def test_unsupported_wav_encodings(make_riff: Riff, tag: int, bits: int) -> None:
    payload = make_riff(b"\x00" * 12, tag=tag, channels=1, rate=8000, bits=bits)
    assert _reason(payload) is Reason.UNSUPPORTED_FORMAT


def test_wav_with_inconsistent_block_align_is_malformed(wav_payload: bytes) -> None:
    broken = wav_payload[:32] + struct.pack("<H", 3) + wav_payload[34:]
    assert _reason(broken) is Reason.MALFORMED_AUDIO


def _wav_header(rate: int, data_size: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_size)
    )


def test_wav_declaring_an_hour_is_too_long_not_malformed() -> None:
    payload = _wav_header(16000, 16000 * 2 * 3600) + b"\0" * 3200
    with pytest.raises(PayloadError) as info:
        decode(
            payload,
            modality="audio",
            content_type="audio/wav",
            declared_format=None,
            limits=Limits(),
            audio_rate=None,
        )
    assert info.value.reason is Reason.AUDIO_TOO_LONG


@pytest.mark.parametrize("declared", [0, 0x7FFFFFFF, 0xFFFFFFFF])
def test_streaming_wav_with_unknown_length_reads_to_the_end(declared: int) -> None:
    payload = _wav_header(16000, declared) + b"\x10\x00" * 1600
    sample = decode(
        payload,
        modality="audio",
        content_type="audio/wav",
        declared_format=None,
        limits=Limits(),
        audio_rate=None,
    )
    assert isinstance(sample, AudioSample)
    assert len(sample.pcm) == 1600


@given(
    samples=hnp.arrays(np.int16, st.integers(1, 400)),
    byte_order=st.sampled_from(
        ["audio/L16", "audio/x-raw;format=S16LE", "audio/x-raw;format=S16BE"]
    ),
)
def test_mono_chunks_at_the_pipeline_rate_come_back_exactly(
    samples: npt.NDArray[np.int16], byte_order: str
) -> None:
    dtype = "<i2" if "S16LE" in byte_order else ">i2"
    sample = _audio(samples.astype(dtype).tobytes(), f"{byte_order};rate=16000", rate=16000)
    assert sample.pcm.dtype == np.int16
    assert sample.pcm.flags.writeable  # a copy in native order, not a view of the payload
    np.testing.assert_array_equal(sample.pcm, samples)


@given(samples=hnp.arrays(np.int16, st.integers(2, 400)))
def test_mono_chunks_at_another_rate_are_resampled(samples: npt.NDArray[np.int16]) -> None:
    sample = _audio(samples.astype(">i2").tobytes(), "audio/L16;rate=8000", rate=16000)
    assert sample.rate == 16000
    assert sample.source_rate == 8000
    assert abs(len(sample.pcm) - 2 * len(samples)) <= 1
