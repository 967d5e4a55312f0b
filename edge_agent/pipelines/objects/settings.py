"""The manifest's ``[pipeline]`` table of the objects family, validated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ObjectsSettings", "VariantSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariantSettings(_Strict):
    """How one variant runs (``[pipeline.variants."<id>"]``), with its measured extras."""

    input_size: int = Field(gt=0, multiple_of=32, description="Square input side in pixels.")
    latency_p99_ms: float = Field(default=0.0, ge=0, description="Measured p99, 1 thread.")
    precision: float = Field(default=0.0, ge=0, le=1, description="Measured on the eval set.")
    recall: float = Field(default=0.0, ge=0, le=1, description="Measured on the eval set.")
    agreement: float = Field(
        default=0.0, ge=0, le=1, description="F1 against the float model at 416 (eval set)."
    )


class ObjectsSettings(_Strict):
    """The objects family's ``[pipeline]`` table."""

    labels: list[str] = Field(min_length=1, description="Class names in model output order.")
    channels: Literal["BGR", "RGB"] = Field(description="Channel order the model expects.")
    mean: tuple[float, float, float] = Field(description="Per-channel mean (0..255), model order.")
    std: tuple[float, float, float] = Field(description="Per-channel std (0..255), model order.")
    layout: Literal["NCHW", "NHWC"] = Field(description="Input tensor layout.")
    letterbox_fill: int = Field(default=0, ge=0, le=255, description="Value of the bars.")
    strides: list[int] = Field(min_length=1, description="Head strides, one output level each.")
    bins: int = Field(gt=1, description="Distance bins per box side.")
    min_score: float = Field(gt=0, le=1, description="Default score threshold.")
    iou_threshold: float = Field(gt=0, le=1, description="Per-class NMS overlap threshold.")
    variants: dict[str, VariantSettings] = Field(min_length=1, description="Per variant id.")

    @model_validator(mode="after")
    def _unique_labels(self) -> ObjectsSettings:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        return self
