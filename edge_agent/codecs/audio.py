"""Decode WAV and raw 16-bit PCM payloads into a mono int16 AudioSample."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edge_agent.codecs.formats import int_param
from edge_agent.codecs.resample import resample
from edge_agent.codecs.wav import read_wav
from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import AudioSample

if TYPE_CHECKING:
    from edge_agent.codecs.formats import PayloadFormat
    from edge_agent.codecs.limits import AudioLimits

__all__ = ["decode_audio", "to_int16"]

_RAW_FORMATS = {"S16LE": "<i2", "S16BE": ">i2"}
_FLOAT32_BYTES = 4
_INT8_BYTES = 1
_INT16_BYTES = 2
_INT24_BYTES = 3


def _check_shape(channels: int, rate: int, frames: int, limits: AudioLimits) -> None:
    if channels > limits.max_channels:
        raise PayloadError(
            Reason.UNSUPPORTED_FORMAT, f"{channels} channels > limit {limits.max_channels}"
        )
    if rate > limits.max_rate:
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"rate {rate} Hz > limit {limits.max_rate}")
    if frames > limits.max_seconds * rate:
        raise PayloadError(
            Reason.AUDIO_TOO_LONG,
            f"{frames / rate:.2f} s > limit {limits.max_seconds} s",
        )


def _wav_samples(payload: bytes, limits: AudioLimits) -> tuple[npt.NDArray[np.float32], int, int]:
    info = read_wav(payload)
    _check_shape(info.channels, info.rate, info.frames, limits)
    if info.truncated:
        raise PayloadError(Reason.MALFORMED_AUDIO, "WAV truncated: data chunk runs past the end")
    if info.frames == 0:
        raise PayloadError(Reason.MALFORMED_AUDIO, "WAV holds no samples")
    width = info.bits // 8
    count = info.frames * info.channels
    raw = payload[info.data_offset : info.data_offset + count * width]
    samples: npt.NDArray[np.float32]
    if info.is_float:
        wide = np.frombuffer(raw, dtype="<f4" if width == _FLOAT32_BYTES else "<f8")
        samples = np.clip(np.nan_to_num(wide, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0).astype(
            np.float32
        )
    elif width == _INT8_BYTES:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == _INT24_BYTES:
        trio = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        packed = trio[:, 0] | (trio[:, 1] << 8) | (trio[:, 2] << 16)
        signed = (packed << 8) >> 8  # sign-extend 24 -> 32 bits
        samples = signed.astype(np.float32) / float(1 << 23)
    else:
        dtype = "<i2" if width == _INT16_BYTES else "<i4"
        samples = (
            np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (info.bits - 1))
        ).astype(np.float32)
    return samples.reshape(-1, info.channels), info.rate, info.channels


def _raw_samples(
    payload: bytes, fmt: PayloadFormat, limits: AudioLimits
) -> tuple[npt.NDArray[np.int16], int, int]:
    if fmt.mime == "audio/L16":
        dtype = ">i2"
    else:
        name = fmt.params.get("format")
        if name is None:
            raise PayloadError(Reason.BAD_CONTENT_TYPE, "audio/x-raw needs parameter 'format'")
        found = _RAW_FORMATS.get(name.upper())
        if found is None:
            raise PayloadError(Reason.UNSUPPORTED_FORMAT, "audio/x-raw supports format=S16LE|S16BE")
        dtype = found
    rate = int_param(fmt, "rate")
    channels = int_param(fmt, "channels", default=1)
    frame_bytes = 2 * channels
    _check_shape(channels, rate, len(payload) // frame_bytes, limits)
    if len(payload) % frame_bytes:
        raise PayloadError(
            Reason.MALFORMED_AUDIO,
            f"{len(payload)} bytes is not a whole number of {channels}-channel 16-bit frames",
        )
    ints: npt.NDArray[np.int16] = np.frombuffer(payload, dtype=dtype)
    return ints.reshape(-1, channels), rate, channels


def to_int16(signal: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    """Convert float samples in [-1, 1] to int16 (exact for values from int16 / 32768).

    Args:
        signal: Float samples.

    Returns:
        Rounded, clipped int16 samples.
    """
    scaled = np.rint(signal.astype(np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def decode_audio(
    payload: bytes, fmt: PayloadFormat, limits: AudioLimits, target_rate: int | None
) -> AudioSample:
    """Decode an audio payload, downmix it to mono and resample it.

    Args:
        payload: The bytes (already checked non-empty and within ``max_bytes``).
        fmt: The resolved format (``audio/*``).
        limits: Audio limits.
        target_rate: Rate the pipeline wants, or None to keep the payload's rate.

    Returns:
        Mono int16 samples at ``target_rate``.

    Raises:
        PayloadError: MALFORMED_AUDIO, AUDIO_TOO_LONG, BAD_CONTENT_TYPE or UNSUPPORTED_FORMAT.
    """
    if fmt.mime == "audio/wav":
        frames, rate, channels = _wav_samples(payload, limits)
    elif fmt.mime in ("audio/L16", "audio/x-raw"):
        ints, rate, channels = _raw_samples(payload, fmt, limits)
        if channels == 1 and target_rate in (None, rate):
            # A stream chunk as the pipeline wants it: the float round trip below gives
            # back the same integers, at several times the cost of a byte-order copy.
            return AudioSample(
                pcm=ints[:, 0].astype(np.int16),
                rate=rate,
                source_rate=rate,
                source_channels=1,
                source_format=fmt.mime,
            )
        frames = ints.astype(np.float32) / 32768.0
    else:
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"{fmt.mime} is not an audio format")
    mono = (
        frames[:, 0] if channels == 1 else frames.mean(axis=1, dtype=np.float64).astype(np.float32)
    )
    out_rate = rate if target_rate is None else target_rate
    pcm = to_int16(resample(mono, rate, out_rate))
    return AudioSample(
        pcm=pcm, rate=out_rate, source_rate=rate, source_channels=channels, source_format=fmt.mime
    )
