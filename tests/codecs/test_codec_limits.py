"""The pydantic limit models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from edge_agent.codecs.limits import AudioLimits, ImageLimits, Limits, TextLimits


def test_defaults_suit_a_pi() -> None:
    limits = Limits()
    assert (limits.image.max_bytes, limits.image.max_pixels) == (8 * 1024 * 1024, 40_000_000)
    assert (limits.audio.max_seconds, limits.text.max_chars, limits.text.max_json_depth) == (
        30.0,
        4096,
        16,
    )


@pytest.mark.parametrize("model", [ImageLimits, AudioLimits, TextLimits, Limits])
def test_unknown_keys_are_rejected(model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({"max_bytez": 1})


@pytest.mark.parametrize("model", [ImageLimits, AudioLimits, TextLimits, Limits])
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    assert all(info.description for info in model.model_fields.values())


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (ImageLimits, {"max_bytes": 0}),
        (ImageLimits, {"max_pixels": 10**9}),
        (AudioLimits, {"max_seconds": 0}),
        (AudioLimits, {"max_channels": 0}),
        (TextLimits, {"max_json_depth": 0}),
        (TextLimits, {"max_chars": -1}),
    ],
)
def test_out_of_range_values_are_rejected(model: type[BaseModel], data: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_nested_dict_builds_grouped_limits() -> None:
    limits = Limits.model_validate({"text": {"max_chars": 10}})
    assert (limits.text.max_chars, limits.image.max_side) == (10, ImageLimits().max_side)
