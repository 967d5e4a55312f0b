"""Variant switches asked for by any thread, applied by the thread that owns the model.

LiteRT (and every runtime here) wants one thread per interpreter. Sizing runs on
its own thread, so it does not load or unload models itself: it queues a switch
here and the worker's owner thread applies it between two messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from edge_agent.errors import CancelledError, ModelError
from edge_agent.pipelines.base import Pipeline

__all__ = ["SwitchQueue"]

log = structlog.get_logger("edge_agent.worker")


@dataclass(slots=True)
class _Request:
    kind: str  # "variant" or "prepare"
    variants: tuple[str, ...]  # one id, none (unload) or the ids to prepare
    done: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


class SwitchQueue:
    """The pending switches of one pipeline.

    Args:
        pipeline: The pipeline switched.
        name: Worker name, for logs.
        wake: Called after a request was queued, so an idle owner thread looks at once.
    """

    def __init__(self, pipeline: Pipeline, name: str, wake: Callable[[], None]) -> None:
        self.pipeline = pipeline
        self.name = name
        self._wake = wake
        self._pending: list[_Request] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        """Set while requests are pending."""
        self.on_loaded: Callable[[str | None], None] | None = None
        """Called on the owner thread after each switch with the active variant."""

    def _queue(self, request: _Request) -> _Request:
        with self._lock:
            self._pending.append(request)
        self.ready.set()
        self._wake()
        return request

    def request_variant(self, variant: str | None) -> Callable[[float], None]:
        """Queue a switch to ``variant`` (None: unload).

        Returns:
            ``finish(timeout)``: waits for the switch.

        Raises:
            ModelError: From ``finish``: the switch timed out, or the variant failed to
                load (the load's own error).
        """
        request = self._queue(_Request("variant", () if variant is None else (variant,)))

        def finish(timeout: float) -> None:
            if not request.done.wait(timeout):
                raise ModelError(
                    "variant switch timed out", family=self.pipeline.package.family, variant=variant
                )
            if request.errors:
                raise request.errors[0]

        return finish

    def prepare(self, variant_ids: list[str], *, wait: float) -> None:
        """Have the owner materialise variants ahead of time (``Pipeline.prepare``).

        Raises:
            ModelError: Not done within ``wait`` seconds.
        """
        request = self._queue(_Request("prepare", tuple(variant_ids)))
        if not request.done.wait(wait):
            raise ModelError("preparing variants timed out", family=self.pipeline.package.family)

    def wait_loaded(self, deadline: float, stop: threading.Event) -> bool:
        """Owner thread: apply switches as they come until a variant is loaded.

        Returns:
            True once a variant is active; False at ``deadline`` (monotonic) without one.

        Raises:
            CancelledError: ``stop`` was set (shutdown): the message waiting for the
                load stays unanswered and the broker redelivers it next session.
        """
        while self.pipeline.active_variant is None and time.monotonic() < deadline:
            if stop.is_set():
                raise CancelledError
            self.ready.wait(0.05)
            self.apply()
        return self.pipeline.active_variant is not None

    def apply(self) -> None:
        """Owner thread: apply every pending request, in order. Never raises."""
        with self._lock:
            pending, self._pending = self._pending, []
            self.ready.clear()
        for request in pending:
            variant = request.variants[0] if request.variants else None
            try:
                if request.kind == "prepare":
                    self.pipeline.prepare(list(request.variants))
                    continue
                if variant is None:
                    self.pipeline.unload()
                elif variant != self.pipeline.active_variant:
                    self.pipeline.load(variant)
                if self.on_loaded is not None:
                    self.on_loaded(self.pipeline.active_variant)
            except Exception as exc:  # reported to the requester, who decides
                log.exception("variant_switch_failed", pipeline=self.name, to=variant)
                request.errors.append(exc)
            finally:
                request.done.set()
