"""What the sizing policy knows about a family: its variants and their needs."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from edge_agent.errors import ModelError
from edge_agent.runtime.manifest import ModelManifest

__all__ = ["FamilyProfile", "VariantOption", "estimate_need"]


def estimate_need(hard_bytes: int, soft_bytes: int, soft_share: float) -> int:
    """Memory a variant is expected to need: hard + ``soft_share`` of soft bytes.

    Hard (anonymous) memory cannot be reclaimed; soft (file-backed) memory can be
    dropped and re-read by the kernel, so only a share of it is counted.

    Args:
        hard_bytes: Measured anonymous bytes.
        soft_bytes: Measured file-backed bytes.
        soft_share: Share of soft bytes to count, in [0, 1].

    Returns:
        The need in bytes.
    """
    return hard_bytes + math.ceil(soft_share * soft_bytes)


@dataclass(frozen=True, slots=True)
class VariantOption:
    """One variant as the policy sees it.

    Attributes:
        id: Variant id.
        need_bytes: Memory it needs (manifest estimate, or observed after loading).
        latency_ms: Measured p50 latency.
        quality: Quality score in [0, 1].
        observed: True when ``need_bytes`` was measured on this machine.
        peak_bytes: Memory a load takes at its peak, when above ``need_bytes``
            (runtimes that unpack weights); 0 when the load never exceeds the need.
    """

    id: str
    need_bytes: int
    latency_ms: float
    quality: float
    observed: bool = False
    peak_bytes: int = 0

    @property
    def load_bytes(self) -> int:
        """What must be free to load it: its need, or its peak if higher."""
        return max(self.need_bytes, self.peak_bytes)


@dataclass(frozen=True, slots=True)
class FamilyProfile:
    """A family's variants plus the manifest's preferences.

    Attributes:
        family: Family name.
        variants: Its variants (manifest order).
        quality_first: Manifest-preferred variant for quality-first (the ceiling:
            better-quality variants are never chosen).
        quality_floor: Manifest quality floor for performance-first.
    """

    family: str
    variants: tuple[VariantOption, ...]
    quality_first: str
    quality_floor: float = 0.0

    def __post_init__(self) -> None:
        ids = [v.id for v in self.variants]
        if not ids or len(set(ids)) != len(ids) or self.quality_first not in ids:
            raise ModelError(
                "a profile needs unique variants including the quality-first one",
                family=self.family,
                variant=self.quality_first,
            )

    @classmethod
    def from_manifest(
        cls,
        manifest: ModelManifest,
        *,
        soft_share: float,
        available: Collection[str] | None = None,
    ) -> FamilyProfile:
        """Build the profile from a validated manifest.

        Args:
            manifest: The family's manifest.
            soft_share: Share of soft bytes counted in each need.
            available: Variant ids that can load here (None: all). When the
                manifest's quality-first variant is not among them, the best
                available one by quality takes its place as the ceiling.

        Raises:
            ModelError: No variant is available.
        """
        chosen = [v for v in manifest.variants if available is None or v.id in available]
        if not chosen:
            raise ModelError("no variant of this family is available", family=manifest.family)
        ids = {v.id for v in chosen}
        quality_first = manifest.preferred.quality_first
        if quality_first not in ids:
            quality_first = max(chosen, key=lambda v: (v.quality, -v.hard_bytes)).id
        return cls(
            family=manifest.family,
            variants=tuple(
                VariantOption(
                    id=v.id,
                    need_bytes=estimate_need(v.hard_bytes, v.soft_bytes, soft_share),
                    latency_ms=v.latency_ms,
                    quality=v.quality,
                    peak_bytes=v.peak_bytes or 0,
                )
                for v in chosen
            ),
            quality_first=quality_first,
            quality_floor=manifest.preferred.quality_floor,
        )

    def variant(self, variant_id: str) -> VariantOption:
        """The variant with this id.

        Raises:
            ModelError: No such variant.
        """
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise ModelError("unknown variant", family=self.family, variant=variant_id)

    def has(self, variant_id: str) -> bool:
        """Whether the family has this variant."""
        return any(v.id == variant_id for v in self.variants)

    def with_observed(
        self,
        observed: Mapping[str, int],
        peaks: Mapping[str, int] | None = None,
        scale: float = 1.0,
    ) -> FamilyProfile:
        """Needs as this machine showed them: measured per variant, scaled otherwise.

        A variant loaded here has its measured need (and peak); one never loaded
        keeps the manifest's figure scaled by what the measured ones showed
        (``scale``, the family's observed/manifest ratio), the best estimate there is.

        Args:
            observed: Variant id -> bytes measured after load + warm-up.
            peaks: Variant id -> measured peak during its load.
            scale: Factor for the variants not measured.
        """
        peaks = peaks or {}
        if not observed and not peaks and scale == 1.0:
            return self
        out = []
        for variant in self.variants:
            v = variant
            if v.id in observed:
                v = replace(v, need_bytes=observed[v.id], observed=True)
            elif scale != 1.0:
                v = replace(
                    v, need_bytes=int(v.need_bytes * scale), peak_bytes=int(v.peak_bytes * scale)
                )
            if v.id in peaks:
                v = replace(v, peak_bytes=peaks[v.id])
            out.append(v)
        return replace(self, variants=tuple(out))
