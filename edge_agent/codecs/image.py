"""Decode JPEG, PNG and raw RGB/gray payloads into an ImageSample.

Dimensions are read from the header and checked against the limits before any
pixel is decoded, first by our own small header reader (so Pillow never sees a
bomb and never warns), then again on Pillow's lazily opened image. Images are
decoded at the scale the model needs where the format allows it (JPEG DCT
scaling, PNG in reduced bands), so memory follows the model, not the payload's
declared size; what must be decoded at full size is capped by
``max_decoded_pixels``.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image

from edge_agent.codecs.formats import PayloadFormat, int_param
from edge_agent.codecs.png_bands import decode_reduced, read_header
from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import ImageSample

if TYPE_CHECKING:
    from edge_agent.codecs.limits import ImageLimits

__all__ = ["decode_image", "header_size"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
_PNG_HEADER_BYTES = 24  # magic + IHDR length/type + width + height
_MARKER_PREFIX = 0xFF
_SEGMENT_LENGTH_BYTES = 2
_BYTE_MAX = 255
_RGB = 3
_MAX_SEGMENTS = 4096  # bounds the header walk on crafted files; Pillow re-checks
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _png_size(payload: bytes) -> tuple[int, int] | None:
    if (
        len(payload) < _PNG_HEADER_BYTES
        or not payload.startswith(_PNG_MAGIC)
        or payload[12:16] != b"IHDR"
    ):
        return None
    width, height = struct.unpack(">II", payload[16:24])
    return int(width), int(height)


def _jpeg_size(payload: bytes) -> tuple[int, int] | None:
    # Walks the marker segments up to the first SOS; the largest SOF wins so a
    # second, bigger frame header cannot slip past the check.
    pos = 2
    end = len(payload)
    best: tuple[int, int] | None = None
    segments = 0
    while pos + 4 <= end and segments < _MAX_SEGMENTS:
        segments += 1
        if payload[pos] != _MARKER_PREFIX:
            break
        marker = payload[pos + 1]
        if marker == _MARKER_PREFIX:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI or SOS: no frame header after this
            break
        length = int.from_bytes(payload[pos + 2 : pos + 4], "big")
        if length < _SEGMENT_LENGTH_BYTES:
            break
        if marker in _SOF_MARKERS and pos + 9 <= end:
            height, width = struct.unpack(">HH", payload[pos + 5 : pos + 9])
            if best is None or width * height > best[0] * best[1]:
                best = (int(width), int(height))
        pos += 2 + length
    return best


def header_size(payload: bytes, mime: str) -> tuple[int, int] | None:
    """Read (width, height) from a JPEG or PNG header without decoding.

    Args:
        payload: The encoded image.
        mime: ``image/jpeg`` or ``image/png``.

    Returns:
        The declared size, or None when the header does not show one.
    """
    if mime == "image/png":
        return _png_size(payload)
    if mime == "image/jpeg":
        return _jpeg_size(payload)
    return None


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if width <= 0 or height <= 0:
        raise PayloadError(Reason.MALFORMED_IMAGE, f"image declares size {width}x{height}")
    if width > limits.max_side or height > limits.max_side:
        raise PayloadError(
            Reason.TOO_MANY_PIXELS,
            f"image is {width}x{height}, largest side allowed is {limits.max_side}",
        )
    if width * height > limits.max_pixels:
        raise PayloadError(
            Reason.TOO_MANY_PIXELS,
            f"image is {width}x{height} = {width * height} pixels > {limits.max_pixels}",
        )


def _to_rgb(image: Image.Image) -> npt.NDArray[np.uint8]:
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        wide = np.asarray(image, dtype=np.float64)
        scale = (
            257.0
            if image.mode.startswith("I;16") or float(wide.max(initial=0)) > _BYTE_MAX
            else 1.0
        )
        gray = np.clip(np.rint(wide / scale), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode != "RGB":
        image = image.convert("RGB")
    # asarray: one copy out of Pillow (its array interface), not two.
    return np.asarray(image, dtype=np.uint8)


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_ORIENTATION, 1))
    except Exception:  # broad on purpose: a broken EXIF block must not reject the image
        return 1


def _decode_jpeg(
    image: Image.Image, limits: ImageLimits, target: tuple[int, int] | None
) -> npt.NDArray[np.uint8]:
    if target is not None:
        # DCT scaling (1/2, 1/4, 1/8) while decoding: a 6000x6000 frame for a
        # 416-pixel model decodes at 750x750 instead of 108 MB of RGB.
        image.draft("RGB", target)
    elif image.width * image.height > limits.max_decoded_pixels:
        raise PayloadError(
            Reason.TOO_MANY_PIXELS,
            f"image is {image.width}x{image.height}: more than {limits.max_decoded_pixels} "
            "pixels to decode at full size",
        )
    image.load()
    orientation = _orientation(image)
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    return _to_rgb(image)


def _decode_png(
    payload: bytes, image: Image.Image, limits: ImageLimits, target: tuple[int, int] | None
) -> npt.NDArray[np.uint8]:
    factor = 1
    if target is not None:
        factor = max(1, min(image.width // target[0], image.height // target[1]))
    pixels = image.width * image.height
    if factor > 1 or pixels > limits.max_decoded_pixels:
        header = read_header(payload)
        if header.supported:
            return decode_reduced(payload, header, factor)
    if pixels > limits.max_decoded_pixels:
        raise PayloadError(
            Reason.TOO_MANY_PIXELS,
            f"image is {image.width}x{image.height} (interlaced or 16-bit colour): more than "
            f"{limits.max_decoded_pixels} pixels to decode at full size",
        )
    image.load()
    return _to_rgb(image)


def _decode_encoded(
    payload: bytes, fmt: PayloadFormat, limits: ImageLimits, target: tuple[int, int] | None
) -> ImageSample:
    declared = header_size(payload, fmt.mime)
    if declared is not None:
        _check_size(*declared, limits)
    try:
        image = Image.open(io.BytesIO(payload), formats=[_PIL_FORMATS[fmt.mime]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadError(Reason.TOO_MANY_PIXELS, "Pillow refused the image size") from None
    except Exception as exc:  # broad on purpose: any Pillow failure is a bad image, never a crash
        raise PayloadError(Reason.MALFORMED_IMAGE, f"cannot open: {type(exc).__name__}") from None
    with image:
        _check_size(image.width, image.height, limits)
        try:
            if fmt.mime == "image/jpeg":
                rgb = _decode_jpeg(image, limits, target)
            else:
                rgb = _decode_png(payload, image, limits, target)
        except PayloadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PayloadError(Reason.TOO_MANY_PIXELS, "Pillow refused the image size") from None
        except Exception as exc:  # broad on purpose: truncated/corrupt data surfaces as many types
            raise PayloadError(
                Reason.MALFORMED_IMAGE, f"cannot decode: {type(exc).__name__}"
            ) from None
    return ImageSample(rgb=rgb, source_format=fmt.mime)


def _decode_raw(payload: bytes, fmt: PayloadFormat, limits: ImageLimits) -> ImageSample:
    width = int_param(fmt, "width")
    height = int_param(fmt, "height")
    _check_size(width, height, limits)
    channels = _RGB if fmt.mime == "image/x-raw-rgb" else 1
    expected = width * height * channels
    if len(payload) != expected:
        raise PayloadError(
            Reason.MALFORMED_IMAGE,
            f"{fmt.mime} {width}x{height} needs {expected} bytes, got {len(payload)}",
        )
    flat = np.frombuffer(payload, dtype=np.uint8)
    if channels == _RGB:
        rgb = flat.reshape(height, width, 3).copy()
    else:
        rgb = np.repeat(flat.reshape(height, width, 1), 3, axis=2)
    return ImageSample(rgb=rgb, source_format=fmt.mime)


def decode_image(
    payload: bytes,
    fmt: PayloadFormat,
    limits: ImageLimits,
    target: tuple[int, int] | None = None,
) -> ImageSample:
    """Decode an image payload.

    Args:
        payload: The bytes (already checked non-empty and within ``max_bytes``).
        fmt: The resolved format (``image/*``).
        limits: Image limits.
        target: (width, height) the model looks at: JPEGs decode at the largest
            1/2, 1/4 or 1/8 scale and PNGs at the largest integer reduction that
            keep both sides at least this large (None: full size).

    Returns:
        RGB pixels (read-only), EXIF orientation applied for JPEG.

    Raises:
        PayloadError: MALFORMED_IMAGE, TOO_MANY_PIXELS, BAD_CONTENT_TYPE or UNSUPPORTED_FORMAT.
    """
    if fmt.mime in _PIL_FORMATS:
        return _decode_encoded(payload, fmt, limits, target)
    if fmt.mime in ("image/x-raw-rgb", "image/x-raw-gray"):
        return _decode_raw(payload, fmt, limits)
    raise PayloadError(Reason.UNSUPPORTED_FORMAT, f"{fmt.mime} is not an image format")
