"""CTranslate2 backend: a Whisper model directory loaded from verified files.

CTranslate2 (the runtime faster-whisper uses) is the optional ``speech`` extra.
This backend drives ``ctranslate2.models.Whisper`` directly: the log-mel front
end and the token decoding live in the speech family, so neither faster-whisper
nor its ``av`` and ``onnxruntime`` dependencies are needed.

Memory: CTranslate2 reads ``model.bin`` (float16 weights) into its own buffers
and, with ``compute_type = "int8"``, quantizes them at load: the weights end up
in anonymous memory (about half the file for float16 -> int8) and the load
peaks above what it keeps while both copies exist. Nothing stays mapped, so
``close`` frees the buffers and drops the files' cached pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edge_agent.errors import ModelError
from edge_agent.runtime.backend import import_runtime
from edge_agent.runtime.interpreter import verify_file
from edge_agent.runtime.page_cache import drop_page_cache

__all__ = ["ComputeType", "WhisperBackend", "verify_files"]

ComputeType = Literal["int8", "int8_float32", "int16", "float32"]
"""Weight/compute types the CPU build of CTranslate2 offers."""


def verify_files(
    model_dir: Path,
    files: Mapping[str, str],
    *,
    family: str | None = None,
    variant: str | None = None,
) -> list[Path]:
    """Check that each named file of a model directory exists with its sha256.

    Args:
        model_dir: The model directory.
        files: File name inside ``model_dir`` -> expected hex sha256.
        family: Family name, for the error.
        variant: Variant id, for the error.

    Returns:
        The verified paths.

    Raises:
        ModelError: A file is missing or its digest differs.
    """
    return [
        verify_file(model_dir / name, sha256, family=family, variant=variant)
        for name, sha256 in files.items()
    ]


class WhisperBackend:
    """A CTranslate2 Whisper model owned by one thread.

    Args:
        model_dir: Directory with ``model.bin``, ``config.json`` and ``vocabulary.*``.
        files: Files of ``model_dir`` to verify first (name -> sha256); must include
            ``model.bin``.
        threads: CPU threads for the model (CTranslate2's ``intra_threads``).
        compute_type: Weight type at run time (``int8``: quantized at load).
        family: Family name, for error context.
        variant: Variant id, for error context.

    Raises:
        MissingExtraError: ``ctranslate2`` is not installed (the ``speech`` extra).
        ModelError: A file is missing or wrong, or CTranslate2 rejects the directory.
    """

    runtime = "ctranslate2"

    def __init__(
        self,
        model_dir: Path,
        *,
        files: Mapping[str, str],
        threads: int = 1,
        compute_type: ComputeType = "int8",
        family: str | None = None,
        variant: str | None = None,
    ) -> None:
        if "model.bin" not in files:
            raise ModelError("model.bin must be verified", family=family, variant=variant)
        self.family = family
        self.variant = variant
        self.model_dir = model_dir
        self._ct2 = import_runtime("ctranslate2", extra="speech", family=family)
        self.paths = verify_files(model_dir, files, family=family, variant=variant)
        try:
            self._model: Any = self._ct2.models.Whisper(
                str(model_dir),
                device="cpu",
                compute_type=compute_type,
                inter_threads=1,
                intra_threads=threads,
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"runtime rejected the model: {exc}",
                family=family,
                variant=variant,
                path=str(model_dir),
            ) from exc
        # what CTranslate2 read is now in its own buffers: the file pages are spare
        drop_page_cache(self.paths)

    @property
    def is_multilingual(self) -> bool:
        """Whether the model takes a language token (``tiny.en`` does not)."""
        return bool(self._model.is_multilingual)

    @property
    def n_mels(self) -> int:
        """Mel bins the encoder takes."""
        return int(self._model.n_mels)

    def _features(self, features: npt.NDArray[np.float32]) -> Any:
        if features.ndim != 3 or features.shape[1] != self.n_mels:
            raise ModelError(
                f"features must be [batch, {self.n_mels}, frames], got {features.shape}",
                family=self.family,
                variant=self.variant,
            )
        return self._ct2.StorageView.from_array(np.ascontiguousarray(features, dtype=np.float32))

    def encode(self, features: npt.NDArray[np.float32]) -> Any:
        """Run the encoder once; the result can be decoded several times.

        Args:
            features: ``[batch, n_mels, frames]`` log-mel features.

        Returns:
            The encoder output (a CTranslate2 ``StorageView``, kept on the CPU).
        """
        return self._model.encode(self._features(features), to_cpu=True)

    def detect_language(self, encoded: Any) -> list[list[tuple[str, float]]]:
        """Language probabilities per batch item, best first (multilingual models).

        Args:
            encoded: Output of :meth:`encode`.

        Returns:
            ``[(token, probability), ...]`` per item, e.g. ``("<|en|>", 0.97)``.
        """
        found: list[list[tuple[str, float]]] = self._model.detect_language(encoded)
        return found

    def generate(self, encoded: Any, prompts: Sequence[Sequence[int]], **options: Any) -> list[Any]:
        """Decode from encoder output (CTranslate2 ``Whisper.generate`` options).

        Args:
            encoded: Output of :meth:`encode`.
            prompts: Prompt token ids per batch item.
            **options: ``beam_size``, ``sampling_temperature``, ``return_scores``...

        Returns:
            One ``WhisperGenerationResult`` per item.
        """
        results: list[Any] = self._model.generate(encoded, [list(p) for p in prompts], **options)
        return results

    def seed(self, value: int) -> None:
        """Seed CTranslate2's sampler (process-wide), for reproducible sampling."""
        self._ct2.set_random_seed(value)

    def close(self) -> None:
        """Free the model's buffers and drop its files' cached pages."""
        self._model = None
        drop_page_cache(self.paths)
