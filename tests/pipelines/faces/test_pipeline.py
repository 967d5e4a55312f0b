"""The faces pipeline: loading variants, result shape, options, errors, timings."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from structlog.testing import capture_logs

from edge_agent.errors import ModelError, PayloadError, Reason
from edge_agent.pipelines.base import ImageSample, RequestContext, TextSample
from edge_agent.pipelines.faces import FacesOptions, FacesPipeline
from edge_agent.runtime.interpreter import file_sha256
from edge_agent.runtime.manifest import load_package

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "faces"
FAMILY = REPO / "models" / "faces"
KEYPOINTS = [
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
]


def _image(name: str) -> ImageSample:
    with Image.open(FIXTURES / f"{name}.jpg") as img:
        return ImageSample(np.asarray(img.convert("RGB"), dtype=np.uint8), "image/jpeg")


def _ctx() -> RequestContext:
    return RequestContext(
        topic="sensors/cam1/image",
        sensor="cam1",
        route="r",
        request_id="1",
        route_options=FacesOptions(),
    )


def _pipeline(options: FacesOptions | None = None, root: Path = FAMILY) -> FacesPipeline:
    return FacesPipeline("faces", load_package(root), options or FacesOptions())


@pytest.fixture(scope="module")
def faces_short() -> FacesPipeline:
    """A faces pipeline with the short-range float variant loaded."""
    pipeline = _pipeline()
    pipeline.load("short-float")
    return pipeline


def test_every_manifest_sha256_matches_its_file() -> None:
    package = load_package(FAMILY)
    for variant in package.manifest.variants:
        assert file_sha256(package.variant_path(variant.id)) == variant.sha256


@pytest.mark.parametrize(
    ("variant", "size"),
    [
        ("short-float", 128),
        ("short-int8", 128),
        ("full-float", 192),
        ("full-int8", 192),
    ],
)
def test_each_variant_loads_with_its_input_size(variant: str, size: int) -> None:
    pipeline = _pipeline()
    with capture_logs() as logs:
        pipeline.load(variant)
    assert pipeline.active_variant == variant
    event = next(e for e in logs if e["event"] == "faces_variant_loaded")
    assert (event["input_width"], event["input_height"]) == (size, size)


def test_result_has_the_documented_shape(faces_short: FacesPipeline) -> None:
    sample = _image("face_hopper")
    [result] = faces_short.process(sample, _ctx())
    assert result["count"] == 1
    assert result["image"] == {"width": sample.width, "height": sample.height}
    face = result["faces"][0]
    assert len(face["box"]) == 4
    assert 0.5 < face["score"] <= 1.0
    assert list(face["keypoints"]) == KEYPOINTS


def test_boxes_are_normalised_to_the_original_image(faces_short: FacesPipeline) -> None:
    [result] = faces_short.process(_image("face_hopper"), _ctx())
    x0, y0, x1, y1 = result["faces"][0]["box"]
    # Grace Hopper's face sits in the upper middle of the portrait.
    assert 0.2 < x0 < x1 < 0.8
    assert 0.1 < y0 < y1 < 0.7


def test_keypoints_fall_inside_the_face_box(faces_short: FacesPipeline) -> None:
    [result] = faces_short.process(_image("face_astronaut"), _ctx())
    face = result["faces"][0]
    x0, y0, x1, y1 = face["box"]
    for name in ("right_eye", "left_eye", "nose_tip", "mouth_center"):
        x, y = face["keypoints"][name]
        assert x0 <= x <= x1
        assert y0 <= y <= y1


def test_faces_are_sorted_best_score_first(faces_short: FacesPipeline) -> None:
    [result] = faces_short.process(_image("faces_three"), _ctx())
    scores = [f["score"] for f in result["faces"]]
    assert scores == sorted(scores, reverse=True)


def test_no_face_image_gives_an_empty_result(faces_short: FacesPipeline) -> None:
    [result] = faces_short.process(_image("noface_grey"), _ctx())
    assert result["count"] == 0
    assert result["faces"] == []


def test_max_faces_limits_the_result() -> None:
    pipeline = _pipeline(FacesOptions(max_faces=1))
    pipeline.load("short-float")
    [result] = pipeline.process(_image("faces_three"), _ctx())
    assert result["count"] == 1


def test_score_threshold_overrides_the_manifest_default() -> None:
    pipeline = _pipeline(FacesOptions(score_threshold=0.999))
    pipeline.load("short-float")
    [result] = pipeline.process(_image("face_hopper"), _ctx())
    assert result["count"] == 0


def test_stages_are_timed(faces_short: FacesPipeline) -> None:
    ctx = _ctx()
    faces_short.process(_image("face_hopper"), ctx)
    assert set(ctx.timer.stages) == {"prepare", "infer", "interpret"}


def test_a_text_sample_is_rejected_as_wrong_modality(faces_short: FacesPipeline) -> None:
    with pytest.raises(PayloadError) as err:
        faces_short.process(TextSample("hello", {}, "text/plain"), _ctx())
    assert err.value.reason is Reason.WRONG_MODALITY
    assert err.value.sensor == "cam1"


def test_processing_without_a_loaded_variant_fails() -> None:
    with pytest.raises(ModelError):
        _pipeline().process(_image("face_hopper"), _ctx())


def test_unload_drops_the_variant() -> None:
    pipeline = _pipeline()
    pipeline.load("short-int8")
    pipeline.unload()
    assert pipeline.active_variant is None


def test_switching_variants_serves_the_new_one() -> None:
    pipeline = _pipeline()
    pipeline.load("short-float")
    pipeline.load("full-int8")
    assert pipeline.active_variant == "full-int8"
    [result] = pipeline.process(_image("face_hopper"), _ctx())
    assert result["count"] == 1


def test_unknown_variant_fails_and_keeps_the_previous_one() -> None:
    pipeline = _pipeline()
    pipeline.load("short-float")
    with pytest.raises(ModelError):
        pipeline.load("tiny-float")
    assert pipeline.active_variant == "short-float"


def _copy_family(tmp_path: Path, edit: Any) -> Path:
    root = tmp_path / "faces"
    shutil.copytree(FAMILY, root)
    manifest = root / "manifest.toml"
    manifest.write_text(edit(manifest.read_text(encoding="utf-8")), encoding="utf-8")
    return root


def test_a_corrupt_weight_file_fails_to_load_and_keeps_the_previous_one(tmp_path: Path) -> None:
    root = _copy_family(tmp_path, lambda text: text)
    (root / "face_detection_full_range_int8.tflite").write_bytes(b"corrupt")
    pipeline = _pipeline(root=root)
    pipeline.load("short-float")
    with pytest.raises(ModelError, match="sha256"):
        pipeline.load("full-int8")
    assert pipeline.active_variant == "short-float"


def test_a_variant_without_pipeline_settings_fails_to_load(tmp_path: Path) -> None:
    root = _copy_family(
        tmp_path,
        lambda text: text.replace(
            'variants = ["full-float", "full-int8"]', 'variants = ["full-float"]'
        ),
    )
    with pytest.raises(ModelError, match=r"pipeline\.models"):
        _pipeline(root=root).load("full-int8")


def test_anchor_settings_that_do_not_match_the_model_fail_to_load(tmp_path: Path) -> None:
    root = _copy_family(
        tmp_path,
        lambda text: text.replace(
            "input_size_width = 192\ninput_size_height = 192",
            "input_size_width = 128\ninput_size_height = 128",
        ),
    )
    with pytest.raises(ModelError, match="does not match"):
        _pipeline(root=root).load("full-float")


def test_an_invalid_pipeline_table_is_a_model_error(tmp_path: Path) -> None:
    root = _copy_family(tmp_path, lambda text: text.replace("iou_threshold = 0.3", "iou = 0.3"))
    with pytest.raises(ModelError, match=r"\[pipeline\]"):
        _pipeline(root=root)


def test_options_reject_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        FacesOptions.model_validate({"max_face": 3})


def test_options_reject_a_threshold_above_one() -> None:
    with pytest.raises(ValidationError):
        FacesOptions(score_threshold=1.5)


def test_every_option_is_described() -> None:
    assert all(field.description for field in FacesOptions.model_fields.values())
