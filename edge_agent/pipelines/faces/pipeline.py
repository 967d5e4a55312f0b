"""The ``faces`` pipeline: BlazeFace face detection on images.

Serves every variant of the ``faces`` family (short and full range, float and
int8) through one class: the input size, anchors and decoding come from the
manifest's ``[pipeline.models.<range>]`` table that lists the variant, and are
checked against the loaded model's tensors.

Result (one per image)::

    {"count": N,
     "faces": [{"box": [x_min, y_min, x_max, y_max], "score": s,
                "keypoints": {"right_eye": [x, y], ...}}],
     "image": {"width": W, "height": H}}

Coordinates are normalised to the original image (not clipped: a face cut by
the frame edge may extend past 0 or 1, as in MediaPipe), best score first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import structlog
from pydantic import BaseModel, ConfigDict, Field

from edge_agent.errors import ModelError, PayloadError, Reason
from edge_agent.pipelines.base import (
    ImageSample,
    Modality,
    Pipeline,
    RequestContext,
    Sample,
)
from edge_agent.pipelines.faces.blazeface import (
    AnchorOptions,
    DecodeOptions,
    Detections,
    Letterbox,
    decode,
    generate_anchors,
    letterbox,
    normalise,
    weighted_nms,
)
from edge_agent.runtime.interpreter import TFLiteModel

__all__ = ["FacesOptions", "FacesPipeline", "FacesSettings"]

log = structlog.get_logger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FacesOptions(_Strict):
    """Pipeline options of ``faces`` (the daemon config's ``options`` table)."""

    score_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Minimum face score in [0, 1]; unset uses the model's min_score "
        "from the manifest (0.5, MediaPipe's default).",
    )
    max_faces: int = Field(
        default=10, ge=1, le=100, description="Largest number of faces reported per image."
    )


class AnchorSettings(_Strict):
    """SSD anchor options of one model (``[pipeline.models.<range>.anchors]``)."""

    input_size_width: int = Field(gt=0, description="Model input width in pixels.")
    input_size_height: int = Field(gt=0, description="Model input height in pixels.")
    num_layers: int = Field(gt=0, description="Number of SSD layers (length of strides).")
    min_scale: float = Field(gt=0, description="Anchor scale of the first layer.")
    max_scale: float = Field(gt=0, description="Anchor scale of the last layer.")
    strides: list[int] = Field(min_length=1, description="Stride of each layer in pixels.")
    anchor_offset_x: float = Field(default=0.5, description="Anchor centre offset in a cell (x).")
    anchor_offset_y: float = Field(default=0.5, description="Anchor centre offset in a cell (y).")
    aspect_ratios: list[float] = Field(
        default=[1.0], min_length=1, description="Anchor aspect ratios per location."
    )
    interpolated_scale_aspect_ratio: float = Field(
        default=1.0, description="Extra anchor with interpolated scale when > 0."
    )
    fixed_anchor_size: bool = Field(default=True, description="Anchors have width = height = 1.")
    reduce_boxes_in_lowest_layer: bool = Field(
        default=False, description="Three fixed anchors in the first layer."
    )

    def options(self) -> AnchorOptions:
        """Return the options for :func:`generate_anchors`."""
        if len(self.strides) != self.num_layers:
            raise ValueError(f"{len(self.strides)} strides for {self.num_layers} layers")
        return AnchorOptions(
            self.input_size_width,
            self.input_size_height,
            self.min_scale,
            self.max_scale,
            tuple(self.strides),
            self.anchor_offset_x,
            self.anchor_offset_y,
            tuple(self.aspect_ratios),
            self.interpolated_scale_aspect_ratio,
            self.fixed_anchor_size,
            self.reduce_boxes_in_lowest_layer,
        )


class DecodeSettings(_Strict):
    """Raw output decoding of one model (``[pipeline.models.<range>.decode]``)."""

    x_scale: float = Field(gt=0, description="Divisor of raw x offsets.")
    y_scale: float = Field(gt=0, description="Divisor of raw y offsets.")
    w_scale: float = Field(gt=0, description="Divisor of raw widths.")
    h_scale: float = Field(gt=0, description="Divisor of raw heights.")
    num_keypoints: int = Field(default=6, ge=0, description="Keypoints per face.")
    keypoint_coord_offset: int = Field(default=4, ge=0, description="First keypoint value index.")
    score_clipping_thresh: float = Field(default=100.0, gt=0, description="Logit clipping.")


class RangeSettings(_Strict):
    """One BlazeFace model (short or full range) and the variants built from it."""

    variants: list[str] = Field(min_length=1, description="Variant ids that use this model.")
    min_score: float = Field(ge=0.0, le=1.0, description="Default score threshold.")
    anchors: AnchorSettings = Field(description="SSD anchor options.")
    decode: DecodeSettings = Field(description="Raw output decoding.")


class FacesSettings(_Strict):
    """The manifest's ``[pipeline]`` table for the faces family."""

    input_range: tuple[float, float] = Field(
        description="Range uint8 pixels 0..255 are mapped onto, linearly."
    )
    letterbox_fill: int = Field(default=0, ge=0, le=255, description="Pixel value of the bars.")
    iou_threshold: float = Field(gt=0.0, le=1.0, description="Weighted NMS merge threshold.")
    keypoints: list[str] = Field(min_length=1, description="Keypoint names, in model order.")
    models: dict[str, RangeSettings] = Field(min_length=1, description="Models by range name.")

    def model_for(self, variant_id: str) -> RangeSettings | None:
        """Return the model settings that list ``variant_id``."""
        for settings in self.models.values():
            if variant_id in settings.variants:
                return settings
        return None


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A loaded variant with everything ``process`` needs, bound once."""

    variant: str
    model: TFLiteModel
    settings: RangeSettings
    anchors: np.ndarray[Any, np.dtype[np.float32]]
    decode: DecodeOptions
    width: int
    height: int
    regressors: int
    classificators: int


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Model input made for one variant (``infer`` redoes it if another is active)."""

    loaded: _Loaded
    sample: ImageSample
    tensor: np.ndarray[Any, np.dtype[np.float32]]
    placement: Letterbox


@dataclass(frozen=True, slots=True)
class _Raw:
    """Outputs copied out of the interpreter, with the variant that made them."""

    loaded: _Loaded
    regressors: np.ndarray[Any, np.dtype[np.float32]]
    scores: np.ndarray[Any, np.dtype[np.float32]]
    placement: Letterbox
    sample: ImageSample


class FacesPipeline(Pipeline):
    """Face detection with BlazeFace (MediaPipe's anchors, decoding and weighted NMS)."""

    kind: ClassVar[str] = "faces"
    modality: ClassVar[Modality] = "image"
    default_priority: ClassVar[int] = 80
    options_model: ClassVar[type[BaseModel]] = FacesOptions
    staged: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = self.family_settings(FacesSettings)
        self._loaded: _Loaded | None = None

    @property
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None."""
        return self._loaded.variant if self._loaded is not None else None

    def _error(self, variant: str, reason: str) -> ModelError:
        return ModelError(
            reason,
            family=self.package.family,
            variant=variant,
            path=str(self.package.variant_path(variant)),
        )

    def _build(self, variant_id: str) -> _Loaded:
        spec = self.package.variant(variant_id)
        settings = self.settings.model_for(variant_id)
        if settings is None:
            raise self._error(variant_id, "no [pipeline.models] entry lists this variant")
        try:
            anchors = generate_anchors(settings.anchors.options())
        except ValueError as exc:
            raise self._error(variant_id, f"bad anchor options: {exc}") from exc
        model = TFLiteModel(
            self.package.variant_path(variant_id),
            num_threads=self.num_threads,
            sha256=spec.sha256,
            family=self.package.family,
            variant=variant_id,
        )
        shape = model.inputs[0].shape if len(model.inputs) == 1 else ()
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise self._error(variant_id, f"expected one (1, H, W, 3) input, got {shape}")
        height, width = shape[1], shape[2]
        if (width, height) != (
            settings.anchors.input_size_width,
            settings.anchors.input_size_height,
        ):
            raise self._error(variant_id, f"input {width}x{height} does not match the anchors")
        coords = settings.decode.keypoint_coord_offset + 2 * settings.decode.num_keypoints
        by_width = {o.shape[-1]: i for i, o in enumerate(model.outputs)}
        if len(model.outputs) != 2 or set(by_width) != {coords, 1}:
            raise self._error(variant_id, f"expected outputs (.., {coords}) and (.., 1)")
        for index in by_width.values():
            if int(np.prod(model.outputs[index].shape[:-1])) != len(anchors):
                raise self._error(variant_id, f"outputs do not have {len(anchors)} anchors")
        d = settings.decode
        loaded = _Loaded(
            variant_id,
            model,
            settings,
            anchors,
            DecodeOptions(
                d.x_scale,
                d.y_scale,
                d.w_scale,
                d.h_scale,
                d.num_keypoints,
                d.keypoint_coord_offset,
                d.score_clipping_thresh,
            ),
            width,
            height,
            by_width[coords],
            by_width[1],
        )
        model.set_input(0, np.zeros(shape, np.float32))
        model.invoke()
        return loaded

    def load(self, variant_id: str) -> None:
        """Load, check and warm ``variant_id``, then make it active.

        Raises:
            ModelError: Unknown variant, wrong checksum or a model whose tensors do
                not match the manifest's settings. The previous variant stays active.
        """
        loaded = self._build(variant_id)
        previous, self._loaded = self._loaded, loaded
        if previous is not None:
            previous.model.close()
        log.info(
            "faces_variant_loaded",
            pipeline=self.name,
            variant=variant_id,
            input_width=loaded.width,
            input_height=loaded.height,
            anchors=len(loaded.anchors),
            threads=self.num_threads,
        )

    def unload(self) -> None:
        """Drop the active model."""
        if self._loaded is not None:
            self._loaded.model.close()
            log.info("faces_variant_unloaded", pipeline=self.name, variant=self._loaded.variant)
        self._loaded = None

    @property
    def decode_size(self) -> tuple[int, int] | None:
        """Four times the model input: big frames decode at 1/2..1/8 scale, still far above it.

        The letterbox samples bilinearly without anti-aliasing, as MediaPipe does, so
        how much the decoder averages first shows in the answers: at 4x every variant
        finds the same faces as on the full decode of 28 frames enlarged to 2048 px
        (box IoU >= 0.89), at 2x two variants lose a face on one frame
        (``benchmarks/decode_scale_quality.py``).
        """
        # The largest input of any variant, so the decode does not depend on which
        # variant is loaded (or whether one is: a frame can arrive while unloaded).
        width = max(m.anchors.input_size_width for m in self.settings.models.values())
        height = max(m.anchors.input_size_height for m in self.settings.models.values())
        return width * 4, height * 4

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Detect faces in one image (the three stages in one call).

        Raises:
            PayloadError: The sample is not an image.
            ModelError: No variant is loaded.
        """
        return self.postprocess(self.infer(self.preprocess(sample, ctx), ctx), ctx)

    def preprocess(self, sample: Sample, ctx: RequestContext) -> _Prepared:
        """Letterbox and normalise for the active variant (any thread).

        Raises:
            PayloadError: The sample is not an image.
            ModelError: No variant is loaded.
        """
        if not isinstance(sample, ImageSample):
            raise PayloadError(
                Reason.WRONG_MODALITY, "faces needs an image", topic=ctx.topic, sensor=ctx.sensor
            )
        active = self._loaded
        if active is None:
            raise ModelError("no variant loaded", family=self.package.family)
        with ctx.timer.stage("prepare"):
            pixels, placement = letterbox(
                sample.rgb, active.width, active.height, self.settings.letterbox_fill
            )
            low, high = self.settings.input_range
            tensor = normalise(pixels, low, high)[None]
        return _Prepared(active, sample, tensor, placement)

    def infer(self, prepared: Any, ctx: RequestContext) -> _Raw:
        """Run the model (owner thread); redo the preprocessing after a swap."""
        if not isinstance(prepared, _Prepared):
            raise TypeError("faces.infer takes what faces.preprocess returned")
        active = self._loaded
        if active is None:
            raise ModelError("no variant loaded", family=self.package.family)
        if prepared.loaded is not active:
            prepared = self.preprocess(prepared.sample, ctx)
        with ctx.timer.stage("infer"):
            active.model.set_input(0, prepared.tensor)
            active.model.invoke()
            regressors = active.model.output(active.regressors)
            scores = active.model.output(active.classificators)
        return _Raw(active, regressors, scores, prepared.placement, prepared.sample)

    def postprocess(self, raw: Any, ctx: RequestContext) -> list[dict[str, Any]]:
        """Decode anchors, weighted NMS, map back (any thread; uses the raw's own variant)."""
        if not isinstance(raw, _Raw):
            raise TypeError("faces.postprocess takes what faces.infer returned")
        options = self.options if isinstance(self.options, FacesOptions) else FacesOptions()
        loaded = raw.loaded
        with ctx.timer.stage("interpret"):
            threshold = (
                options.score_threshold
                if options.score_threshold is not None
                else loaded.settings.min_score
            )
            candidates = decode(
                raw.regressors, raw.scores, loaded.anchors, loaded.decode, threshold
            )
            faces = weighted_nms(candidates, self.settings.iou_threshold, options.max_faces)
            sample = raw.sample
            result = self._result(faces, raw.placement, sample.source_width, sample.source_height)
        return [result]

    def _result(
        self, faces: Detections, placement: Letterbox, width: int, height: int
    ) -> dict[str, Any]:
        """Map detections onto the original image and shape the result dict."""
        src_boxes = placement.boxes_to_source(faces.boxes)
        src_kps = placement.to_source(faces.keypoints)
        scores = faces.scores
        names = self.settings.keypoints
        items = [
            {
                "box": [round(float(v), 5) for v in src_boxes[i]],
                "score": round(float(scores[i]), 5),
                "keypoints": {
                    name: [round(float(src_kps[i, k, 0]), 5), round(float(src_kps[i, k, 1]), 5)]
                    for k, name in enumerate(names[: src_kps.shape[1]])
                },
            }
            for i in range(len(scores))
        ]
        return {"count": len(items), "faces": items, "image": {"width": width, "height": height}}
