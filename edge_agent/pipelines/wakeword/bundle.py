"""A wake-word variant: the bundle file naming each wake word's model and config.

A variant of the ``wakeword`` family is a set of wake-word models. Its manifest
``file`` is a small TOML bundle (written by ``python -m models.build.wakeword``)
that lists, per wake word, the model, the upstream JSON config and their sha256.
The manifest's sha256 covers the bundle, and the bundle's digests cover the
models and configs, so everything loaded is verified.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_agent.errors import ModelError
from edge_agent.pipelines.wakeword.stream import WakeWordSpec
from edge_agent.runtime.interpreter import file_sha256

__all__ = ["BundleEntry", "load_bundle"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BundleEntry(_Strict):
    """One wake word in a bundle."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", description="Wake word id (model stem).")
    phrase: str = Field(description="Spoken phrase.")
    model: str = Field(description="Model file, relative to the family folder.")
    model_sha256: str = Field(description="Hex sha256 of the model.")
    config: str = Field(description="Upstream JSON config, relative to the family folder.")
    config_sha256: str = Field(description="Hex sha256 of the config.")


class _Bundle(_Strict):
    wake_words: list[BundleEntry] = Field(min_length=1)


class _MicroConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    probability_cutoff: float = Field(gt=0, lt=1)
    sliding_window_size: int = Field(ge=1, le=100)
    feature_step_size: int = Field(default=10)


def _checked(path: Path, sha256: str, family: str, variant: str) -> Path:
    if not path.is_file():
        raise ModelError("file missing", family=family, variant=variant, path=str(path))
    if file_sha256(path) != sha256.lower():
        raise ModelError("sha256 mismatch", family=family, variant=variant, path=str(path))
    return path


def load_bundle(path: Path, sha256: str, *, family: str, variant: str) -> list[WakeWordSpec]:
    """Verify and read a bundle and the files it names.

    Args:
        path: The bundle file.
        sha256: Its expected digest (from the manifest).
        family: Family name, for error context.
        variant: Variant id, for error context.

    Returns:
        One spec per wake word, with the upstream cutoff and window.

    Raises:
        ModelError: Missing file, wrong digest, or an invalid bundle or config.
    """
    _checked(path, sha256, family, variant)
    try:
        bundle = _Bundle.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ModelError(
            f"invalid bundle: {exc}", family=family, variant=variant, path=str(path)
        ) from exc
    specs = []
    for entry in bundle.wake_words:
        model = _checked(path.parent / entry.model, entry.model_sha256, family, variant)
        cfg_path = _checked(path.parent / entry.config, entry.config_sha256, family, variant)
        try:
            micro = _MicroConfig.model_validate(json.loads(cfg_path.read_text("utf-8"))["micro"])
        except (ValueError, KeyError, ValidationError) as exc:
            raise ModelError(
                f"invalid config: {exc}", family=family, variant=variant, path=str(cfg_path)
            ) from exc
        if micro.feature_step_size != 10:
            raise ModelError(
                "only 10 ms feature steps are supported",
                family=family,
                variant=variant,
                path=str(cfg_path),
            )
        specs.append(
            WakeWordSpec(
                name=entry.name,
                phrase=entry.phrase,
                path=model,
                cutoff=micro.probability_cutoff,
                window=micro.sliding_window_size,
            )
        )
    return specs
