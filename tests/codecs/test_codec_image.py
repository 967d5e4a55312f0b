"""Image decoding: JPEG, PNG, raw, limits and bombs."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFile

from edge_agent.codecs import ImageLimits, Limits, decode
from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import ImageSample

Encoder = Callable[..., bytes]
Gradient = Callable[[int, int], npt.NDArray[np.uint8]]


def _image(
    payload: bytes, content_type: str | None = None, limits: Limits | None = None
) -> ImageSample:
    sample = decode(
        payload,
        modality="image",
        content_type=content_type,
        declared_format=None,
        limits=limits or Limits(),
        audio_rate=None,
    )
    assert isinstance(sample, ImageSample)
    return sample


def _reason(
    payload: bytes, content_type: str | None = None, limits: Limits | None = None
) -> Reason:
    with pytest.raises(PayloadError) as info:
        _image(payload, content_type, limits)
    return info.value.reason


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge RGB image (a pixel bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def test_png_decodes_exactly(png_payload: bytes, make_gradient: Gradient) -> None:
    sample = _image(png_payload)
    assert sample.rgb.dtype == np.uint8
    np.testing.assert_array_equal(sample.rgb, make_gradient(48, 64))


def test_jpeg_decodes_close_to_source(jpeg_payload: bytes, make_gradient: Gradient) -> None:
    sample = _image(jpeg_payload, "image/jpeg")
    assert sample.rgb.shape == (48, 64, 3)
    assert np.abs(sample.rgb.astype(int) - make_gradient(48, 64)).mean() < 4


def test_jpeg_exif_orientation_is_applied(make_image: Encoder, make_gradient: Gradient) -> None:
    payload = make_image(make_gradient(48, 64), "JPEG", exif_orientation=6)  # rotate 90 CW to view
    assert _image(payload).rgb.shape == (64, 48, 3)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA"])
def test_png_modes_become_rgb(mode: str, make_image: Encoder, make_gradient: Gradient) -> None:
    sample = _image(make_image(make_gradient(8, 8), "PNG", mode=mode))
    assert sample.rgb.shape == (8, 8, 3)
    assert sample.rgb.dtype == np.uint8


def test_sixteen_bit_png_is_scaled_to_eight_bits() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(buf, "PNG")
    assert int(_image(buf.getvalue()).rgb.min()) == 255


def test_sample_is_read_only(png_payload: bytes) -> None:
    # One copy out of Pillow, shared by the stages of a worker: nobody may write to it.
    rgb = _image(png_payload).rgb
    assert not rgb.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        rgb[0, 0, 0] = 1


def test_raw_rgb_uses_declared_dimensions() -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    sample = _image(pixels.tobytes(), "image/x-raw-rgb; width=3; height=2")
    np.testing.assert_array_equal(sample.rgb, pixels)


def test_raw_gray_is_replicated_to_rgb() -> None:
    sample = _image(bytes([0, 100, 200, 255]), "image/x-raw-gray;width=2;height=2")
    np.testing.assert_array_equal(sample.rgb[..., 2], [[0, 100], [200, 255]])


def test_raw_with_wrong_length_is_malformed() -> None:
    assert _reason(b"\x00" * 11, "image/x-raw-rgb;width=2;height=2") is Reason.MALFORMED_IMAGE


@pytest.mark.parametrize(
    "ctype",
    [
        "image/x-raw-rgb;width=2",
        "image/x-raw-rgb;width=0;height=2",
        "image/x-raw-gray;width=-1;height=2",
        "image/x-raw-gray;width=a;height=2",
    ],
)
def test_raw_without_valid_dimensions_is_bad_content_type(ctype: str) -> None:
    assert _reason(b"\x00" * 12, ctype) is Reason.BAD_CONTENT_TYPE


def test_raw_over_pixel_limit_is_rejected_before_length_check() -> None:
    limits = Limits(image=ImageLimits(max_pixels=100))
    assert (
        _reason(b"\x00" * 3, "image/x-raw-rgb;width=11;height=10", limits) is Reason.TOO_MANY_PIXELS
    )


def test_png_bomb_is_rejected_fast_without_pillow_warning() -> None:
    payload = _png_declaring(30000, 30000)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reason = _reason(payload)
    assert reason is Reason.TOO_MANY_PIXELS
    assert time.perf_counter() - start < 0.05


def test_jpeg_declaring_huge_frame_is_rejected(jpeg_payload: bytes) -> None:
    sof = jpeg_payload.index(b"\xff\xc0")
    patched = jpeg_payload[: sof + 5] + struct.pack(">HH", 60000, 60000) + jpeg_payload[sof + 9 :]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _reason(patched) is Reason.TOO_MANY_PIXELS


def test_side_limit_applies_to_thin_images(make_image: Encoder, make_gradient: Gradient) -> None:
    limits = Limits(image=ImageLimits(max_side=32))
    assert _reason(make_image(make_gradient(1, 40), "PNG"), limits=limits) is Reason.TOO_MANY_PIXELS


def test_pixel_limit_is_inclusive(make_image: Encoder, make_gradient: Gradient) -> None:
    limits = Limits(image=ImageLimits(max_pixels=48 * 64))
    assert _image(make_image(make_gradient(48, 64), "PNG"), limits=limits).rgb.shape == (48, 64, 3)


@pytest.mark.parametrize("fixture", ["jpeg_payload", "png_payload"])
def test_truncated_image_is_malformed(fixture: str, request: pytest.FixtureRequest) -> None:
    payload: bytes = request.getfixturevalue(fixture)
    assert _reason(payload[: len(payload) * 2 // 3]) is Reason.MALFORMED_IMAGE
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_png_labelled_as_jpeg_is_malformed(png_payload: bytes) -> None:
    assert _reason(png_payload, "image/jpeg") is Reason.MALFORMED_IMAGE


def test_corrupt_png_data_is_malformed(png_payload: bytes) -> None:
    idat = png_payload.index(b"IDAT") + 8
    corrupt = (
        png_payload[:idat]
        + bytes(b ^ 0x5A for b in png_payload[idat : idat + 40])
        + png_payload[idat + 40 :]
    )
    assert _reason(corrupt) is Reason.MALFORMED_IMAGE


def test_large_jpeg_decodes_at_reduced_scale_and_keeps_its_size() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 200, 30)).save(buf, "JPEG")
    sample = decode(
        buf.getvalue(),
        modality="image",
        content_type="image/jpeg",
        declared_format=None,
        limits=Limits(),
        audio_rate=None,
        image_size=(400, 400),
    )
    assert isinstance(sample, ImageSample)
    assert (sample.width, sample.height) == (500, 375)  # 1/8: fitted into 400x400 it fills it
    assert (sample.source_width, sample.source_height) == (4000, 3000)


def test_large_png_decodes_in_reduced_bands_and_keeps_its_size() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3000, 900), (10, 200, 30)).save(buf, "PNG")
    sample = decode(
        buf.getvalue(),
        modality="image",
        content_type="image/png",
        declared_format=None,
        limits=Limits(),
        audio_rate=None,
        image_size=(300, 300),
    )
    assert isinstance(sample, ImageSample)
    assert (sample.width, sample.height) == (300, 90)  # factor max(10, 3) = 10
    assert (sample.source_width, sample.source_height) == (3000, 900)
    assert sample.rgb[0, 0].tolist() == [10, 200, 30]


def test_full_size_decode_is_capped_by_max_decoded_pixels() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3000, 3000)).save(buf, "JPEG")
    limits = Limits(image={"max_decoded_pixels": 4_000_000})
    with pytest.raises(PayloadError) as info:
        decode(
            buf.getvalue(),
            modality="image",
            content_type="image/jpeg",
            declared_format=None,
            limits=limits,
            audio_rate=None,
        )
    assert info.value.reason is Reason.TOO_MANY_PIXELS


def test_exif_rotation_swaps_the_reported_source_size() -> None:
    image = Image.new("RGB", (4000, 2000))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    sample = decode(
        buf.getvalue(),
        modality="image",
        content_type="image/jpeg",
        declared_format=None,
        limits=Limits(),
        audio_rate=None,
        image_size=(400, 400),
    )
    assert isinstance(sample, ImageSample)
    assert (sample.source_width, sample.source_height) == (2000, 4000)
    assert sample.height > sample.width
