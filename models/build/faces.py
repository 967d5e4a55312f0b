"""Build the ``faces`` family: BlazeFace short/full range, float32 and static int8.

Run from the repository root with the ``[build]`` extra installed::

    python -m models.build.faces [--out models/faces] [--check]

Steps: download ``mediapipe==0.10.14`` from PyPI (cached, see
:mod:`models.build.fetch`), extract the two BlazeFace files and mediapipe's
LICENSE and check their sha256, rewrite each file into a plain float32 graph
with a ``serving_default`` signature (:mod:`models.build.tflite_rewrite`),
quantize it with ``ai-edge-quantizer`` (static int8 weights and activations in
the backbone, float head convolutions and outputs; ranges are the mean over 96
letterboxed crops of public-domain PNG photos from scikit-image's wheel, see
:func:`calibration_inputs` and :func:`_quantize_int8`), write the four variants,
LICENSE/NOTICE and ``manifest.toml`` (measured figures already in the manifest are
kept for variants whose file did not change; refresh them with
``python benchmarks/faces_models.py --write-manifest``).

``--check`` builds twice into temporary folders and fails unless both builds
give byte-identical files.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from models.build.faces_manifest import (
    FAMILY_FILES,
    RANGES,
    VariantFigures,
    read_figures,
    render_manifest,
    variant_file,
)
from models.build.faces_sources import load_photo
from models.build.fetch import extract_member, fetch_wheel, sha256_bytes, sha256_file

__all__ = ["build", "calibration_inputs", "main"]

PACKAGE = "mediapipe"
VERSION = "0.10.14"
LICENSE_MEMBER = "mediapipe-0.10.14.dist-info/LICENSE"
LICENSE_SHA256 = "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8"
CALIBRATION_SAMPLES = 96
CALIBRATION_SEED = 20240514
# PNG only: PNG decoding is exact everywhere, so calibration is reproducible.
_CALIBRATION_FACES = ("astronaut", "camera")
_CALIBRATION_OTHER = ("coffee", "chelsea", "motorcycle", "coins", "brick", "gravel")

log = logging.getLogger("models.build.faces")


def _augment(rgb: npt.NDArray[np.uint8], rng: np.random.Generator) -> Image.Image:
    """Random crop, rotation, flip and brightness of one photo."""
    img = Image.fromarray(rgb)
    w, h = img.size
    side = rng.uniform(0.25, 1.0)
    cw, ch = max(16, int(w * side)), max(16, int(h * side * rng.uniform(0.8, 1.25)))
    ch = min(ch, h)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    img = img.rotate(float(rng.uniform(-20.0, 20.0)), resample=Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    gain = float(rng.uniform(0.6, 1.3))
    arr = np.clip(np.asarray(img, dtype=np.float32) * gain, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _zoom_out(face: Image.Image, background: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Paste ``face`` scaled down (distant faces, full range) onto ``background``."""
    canvas = background.copy()
    scale = float(rng.uniform(0.2, 0.6)) * min(canvas.width / face.width,
                                               canvas.height / face.height)
    small = face.resize((max(8, int(face.width * scale)), max(8, int(face.height * scale))),
                        Image.Resampling.BILINEAR)
    x = int(rng.integers(0, canvas.width - small.width + 1))
    y = int(rng.integers(0, canvas.height - small.height + 1))
    canvas.paste(small, (x, y))
    return canvas


def calibration_inputs(size: int) -> list[dict[str, npt.NDArray[np.float32]]]:
    """Return the calibration samples for a model with a ``size`` x ``size`` input.

    Each sample is a random crop of a PNG photo (faces two times in three; a
    third of the face crops are shrunk onto a no-face photo as distant faces),
    letterboxed with black bars and normalised to ``[-1, 1]`` exactly as the
    ``faces`` pipeline does at run time.

    Args:
        size: Model input side in pixels.

    Returns:
        Signature inputs for ``ai-edge-quantizer``: ``[{"input": (1, size, size, 3)}]``.
    """
    from edge_agent.pipelines.faces.blazeface import letterbox

    photos = {name: load_photo(name) for name in _CALIBRATION_FACES + _CALIBRATION_OTHER}
    rng = np.random.default_rng(CALIBRATION_SEED)
    samples: list[dict[str, npt.NDArray[np.float32]]] = []
    for _ in range(CALIBRATION_SAMPLES):
        pool = _CALIBRATION_FACES if rng.random() < 2 / 3 else _CALIBRATION_OTHER
        name = pool[int(rng.integers(0, len(pool)))]
        img = _augment(photos[name], rng)
        if pool is _CALIBRATION_FACES and rng.random() < 1 / 3:
            other = _CALIBRATION_OTHER[int(rng.integers(0, len(_CALIBRATION_OTHER)))]
            img = _zoom_out(img, Image.fromarray(photos[other]), rng)
        tensor, _ = letterbox(np.asarray(img, dtype=np.uint8), size, size)
        samples.append({"input": (tensor.astype(np.float32) / 127.5 - 1.0)[None]})
    return samples


def _head_outputs(float_model: bytes) -> list[str]:
    """Output names of the ops from the head convolutions to the graph outputs.

    Walks back from ``regressors`` and ``classificators`` through RESHAPE,
    CONCATENATION and DEPTH_TO_SPACE to the convolutions that compute them.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(float_model, 0))
    graph = model.subgraphs[0]
    producer = {int(o): op for op in graph.operators for o in op.outputs}
    passthrough = {schema.BuiltinOperator.RESHAPE, schema.BuiltinOperator.CONCATENATION,
                   schema.BuiltinOperator.DEPTH_TO_SPACE}
    heads: list[str] = []
    todo = [int(i) for i in graph.outputs]
    while todo:
        index = todo.pop()
        op = producer[index]
        heads.append(graph.tensors[index].name.decode())
        if model.operatorCodes[op.opcodeIndex].builtinCode in passthrough:
            todo.extend(int(i) for i in op.inputs if int(i) in producer)
    return sorted(heads)


def _recipe(float_model: bytes) -> Any:
    """Static int8 everywhere except the head convolutions, which stay float."""
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe_manager

    manager = recipe_manager.RecipeManager()
    manager.add_static_config(
        regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
        activation_num_bits=8, weight_num_bits=8,
        algorithm_key=algorithm_manager.AlgorithmName.MIN_MAX_UNIFORM_QUANT,
    )
    # An op's scope is its output names, each followed by ";".
    heads = "^(" + "|".join(re.escape(name) for name in _head_outputs(float_model)) + ");$"
    manager.add_quantization_config(
        regex=heads, operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
        algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE,
    )
    return manager.get_quantization_recipe()


def _latest(_old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Calibration update keeping only the last sample's min/max."""
    return new


def _mean_ranges(calib: Any, samples: list[dict[str, npt.NDArray[np.float32]]],
                 recipe_manager: Any) -> dict[str, dict[str, npt.NDArray[np.float32]]]:
    """Per tensor, the equal-weight mean over samples of each sample's min and max.

    Steadier than the quantizer's default moving average (which favours the
    last ~20 samples) and than the absolute min/max (which outliers widen
    until an int8 step is too coarse); measured against MediaPipe on the test
    set, the mean gave the int8 variants their best agreement.
    """
    sums: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    for sample in samples:
        calib.calibrate({"serving_default": [sample]}, recipe_manager)
        for name, qsv in calib.get_model_qsvs().items():
            if not qsv:
                continue
            acc = sums.setdefault(name, {"min": np.zeros_like(qsv["min"], np.float64),
                                         "max": np.zeros_like(qsv["max"], np.float64)})
            acc["min"] = acc["min"] + np.asarray(qsv["min"], np.float64)
            acc["max"] = acc["max"] + np.asarray(qsv["max"], np.float64)
    count = float(len(samples))
    return {name: {key: (value / count).astype(np.float32) for key, value in acc.items()}
            for name, acc in sums.items()}


def _quantize_int8(float_model: bytes, size: int) -> bytes:
    """Static int8 quantization (weights and activations) of the backbone.

    The head convolutions that produce box regressors and score logits stay
    float (on dequantized int8 features): int8 logits cost the scores their
    resolution (background logits reach -300) and int8 regressors cost whole
    pixels; they are a few 1x1 convolutions, cheap in float. Activation ranges
    are :func:`_mean_ranges` over :func:`calibration_inputs`; the input range is
    then set to exactly [-1, 1] (int8 input = uint8 - 128). The quantizer's last
    QUANTIZE ops are removed, so both outputs are float32.
    """
    from ai_edge_quantizer import calibrator, quantizer

    from models.build.tflite_rewrite import float_outputs

    qt = quantizer.Quantizer(bytearray(float_model))
    qt.load_quantization_recipe(_recipe(float_model))
    qsvs = _mean_ranges(calibrator.Calibrator(bytearray(float_model), num_threads=1,
                                              qsv_update_func=_latest),
                        calibration_inputs(size), qt._recipe_manager)
    qsvs["input"] = {"min": np.array(-1.0, np.float32), "max": np.array(1.0, np.float32)}
    quantized = qt.quantize(qsvs, enable_progress_report=False).quantized_model
    if quantized is None:
        raise RuntimeError("ai-edge-quantizer returned no model")
    return float_outputs(bytes(quantized))


def build(out: Path) -> dict[str, str]:
    """Build every variant and the family files into ``out``.

    Args:
        out: The family folder (created when missing).

    Returns:
        ``{file name: sha256}`` of every file written.
    """
    from models.build.tflite_rewrite import rewrite_for_quantizer

    out.mkdir(parents=True, exist_ok=True)
    wheel = fetch_wheel(PACKAGE, VERSION)
    old = read_figures(out / "manifest.toml")
    written: dict[str, str] = {}
    figures: dict[str, VariantFigures] = {}
    for spec in RANGES:
        upstream = extract_member(wheel, spec.member, spec.upstream_sha256)
        float_bytes = rewrite_for_quantizer(upstream)
        int8_bytes = _quantize_int8(float_bytes, spec.size)
        for variant, data in ((spec.float_id, float_bytes), (spec.int8_id, int8_bytes)):
            name = variant_file(variant)
            (out / name).write_bytes(data)
            digest = sha256_bytes(data)
            written[name] = digest
            kept = old.get(variant)
            figures[variant] = kept if kept is not None and kept.sha256 == digest else (
                VariantFigures(sha256=digest))
            log.info("built %s: %d bytes sha256=%s", name, len(data), digest)
    licence = extract_member(wheel, LICENSE_MEMBER, LICENSE_SHA256)
    (out / "LICENSE").write_bytes(licence)
    written["LICENSE"] = sha256_bytes(licence)
    for name, text in FAMILY_FILES.items():
        (out / name).write_text(text, encoding="utf-8")
        written[name] = sha256_file(out / name)
    manifest = render_manifest(wheel.name, sha256_file(wheel), figures)
    (out / "manifest.toml").write_text(manifest, encoding="utf-8")
    written["manifest.toml"] = sha256_file(out / "manifest.toml")
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``--out``, ``--check``: see :mod:`models.build.family_cli`)."""
    from models.build.family_cli import run

    return run(argv, family="faces", build=build)


if __name__ == "__main__":
    sys.exit(main())
