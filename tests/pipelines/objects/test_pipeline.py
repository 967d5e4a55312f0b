"""The objects pipeline on the real model and the eval images: results, options, outputs."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from edge_agent.errors import ConfigError, ModelError, PayloadError, Reason
from edge_agent.pipelines.base import ImageSample, RequestContext, TextSample
from edge_agent.pipelines.objects import ObjectsOptions, ObjectsPipeline, ObjectsRouteOptions
from edge_agent.pipelines.objects.decode import iou
from edge_agent.runtime.interpreter import file_sha256
from edge_agent.runtime.manifest import load_package

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "objects"
FAMILY = REPO / "models" / "objects"
LABELS: dict[str, list[dict[str, Any]]] = json.loads((FIXTURES / "labels.json").read_text())
# Images the quality-first variant gets exactly right (the card lists the misses).
EXACT = [
    "person_cat_row.jpg",
    "motorcycle.jpg",
    "person_tie_hopper.jpg",
    "horse.jpg",
    "person_small_on_gravel.jpg",
    "none_brick.jpg",
    "none_gravel.jpg",
    "none_grey.jpg",
    "none_noise.jpg",
    "none_rocket.jpg",
    "none_hubble.jpg",
]


def _image(name: str) -> ImageSample:
    with Image.open(FIXTURES / name) as img:
        return ImageSample(np.asarray(img.convert("RGB"), dtype=np.uint8), "image/jpeg")


def _ctx(sensor: str = "cam1", **route: Any) -> RequestContext:
    return RequestContext(
        topic=f"sensors/{sensor}/image",
        sensor=sensor,
        route="r",
        request_id="1",
        route_options=ObjectsRouteOptions(**route),
    )


def _pipeline(
    options: ObjectsOptions | None = None, root: Path = FAMILY, clock: Any = None
) -> ObjectsPipeline:
    kwargs = {"clock": clock} if clock is not None else {}
    return ObjectsPipeline("objects", load_package(root), options or ObjectsOptions(), **kwargs)


@pytest.fixture(scope="module")
def quality_first() -> ObjectsPipeline:
    """The manifest's quality-first variant, events off."""
    pipeline = _pipeline(ObjectsOptions(events=False))
    pipeline.load(pipeline.package.manifest.preferred.quality_first)
    return pipeline


@pytest.fixture(scope="module")
def fast() -> ObjectsPipeline:
    """int8 at 416 (fast and exact on the images these tests use), events on."""
    pipeline = _pipeline()
    pipeline.load("int8-416")
    return pipeline


def test_every_committed_file_matches_its_manifest_sha256() -> None:
    package = load_package(FAMILY)
    for variant in package.manifest.variants:
        path = package.variant_path(variant.id)
        if variant.build_command is not None and not path.is_file():
            assert package.unavailable_reason(variant.id) == "not built: run `make models`"
            continue
        assert file_sha256(path) == variant.sha256


def test_committed_weights_stay_within_the_family_budget() -> None:
    committed = sum(
        p.stat().st_size for p in FAMILY.glob("*.tflite") if p.name != "nanodet-fp32.tflite"
    )
    assert committed <= 12 * 2**20


@pytest.mark.parametrize("variant", ["fp16-416", "fp16-320", "int8-416", "int8-320", "int8-256"])
def test_each_variant_runs_at_its_input_size(variant: str) -> None:
    pipeline = _pipeline(ObjectsOptions(events=False))
    assert pipeline.input_size is None
    pipeline.load(variant)
    size = int(variant.split("-")[1])
    assert pipeline.input_size == (size, size)
    [result] = pipeline.process(_image("person_cat_row.jpg"), _ctx())
    assert {"person", "cat"} <= {o["label"] for o in result["objects"]}


@pytest.mark.parametrize("name", EXACT)
def test_counts_per_label_and_boxes_match_the_hand_labels(
    quality_first: ObjectsPipeline, name: str
) -> None:
    [result] = quality_first.process(_image(name), _ctx())
    expected = LABELS[name]
    assert result["counts"] == dict(Counter(o["label"] for o in expected))
    assert result["count"] == len(expected)
    for want in expected:
        boxes = np.array([o["box"] for o in result["objects"] if o["label"] == want["label"]])
        assert float(iou(np.asarray(want["box"], np.float32), boxes).max()) >= 0.5


def test_result_shape_and_order(quality_first: ObjectsPipeline) -> None:
    sample = _image("person_cat_row.jpg")
    ctx = _ctx()
    [result] = quality_first.process(sample, ctx)
    assert result["image"] == {"width": sample.width, "height": sample.height}
    scores = [o["score"] for o in result["objects"]]
    assert scores == sorted(scores, reverse=True)
    for o in result["objects"]:
        x0, y0, x1, y1 = o["box"]
        assert 0.0 <= x0 < x1 <= 1.0
        assert 0.0 <= y0 < y1 <= 1.0
        assert "id" not in o  # events are off
    assert set(ctx.timer.stages) == {"prepare", "infer", "interpret"}
    assert ctx.outputs.events == []
    assert ctx.outputs.states == []


def test_classes_limit_what_is_reported(fast: ObjectsPipeline) -> None:
    [result] = fast.process(_image("person_cat_row.jpg"), _ctx("c1", classes=["cat"]))
    assert [o["label"] for o in result["objects"]] == ["cat"]


def test_per_label_min_score(fast: ObjectsPipeline) -> None:
    [result] = fast.process(_image("person_cat_row.jpg"), _ctx("c2", min_score={"person": 0.99}))
    labels = [o["label"] for o in result["objects"]]
    assert "person" not in labels
    assert "cat" in labels


def test_max_objects_and_min_area(fast: ObjectsPipeline) -> None:
    [one] = fast.process(_image("person_cat_row.jpg"), _ctx("c3", max_objects=1))
    assert one["count"] == 1
    [big] = fast.process(_image("person_small_on_gravel.jpg"), _ctx("c4", min_area=0.2))
    assert big["count"] == 0  # the person covers ~13 % of the frame


def test_objects_report_the_zones_holding_their_bottom_centre(fast: ObjectsPipeline) -> None:
    right = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
    left = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]
    [result] = fast.process(
        _image("person_cat_row.jpg"),
        _ctx("c5", classes=["person", "cat"], zones={"right": right, "left": left}),
    )
    zones = {o["label"]: o["zones"] for o in result["objects"]}
    assert zones == {"person": ["left"], "cat": ["right"]}


def test_events_and_counts_follow_the_objects() -> None:
    now = [1000.0]
    pipeline = _pipeline(
        ObjectsOptions(classes=["person", "cat"], max_missed=1), clock=lambda: now[0]
    )
    pipeline.load("int8-416")
    first = _ctx("door")
    [result] = pipeline.process(_image("person_cat_row.jpg"), first)
    assert sorted(e.event_type for e in first.outputs.events) == ["new", "new"]
    assert sorted((s.path, s.payload) for s in first.outputs.states) == [
        ("counts/door/cat", b"1"),
        ("counts/door/person", b"1"),
    ]
    ids = {o["label"]: o["id"] for o in result["objects"]}
    assert {e.data["label"]: e.data["id"] for e in first.outputs.events} == ids
    now[0] += 1
    second = _ctx("door")
    [again] = pipeline.process(_image("person_cat_row.jpg"), second)
    assert {o["label"]: o["id"] for o in again["objects"]} == ids
    assert second.outputs.events == []
    assert second.outputs.states == []
    ends = []
    for _ in range(2):
        now[0] += 1
        empty = _ctx("door")
        pipeline.process(_image("none_grey.jpg"), empty)
        ends += empty.outputs.events
        states = empty.outputs.states
    assert sorted((e.event_type, e.data["reason"]) for e in ends) == [("end", "lost")] * 2
    assert sorted((s.path, s.payload) for s in states) == [
        ("counts/door/cat", b"0"),
        ("counts/door/person", b"0"),
    ]


def test_a_text_sample_is_rejected_as_wrong_modality(fast: ObjectsPipeline) -> None:
    with pytest.raises(PayloadError) as err:
        fast.process(TextSample("hello", {}, "text/plain"), _ctx())
    assert err.value.reason is Reason.WRONG_MODALITY


def test_processing_without_a_loaded_variant_fails() -> None:
    with pytest.raises(ModelError):
        _pipeline().process(_image("horse.jpg"), _ctx())


def test_unknown_labels_in_options_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unicorn"):
        _pipeline(ObjectsOptions(classes=["person", "unicorn"]))


@pytest.mark.parametrize(
    "bad",
    [
        {"zones": {"a": [[0, 0], [1, 1]]}},
        {"zones": {"a": [[0, 0], [1.5, 0], [1, 1]]}},
        {"zones": {"bad name": [[0, 0], [1, 0], [1, 1]]}},
        {"min_score": 1.5},
        {"min_score": {"person": 0.0}},
        {"colour": "red"},
    ],
)
def test_bad_route_options_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ObjectsRouteOptions.model_validate(bad)


def test_every_option_is_described() -> None:
    for model in (ObjectsOptions, ObjectsRouteOptions):
        assert all(field.description for field in model.model_fields.values())


def test_a_corrupt_file_fails_to_load_and_keeps_the_previous_variant(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns("nanodet-fp32.tflite"))
    (root / "nanodet-fp16.tflite").write_bytes(b"corrupt")
    pipeline = _pipeline(root=root)
    pipeline.load("int8-256")
    with pytest.raises(ModelError, match="sha256"):
        pipeline.load("fp16-416")
    assert pipeline.active_variant == "int8-256"


def test_the_float32_artifact_is_unavailable_until_built(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    shutil.copytree(FAMILY, root, ignore=shutil.ignore_patterns("nanodet-fp32.tflite"))
    package = load_package(root)
    assert "make models" in (package.unavailable_reason("fp32-416") or "")
    with pytest.raises(ModelError, match="not built"):
        _pipeline(root=root).load("fp32-416")
