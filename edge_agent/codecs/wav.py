"""A small, bounds-checked RIFF/WAVE reader (PCM int and IEEE float).

Python's ``wave`` module reads integer PCM only, so the chunks are walked
here; every size read from the file is checked against the payload length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from edge_agent.errors import PayloadError, Reason

__all__ = ["WavInfo", "read_wav"]

_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
# Bytes 2..16 of the KSDATAFORMAT_SUBTYPE_* GUIDs for PCM and IEEE float.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_RIFF_HEADER_BYTES = 12
_CHUNK_HEADER_BYTES = 8
_FMT_BYTES = 16
_FMT_EXTENSIBLE_BYTES = 40
_INT_BITS = frozenset({8, 16, 24, 32})
_FLOAT_BITS = frozenset({32, 64})
# Data sizes streaming writers put in the header when the length is not known yet
# (arecord and sox write 0x7FFFFFFF, ffmpeg to a pipe 0xFFFFFFFF): "up to the end".
_UNKNOWN_SIZES = frozenset({0, 0x7FFFFFFF, 0xFFFFFFFF})


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What the header of a WAV file says, and where its samples are.

    Attributes:
        is_float: True for IEEE float samples, False for integer PCM.
        bits: Bits per sample (container size).
        channels: Channel count.
        rate: Sample rate in Hz.
        data_offset: Offset of the first sample byte in the payload.
        frames: Whole frames the data chunk declares (all available unless ``truncated``).
        truncated: The data chunk declares more bytes than the payload holds.
    """

    is_float: bool
    bits: int
    channels: int
    rate: int
    data_offset: int
    frames: int
    truncated: bool = False


def _malformed(detail: str) -> PayloadError:
    return PayloadError(Reason.MALFORMED_AUDIO, detail)


def _parse_fmt(body: bytes) -> tuple[bool, int, int, int]:
    """Return (is_float, bits, channels, rate) from a ``fmt `` chunk body."""
    if len(body) < _FMT_BYTES:
        raise _malformed(f"fmt chunk too short ({len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE:
        if len(body) < _FMT_EXTENSIBLE_BYTES:
            raise _malformed("WAVE_FORMAT_EXTENSIBLE fmt chunk too short")
        subformat = body[24:40]
        if subformat[2:] != _GUID_TAIL:
            raise PayloadError(Reason.UNSUPPORTED_FORMAT, "unknown WAV sub-format GUID")
        tag = int.from_bytes(subformat[:2], "little")
    if tag not in (_PCM, _IEEE_FLOAT):
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"WAV format tag 0x{tag:04x} not supported")
    is_float = tag == _IEEE_FLOAT
    if bits not in (_FLOAT_BITS if is_float else _INT_BITS):
        kind = "float" if is_float else "integer"
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"{bits}-bit {kind} WAV not supported")
    if channels == 0 or rate == 0:
        raise _malformed(f"WAV declares {channels} channels at {rate} Hz")
    if block_align != channels * bits // 8:
        raise _malformed(f"WAV block align {block_align} != {channels} x {bits} bits")
    return is_float, bits, channels, rate


def _data_info(fmt: tuple[bool, int, int, int] | None, offset: int, size: int) -> WavInfo:
    if fmt is None:
        raise _malformed("WAV data chunk before fmt chunk")
    is_float, bits, channels, rate = fmt
    frames = size // (channels * bits // 8)
    return WavInfo(is_float, bits, channels, rate, offset, frames)


def read_wav(payload: bytes) -> WavInfo:
    """Parse the RIFF/WAVE header of a payload.

    Args:
        payload: The whole WAV file.

    Returns:
        The format and the location of the samples.

    Raises:
        PayloadError: MALFORMED_AUDIO (bad or truncated structure) or
            UNSUPPORTED_FORMAT (compressed, RIFX/RF64, odd sample sizes).
    """
    if len(payload) < _RIFF_HEADER_BYTES:
        raise _malformed("WAV shorter than its RIFF header")
    if payload[:4] in (b"RIFX", b"RF64", b"BW64"):
        raise PayloadError(Reason.UNSUPPORTED_FORMAT, "RIFX/RF64 WAV not supported")
    if payload[:4] != b"RIFF" or payload[8:12] != b"WAVE":
        raise _malformed("not a RIFF/WAVE file")
    end = len(payload)
    pos = _RIFF_HEADER_BYTES
    fmt: tuple[bool, int, int, int] | None = None
    while pos + _CHUNK_HEADER_BYTES <= end:
        chunk_id = payload[pos : pos + 4]
        (size,) = struct.unpack("<I", payload[pos + 4 : pos + 8])
        body_start = pos + _CHUNK_HEADER_BYTES
        left = end - body_start
        if chunk_id == b"data":
            if size in _UNKNOWN_SIZES:
                return _data_info(fmt, body_start, left)
            info = _data_info(fmt, body_start, size)
            # A declared length past the payload is reported after the duration check
            # (audio_too_long says more than malformed_audio for an hour-long header).
            return info if size <= left else replace(info, truncated=True)
        if size > left:
            raise _malformed(f"WAV truncated: chunk says {size} bytes, {left} left")
        if chunk_id == b"fmt ":
            if fmt is not None:
                raise _malformed("WAV has two fmt chunks")
            fmt = _parse_fmt(payload[body_start : body_start + size])
        pos = body_start + size + (size & 1)  # chunks are padded to even sizes
    raise _malformed("WAV has no data chunk" if fmt is not None else "WAV has no fmt chunk")
