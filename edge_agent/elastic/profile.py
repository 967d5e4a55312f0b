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
    """

    id: str
    need_bytes: int
    latency_ms: float
    quality: float
    observed: bool = False


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

    def with_observed(self, observed: Mapping[str, int]) -> FamilyProfile:
        """Replace estimated needs by needs observed after loading on this machine.

        Only the measured variants change: the build machine's figures for the
        others stay the best estimate we have.

        Args:
            observed: Variant id -> bytes measured after load + warm-up.
        """
        if not observed:
            return self
        return replace(
            self,
            variants=tuple(
                replace(v, need_bytes=observed[v.id], observed=True) if v.id in observed else v
                for v in self.variants
            ),
        )
