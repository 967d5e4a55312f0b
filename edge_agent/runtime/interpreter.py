"""A thin, typed wrapper over the LiteRT interpreter (fallback: ``tflite_runtime``).

Tensor indices and quantization parameters are looked up once at load, so the hot
path only sets, invokes and gets.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge_agent.errors import ModelError
from edge_agent.runtime.page_cache import drop_page_cache

__all__ = ["TFLiteModel", "TensorSpec", "file_sha256", "load_interpreter_class", "verify_file"]


class _InterpreterLike(Protocol):
    def allocate_tensors(self) -> None: ...
    def invoke(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def set_tensor(self, index: int, value: Any) -> None: ...
    def get_tensor(self, index: int) -> Any: ...
    def resize_tensor_input(self, index: int, shape: Any, strict: bool = ...) -> None: ...


def load_interpreter_class() -> tuple[type[Any], str]:
    """Return the best available interpreter class and the runtime's name.

    Returns:
        ``(Interpreter, "ai-edge-litert")`` or the legacy ``tflite_runtime`` one.

    Raises:
        ModelError: When neither runtime is installed.
    """
    for module, name in (
        ("ai_edge_litert.interpreter", "ai-edge-litert"),
        ("tflite_runtime.interpreter", "tflite-runtime"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        return mod.Interpreter, name
    raise ModelError("no TFLite runtime installed: pip install ai-edge-litert")


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(
    path: Path, sha256: str | None, *, family: str | None = None, variant: str | None = None
) -> None:
    """Check that a model file exists and, when ``sha256`` is given, has that digest.

    Raises:
        ModelError: Missing file or wrong checksum.
    """
    if not path.is_file():
        raise ModelError("model file not found", family=family, variant=variant, path=str(path))
    if sha256 is None:
        return
    actual = file_sha256(path)
    if actual != sha256.lower():
        raise ModelError(
            f"sha256 mismatch: expected {sha256[:12]}…, got {actual[:12]}…",
            family=family,
            variant=variant,
            path=str(path),
        )


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output tensor of a loaded model.

    Attributes:
        name: Tensor name in the graph.
        index: Interpreter tensor index.
        shape: Static shape.
        dtype: Element type.
        scale: Quantization scale (0.0 when not quantized).
        zero_point: Quantization zero point.
    """

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        """Whether the tensor holds integer values with a scale."""
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)

    def quantize(self, value: npt.ArrayLike) -> npt.NDArray[Any]:
        """Convert float values to this tensor's dtype (quantizing when needed)."""
        arr = np.asarray(value)
        if self.quantized and not np.issubdtype(arr.dtype, np.integer):
            info = np.iinfo(self.dtype)
            q = np.round(arr.astype(np.float32) / self.scale) + self.zero_point
            out: npt.NDArray[Any] = np.clip(q, info.min, info.max).astype(self.dtype)
        else:
            out = arr.astype(self.dtype, copy=False)
        return out

    def dequantize(self, value: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Convert this tensor's values to float32."""
        if self.quantized:
            return (value.astype(np.float32) - self.zero_point) * np.float32(self.scale)
        return value.astype(np.float32, copy=False)


def _spec(detail: dict[str, Any]) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        name=str(detail["name"]),
        index=int(detail["index"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


class TFLiteModel:
    """A loaded ``.tflite`` model owned by one thread.

    Args:
        path: Model file.
        num_threads: CPU threads for the interpreter.
        sha256: Expected hex digest; when given the file is verified before loading.
        family: Family name, for error context.
        variant: Variant id, for error context.

    Raises:
        ModelError: Missing file, wrong checksum or a file the runtime rejects.
    """

    def __init__(
        self,
        path: Path,
        *,
        num_threads: int = 1,
        sha256: str | None = None,
        family: str | None = None,
        variant: str | None = None,
    ) -> None:
        self.path = path
        self.family = family
        self.variant = variant
        verify_file(path, sha256, family=family, variant=variant)
        cls, self.runtime = load_interpreter_class()
        try:
            self._interp: _InterpreterLike = cls(model_path=str(path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"runtime rejected the model: {exc}", family=family, variant=variant, path=str(path)
            ) from exc
        self.inputs: tuple[TensorSpec, ...] = tuple(
            _spec(d) for d in self._interp.get_input_details()
        )
        self.outputs: tuple[TensorSpec, ...] = tuple(
            _spec(d) for d in self._interp.get_output_details()
        )

    @property
    def interpreter(self) -> Any:
        """The underlying interpreter, for callers that need its full API."""
        return self._interp

    def set_input(self, i: int, value: npt.ArrayLike) -> None:
        """Set input ``i``, quantizing float values when the tensor is integer."""
        spec = self.inputs[i]
        self._interp.set_tensor(spec.index, spec.quantize(value).reshape(spec.shape))

    def set_raw_input(self, i: int, value: npt.NDArray[Any]) -> None:
        """Set input ``i`` with values already in the tensor's dtype."""
        self._interp.set_tensor(self.inputs[i].index, value)

    def invoke(self) -> None:
        """Run the model once on the inputs set."""
        self._interp.invoke()

    def output(self, i: int) -> npt.NDArray[np.float32]:
        """Return output ``i`` as float32 (dequantized when needed)."""
        spec = self.outputs[i]
        return spec.dequantize(np.array(self._interp.get_tensor(spec.index)))

    def raw_output(self, i: int) -> npt.NDArray[Any]:
        """Return a copy of output ``i`` in the tensor's own dtype."""
        return np.array(self._interp.get_tensor(self.outputs[i].index))

    def reset_state(self) -> None:
        """Reset resource variables of stateful (streaming) models."""
        reset = getattr(self._interp, "reset_all_variables", None)
        if reset is not None:
            reset()

    def close(self) -> None:
        """Drop the interpreter and hand the model file's cached pages back."""
        self._interp = None  # type: ignore[assignment]
        drop_page_cache([self.path])
