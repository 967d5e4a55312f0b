"""Decode a large PNG in bands of rows, reduced as it goes, in bounded memory.

Pillow decodes a PNG into one full-size image: a 116 KB 16384x2441 PNG costs
120 MB of RGB before anything can scale it down. JPEG has ``draft`` mode for
that; PNG has nothing. This module streams the IDAT data through zlib in
bounded pieces and lets Pillow's own C unfilter decode one band of rows at a
time: each band is wrapped as a small PNG whose *pixel format is the raw bytes*
(an 8-bit mode with the same bytes per pixel, so the filters see the same
neighbours) and whose first row is the previous band's last reconstructed row
with filter type 0 — the ``Up``/``Avg``/``Paeth`` filters of the band's first
row then see the right row above. Pillow hands back the exact unfiltered bytes;
numpy turns them into pixels (bit depths, palettes, 16-bit) and box-reduces
each band by an integer factor. Peak memory is a few bands, not the image.

Not handled here (the caller decodes those the ordinary way): interlaced
(Adam7) PNGs and 16-bit RGB/RGBA (6 or 8 bytes per pixel: no 8-bit mode has
that many channels). Every malformed input raises, and the caller maps it to
``malformed_image``.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["PngHeader", "decode_reduced", "read_header"]

_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_RAW_MODE = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # 8-bit modes by bytes per pixel
_COLOUR_FOR_MODE = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}
_BAND_BYTES = 4 << 20  # filtered bytes per band
_FEED_BYTES = 1 << 20  # compressed bytes handed to zlib at once


@dataclass(frozen=True, slots=True)
class PngHeader:
    """What the band decoder needs from a PNG's chunks.

    Attributes:
        width: Width in pixels.
        height: Height in pixels.
        depth: Bits per sample.
        colour: PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA).
        interlaced: Adam7 interlacing.
        palette: PLTE entries as an (n, 3) uint8 array, for colour type 3.
        idat: (offset, length) of each IDAT chunk's data in the payload.
    """

    width: int
    height: int
    depth: int
    colour: int
    interlaced: bool
    palette: npt.NDArray[np.uint8] | None
    idat: tuple[tuple[int, int], ...]

    @property
    def bytes_per_pixel(self) -> int:
        """The filter's left-neighbour distance in bytes (at least 1)."""
        return max(1, _CHANNELS[self.colour] * self.depth // 8)

    @property
    def row_bytes(self) -> int:
        """Bytes of one unfiltered row."""
        return (self.width * _CHANNELS[self.colour] * self.depth + 7) // 8

    @property
    def supported(self) -> bool:
        """Whether bands can decode this PNG (not interlaced, <= 4 bytes per pixel)."""
        return not self.interlaced and self.bytes_per_pixel in _RAW_MODE


def read_header(payload: bytes) -> PngHeader:
    """Walk the chunks of a PNG (no pixel data is decoded).

    Raises:
        ValueError: Not a well-formed PNG.
    """
    if not payload.startswith(_MAGIC):
        raise ValueError("not a PNG")
    pos = len(_MAGIC)
    ihdr: tuple[int, ...] | None = None
    palette = None
    idat: list[tuple[int, int]] = []
    while pos + 8 <= len(payload):
        length, kind = struct.unpack(">I4s", payload[pos : pos + 8])
        start, end = pos + 8, pos + 8 + length
        if end + 4 > len(payload):
            raise ValueError("chunk runs past the end")
        if kind == b"IHDR":
            if length != 13:
                raise ValueError("bad IHDR")
            ihdr = struct.unpack(">IIBBBBB", payload[start:end])
        elif kind == b"PLTE":
            if length % 3:
                raise ValueError("bad PLTE")
            palette = np.frombuffer(payload[start:end], np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append((start, length))
        elif kind == b"IEND":
            break
        pos = end + 4
    if ihdr is None or not idat:
        raise ValueError("no IHDR or no IDAT")
    width, height, depth, colour, _compression, _filter, interlace = ihdr
    if colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16) or width == 0 or height == 0:
        raise ValueError("unsupported IHDR")
    if colour == 3 and palette is None:
        raise ValueError("palette image without PLTE")
    return PngHeader(width, height, depth, colour, bool(interlace), palette, tuple(idat))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _unfilter_band(
    filtered: bytes, rows: int, previous: bytes | None, header: PngHeader
) -> npt.NDArray[np.uint8]:
    """Exact unfiltered bytes of ``rows`` rows, shape (rows, row_bytes)."""
    mode = _RAW_MODE[header.bytes_per_pixel]
    # Raw pixels of `mode` have as many bytes as the PNG's pixels (one byte per pixel
    # below 8 bits), so width * bytes_per_pixel == row_bytes and the filters' left
    # neighbour is the same byte.
    width = header.row_bytes // header.bytes_per_pixel
    lead = b"" if previous is None else b"\x00" + previous
    body = filtered
    total = rows + (1 if previous is not None else 0)
    ihdr = struct.pack(">IIBBBBB", width, total, 8, _COLOUR_FOR_MODE[mode], 0, 0, 0)
    png = (
        _MAGIC
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(lead + body, 0))
        + _chunk(b"IEND", b"")
    )
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        image.load()
        raw = np.asarray(image, np.uint8).reshape(total, header.row_bytes)
    return raw[1:] if previous is not None else raw


def _pixels(raw: npt.NDArray[np.uint8], header: PngHeader) -> npt.NDArray[np.uint8]:
    """Unfiltered bytes of some rows → (rows, width, channels) 8-bit samples (alpha dropped)."""
    rows, width, depth = raw.shape[0], header.width, header.depth
    channels = _CHANNELS[header.colour]
    if depth < 8:
        bits = np.unpackbits(raw, axis=1)[:, : width * depth].reshape(rows, width, depth)
        weights = (1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
        samples = (bits * weights).sum(axis=2, dtype=np.uint16).astype(np.uint8)
        if header.colour != 3:  # gray: scale 0..2^d-1 onto 0..255
            samples = (samples.astype(np.uint16) * 255 // ((1 << depth) - 1)).astype(np.uint8)
        values = samples.reshape(rows, width, 1)
    elif depth == 16:
        wide = raw.reshape(rows, width, channels, 2).astype(np.uint32)
        values = (((wide[..., 0] << 8) | wide[..., 1]) * 255 + 32767) // 65535
        values = values.astype(np.uint8)
    else:
        values = raw.reshape(rows, width, channels)
    if header.colour == 3 and header.palette is not None:
        index = np.minimum(values[..., 0], len(header.palette) - 1)
        rgb: npt.NDArray[np.uint8] = header.palette[index]
        return rgb
    if header.colour in (4, 6):
        values = values[..., :-1]  # alpha is dropped, as Pillow's convert("RGB") does
    out: npt.NDArray[np.uint8] = values
    return out


def _reduce(block: npt.NDArray[np.uint8], factor: int) -> npt.NDArray[np.uint8]:
    """Box-average ``factor`` x ``factor`` cells (edge columns that do not fill a cell are cut)."""
    if factor == 1:
        return block
    rows, width, channels = block.shape
    cut = width - width % factor
    cells = block[: rows - rows % factor, :cut].reshape(
        rows // factor, factor, cut // factor, factor, channels
    )
    reduced: npt.NDArray[np.uint8] = (cells.mean(axis=(1, 3), dtype=np.float32) + 0.5).astype(
        np.uint8
    )
    return reduced


def decode_reduced(payload: bytes, header: PngHeader, factor: int) -> npt.NDArray[np.uint8]:
    """Decode a PNG reduced by an integer ``factor`` in both directions, band by band.

    Args:
        payload: The PNG file.
        header: Its header (``header.supported`` must be true).
        factor: Reduction (1 keeps the size).

    Returns:
        RGB pixels, shape (height // factor, width // factor, 3).

    Raises:
        ValueError: Corrupt or truncated image data.
    """
    stride = 1 + header.row_bytes
    rows_per_band = max(factor, (_BAND_BYTES // stride) // factor * factor)
    band_bytes = rows_per_band * stride
    inflate = zlib.decompressobj()
    pending = bytearray()
    previous: bytes | None = None
    out: list[npt.NDArray[np.uint8]] = []
    done_rows = 0
    chunks = iter(header.idat)
    current: tuple[int, int] | None = next(chunks, None)
    offset = 0
    while done_rows < header.height:
        want = min(rows_per_band, header.height - done_rows)
        need = want * stride
        while len(pending) < need:
            if inflate.unconsumed_tail:
                data = inflate.unconsumed_tail
            elif current is None:
                raise ValueError("image data ends early")
            else:
                start, length = current
                data = payload[start + offset : start + min(length, offset + _FEED_BYTES)]
                if not data:
                    raise ValueError("image data ends early")
                offset += len(data)
                if offset >= length:
                    current, offset = next(chunks, None), 0
            pending += inflate.decompress(data, band_bytes - len(pending) + stride)
            if inflate.eof and len(pending) < need:
                raise ValueError("image data ends early")
        band, pending = bytes(pending[:need]), pending[need:]
        raw = _unfilter_band(band, want, previous, header)
        previous = raw[-1].tobytes()
        pixels = _pixels(raw, header)
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        out.append(_reduce(pixels, factor))
        done_rows += want
    return np.ascontiguousarray(np.concatenate(out, axis=0))
