"""Payload factories for the codec tests: real files made with Pillow, wave and numpy."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

WavFactory = Callable[..., bytes]
ImageFactory = Callable[..., bytes]

_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def wav_bytes(pcm: npt.NDArray[np.int16], rate: int) -> bytes:
    """Write int16 frames (frames x channels, or 1-D mono) with the stdlib ``wave`` module."""
    frames = pcm.reshape(pcm.shape[0], -1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype("<i2").tobytes())
    return buf.getvalue()


def riff_bytes(
    data: bytes,
    *,
    tag: int,
    channels: int,
    rate: int,
    bits: int,
    extensible: bool = False,
    extra_chunks: bytes = b"",
) -> bytes:
    """Write a WAV file by hand (for float, 24-bit and WAVE_FORMAT_EXTENSIBLE)."""
    block = channels * bits // 8
    head = struct.pack(
        "<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block, block, bits
    )
    if extensible:
        head += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + _GUID_TAIL
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(head)) + head + extra_chunks
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> npt.NDArray[np.float64]:
    """A sine tone as float samples."""
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def encoded_image(
    rgb: npt.NDArray[np.uint8],
    fmt: str,
    *,
    mode: str | None = None,
    exif_orientation: int | None = None,
) -> bytes:
    """Encode an array with Pillow (``fmt`` is a Pillow format name)."""
    image = Image.fromarray(rgb)
    if mode is not None:
        image = image.convert(mode)
    buf = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buf, fmt, exif=exif.tobytes())
    else:
        image.save(buf, fmt)
    return buf.getvalue()


def gradient(height: int, width: int) -> npt.NDArray[np.uint8]:
    """A smooth RGB test picture (compresses well, survives JPEG)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), np.full_like(x, 128)],
        axis=2,
    ).astype(np.uint8)


@pytest.fixture(scope="session")
def jpeg_payload() -> bytes:
    """A 48x64 JPEG."""
    return encoded_image(gradient(48, 64), "JPEG")


@pytest.fixture(scope="session")
def png_payload() -> bytes:
    """A 48x64 PNG."""
    return encoded_image(gradient(48, 64), "PNG")


@pytest.fixture(scope="session")
def wav_payload() -> bytes:
    """0.25 s of a 440 Hz stereo int16 tone at 16 kHz."""
    mono = (tone(440, 16000, 0.25) * 32767).astype(np.int16)
    return wav_bytes(np.stack([mono, mono], axis=1), 16000)


@pytest.fixture(scope="session")
def make_wav() -> Callable[[npt.NDArray[np.int16], int], bytes]:
    """Factory: int16 frames + rate -> WAV written by the ``wave`` module."""
    return wav_bytes


@pytest.fixture(scope="session")
def make_riff() -> Callable[..., bytes]:
    """Factory: hand-written WAV (float, 24-bit, extensible, extra chunks)."""
    return riff_bytes


@pytest.fixture(scope="session")
def make_tone() -> Callable[..., npt.NDArray[np.float64]]:
    """Factory: sine tone as float samples."""
    return tone


@pytest.fixture(scope="session")
def make_image() -> Callable[..., bytes]:
    """Factory: encode an RGB array with Pillow."""
    return encoded_image


@pytest.fixture(scope="session")
def make_gradient() -> Callable[[int, int], npt.NDArray[np.uint8]]:
    """Factory: smooth RGB picture of a given height and width."""
    return gradient
