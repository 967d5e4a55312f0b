"""The seam every task pipeline implements, and the samples codecs hand it.

A pipeline is owned by exactly one worker thread: ``load``, ``unload`` and
``process`` are never called concurrently, so implementations need no locks.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from edge_agent.errors import ModelError
from edge_agent.pipelines.outputs import SideOutputs
from edge_agent.runtime.manifest import ModelPackage

__all__ = [
    "AudioSample",
    "ImageSample",
    "Modality",
    "NoOptions",
    "Pipeline",
    "RequestContext",
    "Sample",
    "StageTimer",
    "TextSample",
]

Modality = Literal["image", "audio", "text"]
_SettingsT = TypeVar("_SettingsT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ImageSample:
    """A decoded image.

    Attributes:
        rgb: Pixels, shape (height, width, 3), uint8, RGB order (read-only).
        source_format: Format it was decoded from (``image/jpeg``...).
        source_size: (width, height) of the image as sent, when it was decoded at a
            reduced scale; None when ``rgb`` is full size. Results report this size
            (coordinates are normalised, so they hold at either scale).
    """

    rgb: npt.NDArray[np.uint8]
    source_format: str
    source_size: tuple[int, int] | None = None

    @property
    def source_width(self) -> int:
        """Width of the image as sent."""
        return self.source_size[0] if self.source_size is not None else self.width

    @property
    def source_height(self) -> int:
        """Height of the image as sent."""
        return self.source_size[1] if self.source_size is not None else self.height

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.rgb.shape[0])


@dataclass(frozen=True, slots=True)
class AudioSample:
    """Decoded audio, converted to what the pipeline asked for.

    Attributes:
        pcm: Mono samples at ``rate``, int16.
        rate: Sample rate of ``pcm`` in Hz.
        source_rate: Sample rate of the payload.
        source_channels: Channel count of the payload.
        source_format: Format it was decoded from.
    """

    pcm: npt.NDArray[np.int16]
    rate: int
    source_rate: int
    source_channels: int
    source_format: str

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return len(self.pcm) / self.rate if self.rate else 0.0


@dataclass(frozen=True, slots=True)
class TextSample:
    """Decoded text.

    Attributes:
        text: The text (never logged).
        fields: Extra fields of a JSON envelope (without ``text``).
        source_format: Format it was decoded from.
    """

    text: str
    fields: Mapping[str, Any]
    source_format: str


Sample = ImageSample | AudioSample | TextSample


class StageTimer:
    """Collects per-stage wall-clock durations of one message, in milliseconds."""

    __slots__ = ("stages",)

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    def stage(self, name: str) -> _Stage:
        """Time the body of a ``with`` block under ``name`` (accumulates)."""
        return _Stage(self.stages, name)


class _Stage:
    """One timed block (a class, not ``@contextmanager``: it runs several times per chunk)."""

    __slots__ = ("_name", "_stages", "_start")

    def __init__(self, stages: dict[str, float], name: str) -> None:
        self._stages, self._name = stages, name
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = (time.perf_counter() - self._start) * 1000.0
        self._stages[self._name] = self._stages.get(self._name, 0.0) + elapsed


@dataclass(slots=True)
class RequestContext:
    """What a pipeline may know about the message it processes.

    Attributes:
        topic: Topic the message arrived on.
        sensor: Sensor id taken from the topic.
        route: Route name.
        request_id: Correlation id of this request.
        route_options: The route's options, validated by the pipeline's ``route_options_model``.
        user_properties: MQTT v5 user properties of the message.
        timer: Stage timer; pipelines time ``prepare``, ``infer`` and ``interpret``.
        outputs: Events, retained states and partials the pipeline publishes
            beside its results (see :mod:`edge_agent.pipelines.outputs`).
        fields: Extra fields the message brought (a forwarded message's origin).
    """

    topic: str
    sensor: str
    route: str
    request_id: str
    route_options: BaseModel
    user_properties: Mapping[str, str] = field(default_factory=dict)
    timer: StageTimer = field(default_factory=StageTimer)
    outputs: SideOutputs = field(default_factory=SideOutputs)
    fields: Mapping[str, Any] = field(default_factory=dict)


class NoOptions(BaseModel):
    """Options model for pipelines or routes that take none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Pipeline(abc.ABC):
    """A task served by one model family.

    Subclasses set ``kind`` and ``modality`` (and ``audio_rate`` for audio), may
    declare ``options_model`` (pipeline-wide options) and ``route_options_model``
    (per-route options), and implement ``load``, ``unload`` and ``process``.

    Args:
        name: Pipeline name from the config.
        package: The model family it serves.
        options: Validated pipeline options (an ``options_model`` instance).
        num_threads: Interpreter threads.
        cache_dir: Writable folder for materialised variants.
        models_dir: The folder of all families (a pipeline that also uses another
            family's models, such as speech's wake words, loads them from here).
    """

    kind: ClassVar[str]
    modality: ClassVar[Modality]
    audio_rate: ClassVar[int | None] = None
    options_model: ClassVar[type[BaseModel]] = NoOptions
    route_options_model: ClassVar[type[BaseModel]] = NoOptions
    staged: ClassVar[bool] = False
    """True when the pipeline splits ``process`` into ``preprocess`` (any thread),
    ``infer`` (the owner thread) and ``postprocess`` (any thread), so the worker
    can decode and prepare the next message while this one is inferred."""
    streaming: ClassVar[bool] = False
    """Keeps state per sensor stream (wake words): ``shards = "auto"`` spreads sensors
    over one worker per core."""
    sensor_affinity: ClassVar[bool] = False
    """Keeps state per sensor (a tracker): with several shards, a sensor always goes to
    the same one. Otherwise (and unless ``streaming``) a message goes to the shard with
    the fewest waiting, and answers of one sensor may overtake each other."""
    default_priority: ClassVar[int] = 50
    """Place in the memory budget when the config sets none (higher keeps quality longer)."""
    default_load: ClassVar[Literal["at_start", "on_demand"]] = "at_start"
    """When the config sets none: load at start, or on the first message."""
    default_idle_unload_s: ClassVar[float | None] = None
    """Idle timeout when the config sets none (None: ``elastic.idle_unload_s``)."""
    default_inbox_size: ClassVar[int] = 32
    """Inbox size when the config sets none."""
    max_busy_s: ClassVar[float] = 60.0
    """Longest one message may keep the owner thread before the worker counts as stuck."""
    text_keys: ClassVar[tuple[str, ...]] = ("text",)
    """Text pipelines: the JSON envelope fields the text may come in."""
    load_wait_s: ClassVar[float] = 5.0
    """Least time a message that woke an on-demand load waits for it (route ``wait_s``
    if longer)."""

    def __init__(
        self,
        name: str,
        package: ModelPackage,
        options: BaseModel,
        *,
        num_threads: int = 1,
        cache_dir: Path | None = None,
        models_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.package = package
        self.options = options
        self.num_threads = num_threads
        self.cache_dir = cache_dir
        self.models_dir = models_dir

    def family_settings(self, model: type[_SettingsT]) -> _SettingsT:
        """Validate the manifest's ``[pipeline]`` table with the family's own model.

        Raises:
            ModelError: The table does not match ``model``.
        """
        try:
            return model.model_validate(self.package.manifest.pipeline)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ModelError(
                f"[pipeline] {where}: {first['msg']}", family=self.package.family
            ) from exc

    @property
    @abc.abstractmethod
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None when unloaded."""

    @abc.abstractmethod
    def load(self, variant_id: str) -> None:
        """Load and warm ``variant_id``, then make it the active one.

        The new model must be fully built (and invoked once) before the old one
        is dropped, so a failure leaves the previous variant serving.

        Raises:
            ModelError: The variant cannot be loaded.
        """

    @abc.abstractmethod
    def unload(self) -> None:
        """Drop the active model and everything that holds its memory."""

    @abc.abstractmethod
    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Run the task on one decoded sample.

        Args:
            sample: The decoded payload (of this pipeline's modality).
            ctx: The request's context.

        Returns:
            Task results to publish, one per event; an empty list publishes nothing
            (streaming pipelines between detections).

        Raises:
            PayloadError: The sample is valid but unusable by this task.
            ModelError: No variant is loaded.
        """

    @property
    def decode_size(self) -> tuple[int, int] | None:
        """(width, height) box the model fits images into, for decoding at reduced scale.

        JPEG decoders can scale by 1/2, 1/4 or 1/8 while decoding, PNGs are reduced
        band by band; the codec keeps the image large enough that, fitted into this
        box with its aspect ratio (a letterbox), it still fills it (None: full size).
        """
        return None

    def preprocess(self, sample: Sample, ctx: RequestContext) -> Any:
        """Staged pipelines: turn a sample into model input (thread-safe; no model access).

        The result must let ``infer`` notice it was made for another variant (a swap
        in between) and redo it on the owner thread.
        """
        raise NotImplementedError

    def infer(self, prepared: Any, ctx: RequestContext) -> Any:
        """Staged pipelines: run the model (owner thread); return outputs ``postprocess`` needs.

        The return value must carry whatever of the variant ``postprocess`` uses
        (anchors, label matrices), since a swap may follow before it runs.
        """
        raise NotImplementedError

    def postprocess(self, raw: Any, ctx: RequestContext) -> list[dict[str, Any]]:
        """Staged pipelines: model outputs to results (thread-safe; no model access)."""
        raise NotImplementedError

    def prepare(self, variant_ids: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Materialise on disk what loading these variants needs (while memory is plentiful).

        Called once at start for families with several variants, so a later swap
        under memory pressure only maps files instead of building them. Must leave
        the active variant unchanged.
        """

    def reset(self, sensor: str) -> None:  # noqa: B027 - optional hook
        """Forget per-sensor stream state (streaming pipelines override)."""

    def cancel(self) -> None:  # noqa: B027 - optional hook
        """Ask a long ``process`` to stop soon (called from another thread at shutdown).

        The one exception to the one-thread rule: implementations only set a flag
        that ``process`` checks, and ``process`` then raises
        :class:`~edge_agent.errors.CancelledError` so the message is not acknowledged
        and the broker redelivers it to the next session.
        """

    def forward_payload(self, result: Mapping[str, Any]) -> dict[str, Any] | None:
        """The input a result hands to the next pipeline of a chain (None: nothing).

        Default: a result with a string ``text`` field forwards ``{"text": ...}``
        (a transcript, generated text). Families override to forward otherwise.
        """
        text = result.get("text")
        return {"text": text} if isinstance(text, str) and text else None
