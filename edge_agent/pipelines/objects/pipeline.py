"""The ``objects`` pipeline: COCO object detection with NanoDet, tracked per sensor.

Serves every variant of the ``objects`` family: a variant is one of the model
files (fp32, fp16 weights, dynamic-range int8) run at one input size (416,
320, 256); the size comes from the manifest's ``[pipeline.variants."<id>"]``
and the file's dynamic input is resized to it at load.

Result (one per image)::

    {"count": N,
     "objects": [{"label": "person", "score": 0.81, "box": [x_min, y_min, x_max, y_max],
                  "zones": ["driveway"], "id": "18c2f1a3b4e-3"}],
     "counts": {"person": 1},
     "image": {"width": W, "height": H}}

Boxes are normalised to the original image (0..1, origin top left, clipped),
best score first; ``id`` (the tracked object) only when events are on. Beside
the result, :mod:`~edge_agent.pipelines.objects.streams` publishes ``new`` /
``update`` / ``end`` events and retained counts (see the README's contract).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import structlog
from pydantic import BaseModel

from edge_agent.errors import ConfigError, ModelError, PayloadError, Reason
from edge_agent.pipelines.base import ImageSample, Modality, Pipeline, RequestContext, Sample
from edge_agent.pipelines.objects.decode import Detections, Level, class_nms, decode_levels
from edge_agent.pipelines.objects.options import (
    Filters,
    ObjectsOptions,
    ObjectsRouteOptions,
    effective,
)
from edge_agent.pipelines.objects.preprocess import Normalisation, Placement, letterbox, to_input
from edge_agent.pipelines.objects.settings import ObjectsSettings
from edge_agent.pipelines.objects.streams import Streams
from edge_agent.pipelines.objects.tracker import Observation
from edge_agent.pipelines.objects.zones import zones_of
from edge_agent.runtime.interpreter import TFLiteModel

__all__ = ["ObjectsPipeline"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A loaded variant with its tensor bindings."""

    variant: str
    model: TFLiteModel
    size: int
    levels: list[Level]
    outputs: list[tuple[int, int]]
    """(scores output index, distributions output index) per level."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Model input made for one variant (``infer`` redoes it if another is active)."""

    loaded: _Loaded
    sample: ImageSample
    tensor: np.ndarray[Any, np.dtype[np.float32]]
    placement: Placement


@dataclass(frozen=True, slots=True)
class _Raw:
    """Outputs copied out of the interpreter, with the variant that made them."""

    loaded: _Loaded
    outputs: list[
        tuple[np.ndarray[Any, np.dtype[np.float32]], np.ndarray[Any, np.dtype[np.float32]]]
    ]
    placement: Placement
    sample: ImageSample


class ObjectsPipeline(Pipeline):
    """Object detection (80 COCO classes) with per-sensor tracking, events and counts.

    Staged: letterbox on the prepare thread, the model on the owner thread, and
    decoding, tracking, events and counts on the finish thread, which keeps every
    sensor's frames in order (and, with shards, a sensor on one shard).
    """

    kind: ClassVar[str] = "objects"
    modality: ClassVar[Modality] = "image"
    default_priority: ClassVar[int] = 80
    staged: ClassVar[bool] = True
    sensor_affinity: ClassVar[bool] = True
    options_model: ClassVar[type[BaseModel]] = ObjectsOptions
    route_options_model: ClassVar[type[BaseModel]] = ObjectsRouteOptions

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = self.family_settings(ObjectsSettings)
        opts = self.options if isinstance(self.options, ObjectsOptions) else ObjectsOptions()
        self.opts = opts
        self._check_labels(opts, "pipelines.*.options")
        self.norm = Normalisation(
            self.settings.channels, self.settings.mean, self.settings.std, self.settings.layout
        )
        self.streams = Streams(
            max_sensors=opts.max_sensors,
            idle_reset_s=opts.idle_reset_s,
            match_iou=opts.match_iou,
            score_gain=opts.score_gain,
        )
        self.clock = clock
        self._loaded: _Loaded | None = None
        self._labels = np.asarray(self.settings.labels)
        self._thresholds: dict[tuple[Any, ...], np.ndarray[Any, np.dtype[np.float32]]] = {}

    def _check_labels(self, options: BaseModel, key: str) -> None:
        known = set(self.settings.labels)
        classes = getattr(options, "classes", None) or []
        scores = getattr(options, "min_score", None)
        named = list(classes) + (list(scores) if isinstance(scores, dict) else [])
        unknown = sorted(set(named) - known)
        if unknown:
            raise ConfigError(f"unknown labels {unknown} (see the family's manifest)", key=key)

    @property
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None."""
        return self._loaded.variant if self._loaded is not None else None

    @property
    def input_size(self) -> tuple[int, int] | None:
        """``(width, height)`` the active variant's input takes, or None when unloaded."""
        return (self._loaded.size, self._loaded.size) if self._loaded is not None else None

    def _error(self, variant: str, reason: str) -> ModelError:
        return ModelError(
            reason,
            family=self.package.family,
            variant=variant,
            path=str(self.package.variant_path(variant)),
        )

    def _build(self, variant_id: str) -> _Loaded:
        spec = self.package.variant(variant_id)
        vset = self.settings.variants.get(variant_id)
        if vset is None:
            raise self._error(variant_id, "no [pipeline.variants] entry for this variant")
        reason = self.package.unavailable_reason(variant_id)
        if reason is not None:
            raise self._error(variant_id, reason)
        model = TFLiteModel(
            self.package.variant_path(variant_id),
            num_threads=self.num_threads,
            sha256=spec.sha256,
            family=self.package.family,
            variant=variant_id,
        )
        size = vset.input_size
        shape = (1, 3, size, size) if self.settings.layout == "NCHW" else (1, size, size, 3)
        if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
            raise self._error(variant_id, "expected one 4-d input")
        if model.inputs[0].shape != shape:
            model.resize_input(0, shape)
        # The outputs' shapes follow the input through the graph's own shape ops:
        # they are known after an invoke (which also warms the model up).
        model.set_input(0, np.zeros(shape, np.float32))
        model.invoke()
        classes, width = len(self.settings.labels), 4 * self.settings.bins
        by_shape = {model.output(i).shape[-2:]: i for i in range(len(model.outputs))}
        levels, outputs = [], []
        for stride in self.settings.strides:
            cells = (size // stride) ** 2
            if (cells, classes) not in by_shape or (cells, width) not in by_shape:
                raise self._error(variant_id, f"no outputs with {cells} cells for stride {stride}")
            levels.append(Level(stride, size // stride, size // stride))
            outputs.append((by_shape[(cells, classes)], by_shape[(cells, width)]))
        return _Loaded(variant_id, model, size, levels, outputs)

    def load(self, variant_id: str) -> None:
        """Load, check and warm ``variant_id``, then make it active.

        Raises:
            ModelError: Unknown or unavailable variant, wrong checksum or a model
                whose tensors do not match the manifest. The previous variant stays.
        """
        loaded = self._build(variant_id)
        previous, self._loaded = self._loaded, loaded
        if previous is not None:
            previous.model.close()
        log.info(
            "objects_variant_loaded",
            pipeline=self.name,
            variant=variant_id,
            input_size=loaded.size,
            threads=self.num_threads,
        )

    def unload(self) -> None:
        """Drop the active model (tracked objects are kept)."""
        if self._loaded is not None:
            self._loaded.model.close()
            log.info("objects_variant_unloaded", pipeline=self.name, variant=self._loaded.variant)
        self._loaded = None

    def reset(self, sensor: str) -> None:
        """Forget the tracked objects of ``sensor``."""
        self.streams.forget(sensor)

    def _threshold(self, filters: Filters) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Per-class score threshold (above 1 for classes not reported), cached."""
        scores = filters.min_score
        key = (
            filters.classes,
            tuple(sorted(scores.items())) if isinstance(scores, dict) else scores,
        )
        cached = self._thresholds.get(key)
        if cached is not None:
            return cached
        default = scores if isinstance(scores, float) else self.settings.min_score
        values = np.full(len(self._labels), default, np.float32)
        if isinstance(scores, dict):
            for i, label in enumerate(self.settings.labels):
                values[i] = scores.get(label, default)
        if filters.classes is not None:
            values[~np.isin(self._labels, sorted(filters.classes))] = 2.0
        if len(self._thresholds) > 64:
            self._thresholds.clear()
        self._thresholds[key] = values
        return values

    @property
    def decode_size(self) -> tuple[int, int] | None:
        """Twice the largest variant input: frames decode at 1/2..1/8 scale, still above it.

        The largest input of any variant, so the decode does not depend on which
        variant is loaded (or whether one is). The letterbox resizes with Pillow's
        area filter, so a source twice the input loses nothing it would use.
        """
        size = max(v.input_size for v in self.settings.variants.values())
        return size * 2, size * 2

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Detect objects in one image, track them and record events and counts.

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
                Reason.WRONG_MODALITY, "objects needs an image", topic=ctx.topic, sensor=ctx.sensor
            )
        active = self._loaded
        if active is None:
            raise ModelError("no variant loaded", family=self.package.family)
        with ctx.timer.stage("prepare"):
            pixels, placement = letterbox(
                sample.rgb, active.size, active.size, self.settings.letterbox_fill
            )
            tensor = to_input(pixels, self.norm)
        return _Prepared(active, sample, tensor, placement)

    def infer(self, prepared: Any, ctx: RequestContext) -> _Raw:
        """Run the model (owner thread); redo the preprocessing after a swap."""
        if not isinstance(prepared, _Prepared):
            raise TypeError("objects.infer takes what objects.preprocess returned")
        active = self._loaded
        if active is None:
            raise ModelError("no variant loaded", family=self.package.family)
        if prepared.loaded is not active:
            prepared = self.preprocess(prepared.sample, ctx)
        with ctx.timer.stage("infer"):
            model = active.model
            model.set_input(0, prepared.tensor)
            model.invoke()
            raw = [(model.output(s)[0], model.output(d)[0]) for s, d in active.outputs]
        return _Raw(active, raw, prepared.placement, prepared.sample)

    def postprocess(self, raw: Any, ctx: RequestContext) -> list[dict[str, Any]]:
        """Decode, NMS, zones, tracking, events and counts (the finish thread, in order)."""
        if not isinstance(raw, _Raw):
            raise TypeError("objects.postprocess takes what objects.infer returned")
        filters = effective(self.opts, ctx.route_options)
        with ctx.timer.stage("interpret"):
            levels = raw.loaded.levels
            found = decode_levels(raw.outputs, levels, self.settings.bins, self._threshold(filters))
            kept = class_nms(found, self.settings.iou_threshold, 0)
            objects = self._objects(kept, raw.placement.boxes_to_source(kept.boxes), filters)
            result = self._result(objects, filters, ctx, raw.sample)
        return [result]

    def _objects(
        self, dets: Detections, boxes: np.ndarray[Any, np.dtype[np.float32]], filters: Filters
    ) -> list[Observation]:
        """Observations after the area filter and the per-image limit, best first."""
        out: list[Observation] = []
        for i in range(len(dets)):
            box = tuple(float(v) for v in boxes[i])
            if (box[2] - box[0]) * (box[3] - box[1]) < filters.min_area:
                continue
            out.append(
                Observation(
                    str(self._labels[dets.classes[i]]),
                    (box[0], box[1], box[2], box[3]),
                    float(dets.scores[i]),
                    zones_of(box, filters.zones),
                )
            )
            if len(out) >= filters.max_objects:
                break
        return out

    def _result(
        self,
        objects: list[Observation],
        filters: Filters,
        ctx: RequestContext,
        sample: ImageSample,
    ) -> dict[str, Any]:
        ids: list[str] = []
        if filters.events:
            outcome = self.streams.step(
                ctx.route, ctx.sensor, objects, self.clock(), filters.max_missed
            )
            ids = outcome.ids
            for event in outcome.events:
                ctx.outputs.event(event.kind, event.data)
            for path, value in outcome.states.items():
                ctx.outputs.retain(path, value)
        counts: dict[str, int] = {}
        items = []
        for i, o in enumerate(objects):
            counts[o.label] = counts.get(o.label, 0) + 1
            item: dict[str, Any] = {
                "label": o.label,
                "score": round(o.score, 4),
                "box": [round(v, 5) for v in o.box],
                "zones": list(o.zones),
            }
            if ids:
                item["id"] = ids[i]
            items.append(item)
        return {
            "count": len(items),
            "objects": items,
            "counts": counts,
            "image": {"width": sample.source_width, "height": sample.source_height},
        }
