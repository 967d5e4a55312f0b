"""Size limits applied to payloads before and while they are decoded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AudioLimits", "ImageLimits", "Limits", "TextLimits"]

_MIB = 1024 * 1024

# Pillow warns above 89,478,485 pixels and refuses above twice that; keeping
# our ceiling below its threshold means an image that passed our own header
# check can never trigger Pillow's DecompressionBombWarning.
_PILLOW_SAFE_PIXELS = 80_000_000


class ImageLimits(BaseModel):
    """Limits for image payloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(
        default=8 * _MIB,
        gt=0,
        le=256 * _MIB,
        description="Largest accepted image payload in bytes (checked before parsing).",
    )
    max_pixels: int = Field(
        default=40_000_000,
        gt=0,
        le=_PILLOW_SAFE_PIXELS,
        description=(
            "Largest accepted width x height, read from the file header before any "
            "pixel is decoded (40 Mpx decode to 120 MB of RGB)."
        ),
    )
    max_side: int = Field(
        default=16_384,
        gt=0,
        le=65_535,
        description="Largest accepted width or height in pixels.",
    )
    max_decoded_pixels: int = Field(
        default=8_388_608,
        gt=0,
        le=_PILLOW_SAFE_PIXELS,
        description=(
            "Largest image decoded at full size: interlaced or 16-bit colour PNGs, and "
            "images for a pipeline that needs full resolution (8 Mpx = 24 MB of RGB). "
            "JPEGs and other PNGs decode at the scale the model needs and are bounded "
            "by max_pixels only."
        ),
    )


class AudioLimits(BaseModel):
    """Limits for audio payloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(
        default=8 * _MIB,
        gt=0,
        le=256 * _MIB,
        description="Largest accepted audio payload in bytes (checked before parsing).",
    )
    max_seconds: float = Field(
        default=30.0,
        gt=0.0,
        le=3600.0,
        description="Longest accepted clip in seconds, computed from the header.",
    )
    max_channels: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Largest accepted channel count (channels are downmixed to mono).",
    )
    max_rate: int = Field(
        default=192_000,
        ge=1_000,
        le=384_000,
        description="Highest accepted sample rate in Hz.",
    )


class TextLimits(BaseModel):
    """Limits for text payloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        le=16 * _MIB,
        description="Largest accepted text or JSON payload in bytes (checked before parsing).",
    )
    max_chars: int = Field(
        default=4096,
        gt=0,
        le=1_000_000,
        description="Most Unicode code points accepted in the text (the JSON 'text' field).",
    )
    max_json_depth: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Deepest accepted nesting of JSON arrays/objects (top-level object is 1).",
    )


class Limits(BaseModel):
    """Per-modality payload limits; embedded in the daemon configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: ImageLimits = Field(
        default_factory=ImageLimits, description="Limits for image payloads."
    )
    audio: AudioLimits = Field(
        default_factory=AudioLimits, description="Limits for audio payloads."
    )
    text: TextLimits = Field(default_factory=TextLimits, description="Limits for text payloads.")
