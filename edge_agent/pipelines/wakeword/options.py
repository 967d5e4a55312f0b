"""Options of the ``wakeword`` pipeline, its routes, and its manifest ``[pipeline]`` table."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WakewordOptions", "WakewordPackageSettings", "WakewordRouteOptions"]


class WakewordOptions(BaseModel):
    """Pipeline-wide options of ``wakeword``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wake_words: tuple[str, ...] | None = Field(
        default=None, description="Wake words enabled (model ids); None = every one in the variant."
    )
    refractory_s: float = Field(
        default=2.0, ge=0.0, le=60.0, description="Silence of a wake word after it fired."
    )
    idle_reset_s: float = Field(
        default=2.0, gt=0.0, le=3600.0, description="A stream idle this long starts over."
    )
    probability_cutoffs: dict[str, float] = Field(
        default_factory=dict, description="Per wake word cutoff overrides, in (0, 1)."
    )
    kernels: Literal["reference", "xnnpack"] = Field(
        default="reference",
        description="reference: builtin TFLite kernels, identical to pymicro-wakeword; "
        "xnnpack: ~6x faster invocations, probabilities within 0.01 of the reference.",
    )
    max_streams: int = Field(
        default=64,
        ge=1,
        le=10000,
        description="Stream states kept (~0.76 MB anonymous memory each); least recent dropped.",
    )
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="VAD speech level.")
    vad_energy_floor_dbfs: float = Field(
        default=-60.0, ge=-120.0, le=0.0, description="Quieter hops are silence, VAD not run."
    )
    vad_noise_margin_db: float = Field(
        default=6.0,
        ge=0.0,
        le=30.0,
        description="Hops within this of the tracked noise level skip the VAD (0: off).",
    )
    vad_hangover_s: float = Field(
        default=1.0, ge=0.3, le=10.0, description="Models keep running this long after speech."
    )
    vad_preroll_s: float = Field(
        default=2.5, ge=2.0, le=10.0, description="Audio replayed to the models at speech onset."
    )


class WakewordRouteOptions(BaseModel):
    """Per-route options of ``wakeword``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["stream", "clip"] = Field(
        default="stream", description="stream: chunks of a live stream; clip: one whole recording."
    )
    wake_words: tuple[str, ...] | None = Field(
        default=None, description="Subset of the pipeline's wake words for this route."
    )
    vad: bool = Field(default=False, description="Run the models only around speech.")


class WakewordPackageSettings(BaseModel):
    """The ``[pipeline]`` table of ``models/wakeword/manifest.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: Literal[16000] = 16000
    feature_step_ms: Literal[10] = 10
    receptive_field_s: float = Field(
        default=1.8, gt=0.0, description="Measured receptive field (VAD pre-roll floor)."
    )
    per_stream_hard_bytes: int = Field(
        default=0, ge=0, description="Measured anonymous memory per extra stream (all words)."
    )
