"""Band-wise PNG decoding equals Pillow's full decode, in every format it takes."""

from __future__ import annotations

import io
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edge_agent.codecs import png_bands
from edge_agent.codecs.png_bands import decode_reduced, read_header

# (Pillow mode to save, bits) -> a PNG of that colour type and depth.
_FORMATS = [
    ("1", 1),
    ("L", 8),
    ("LA", 8),
    ("RGB", 8),
    ("RGBA", 8),
    ("P", 8),
    ("P", 4),
    ("P", 2),
    ("P", 1),
    ("I;16", 16),
    ("L", 2),
    ("L", 4),
]


def _png(mode: str, bits: int, width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise so the encoder picks Sub/Up/Avg/Paeth rows.
    base = (np.add.outer(np.arange(height), np.arange(width)) * 3 % 256).astype(np.uint8)
    noise = rng.integers(0, 40, (height, width), dtype=np.uint8)
    gray = base + noise
    if mode == "1":
        image = Image.fromarray(gray > 128)
    elif mode == "I;16":
        image = Image.fromarray(
            gray.astype(np.uint16) * 257 + rng.integers(0, 200, gray.shape, dtype=np.uint16)
        )
    elif mode == "P":
        rgb = np.stack([gray, 255 - gray, base], axis=2)
        image = Image.fromarray(rgb).quantize(colors=1 << bits)
    elif mode == "L":
        image = Image.fromarray(gray)
    else:
        chans = {"LA": 2, "RGB": 3, "RGBA": 4}[mode]
        stack = [gray, 255 - gray, base, noise * 6][:chans]
        image = Image.fromarray(np.stack(stack, axis=2), mode)
    out = io.BytesIO()
    kwargs = {"bits": bits} if mode in ("P", "L") and bits < 8 else {}
    if mode == "L" and bits < 8:
        image = image.quantize(colors=1 << bits).convert("L")  # few levels, saved at low depth
        kwargs = {"bits": bits}
    image.save(out, "PNG", **kwargs)
    return out.getvalue()


def _reference(payload: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(payload)) as image:
        image.load()
        if image.mode.startswith("I;16"):
            wide = np.asarray(image, np.float64)
            gray = np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)
            return np.repeat(gray[:, :, None], 3, axis=2)
        return np.asarray(image.convert("RGB"))


@pytest.fixture(autouse=True)
def _small_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few hundred bytes per band: every test crosses many band boundaries.
    monkeypatch.setattr(png_bands, "_BAND_BYTES", 300)
    monkeypatch.setattr(png_bands, "_FEED_BYTES", 64)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(_FORMATS),
    width=st.integers(1, 70),
    height=st.integers(1, 40),
    seed=st.integers(0, 10_000),
)
def test_bands_equal_pillow_full_decode(
    fmt: tuple[str, int], width: int, height: int, seed: int
) -> None:
    payload = _png(*fmt, width, height, seed)
    header = read_header(payload)
    assert header.supported
    got = decode_reduced(payload, header, 1)
    np.testing.assert_array_equal(got, _reference(payload))


@settings(max_examples=30, deadline=None)
@given(
    factor=st.integers(2, 5),
    width=st.integers(10, 60),
    height=st.integers(10, 60),
    seed=st.integers(0, 1000),
)
def test_reduced_bands_are_box_means_of_the_full_decode(
    factor: int, width: int, height: int, seed: int
) -> None:
    payload = _png("RGB", 8, width, height, seed)
    full = _reference(payload).astype(np.float32)
    rows, cols = height // factor, width // factor
    cells = full[: rows * factor, : cols * factor].reshape(rows, factor, cols, factor, 3)
    expected = (cells.mean(axis=(1, 3)) + 0.5).astype(np.uint8)
    got = decode_reduced(payload, read_header(payload), factor)
    assert got.shape == (rows, cols, 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def _with_ihdr(payload: bytes, *, depth: int | None = None, interlace: int | None = None) -> bytes:
    import struct
    import zlib

    fields = list(struct.unpack(">IIBBBBB", payload[16:29]))
    fields[2] = depth if depth is not None else fields[2]
    fields[6] = interlace if interlace is not None else fields[6]
    data = struct.pack(">IIBBBBB", *fields)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + data) & 0xFFFFFFFF)
    return payload[:16] + data + crc + payload[33:]


def test_interlaced_and_16bit_colour_are_left_to_the_full_decoder() -> None:
    rgb = _png("RGB", 8, 8, 8, 0)
    # Pillow writes neither: mark the header (read_header only reads it).
    assert not read_header(_with_ihdr(rgb, interlace=1)).supported
    assert not read_header(_with_ihdr(rgb, depth=16)).supported
    assert read_header(rgb).supported


@pytest.mark.parametrize("cut", [40, 200, -12])
def test_truncated_data_raises(cut: int) -> None:
    payload = _png("RGB", 8, 50, 50, 1)
    header = read_header(payload)
    start, length = header.idat[0]
    broken = payload[: start + min(length, cut if cut > 0 else length + cut)]
    use = header if cut < 0 else None
    with pytest.raises((ValueError, zlib.error)):
        decode_reduced(broken, use or read_header(broken), 1)


def test_a_wide_png_decodes_in_a_fraction_of_its_rgb_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(png_bands, "_BAND_BYTES", 4 << 20)
    monkeypatch.setattr(png_bands, "_FEED_BYTES", 1 << 20)
    width, height = 8192, 1200  # 29.5 MB as RGB
    gray = (np.add.outer(np.arange(height), np.arange(width)) % 251).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(np.stack([gray, gray, gray], 2)).save(out, "PNG", compress_level=1)
    payload = out.getvalue()
    tracemalloc.start()
    got = decode_reduced(payload, read_header(payload), 8)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert got.shape == (150, 1024, 3)
    assert peak < 40 << 20, peak  # numpy buffers are traced; Pillow's band images are small
