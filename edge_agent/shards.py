"""A configured pipeline as the daemon runs it: shards, and which one a message goes to.

Each shard is a pipeline instance with its own inbox and worker.
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel

from edge_agent.config.models import AgentSettings, PipelineSettings, RouteSettings
from edge_agent.errors import ConfigError
from edge_agent.pipelines.base import Pipeline
from edge_agent.pipelines.factory import validate_options
from edge_agent.runtime.manifest import ModelPackage
from edge_agent.transport.inbox import Inbox
from edge_agent.transport.job import Job
from edge_agent.worker import Worker

__all__ = [
    "Entry",
    "Shard",
    "build_entries",
    "build_entry",
    "shard_count",
    "validated_route_options",
]

log = structlog.get_logger("edge_agent.daemon")


@dataclass
class Shard:
    """One pipeline instance with the inbox it reads and the worker that owns it."""

    pipeline: Pipeline
    inbox: Inbox[Job]
    worker: Worker


@dataclass
class Entry:
    """One configured pipeline: its shards (each a pipeline instance, inbox and worker)."""

    name: str
    spec: PipelineSettings
    shards: list[Shard]

    @property
    def pipeline(self) -> Pipeline:
        """The first shard's pipeline (every shard runs the same family and variant)."""
        return self.shards[0].pipeline

    @property
    def worker(self) -> Worker:
        """The first shard's worker."""
        return self.shards[0].worker

    @property
    def package(self) -> ModelPackage:
        """The family's model package."""
        return self.pipeline.package

    def shard_for(self, sensor: str) -> Shard:
        """The shard for a message of ``sensor``.

        Pipelines with per-sensor state always send a sensor to the same shard
        (stable across restarts); stateless ones use the shard with the fewest
        messages waiting.
        """
        if len(self.shards) == 1:
            return self.shards[0]
        cls = type(self.pipeline)
        if cls.streaming or cls.sensor_affinity:
            return self.shards[zlib.crc32(sensor.encode()) % len(self.shards)]
        return min(self.shards, key=lambda s: len(s.inbox))


def shard_count(spec: PipelineSettings, cls: type[Pipeline]) -> int:
    """How many shards a pipeline runs.

    The configured number; for ``auto`` one per core (at most 4) for streaming
    families and one for the rest.
    """
    if spec.shards != "auto":
        return int(spec.shards)
    return max(1, min(4, os.cpu_count() or 1)) if cls.streaming else 1


def build_entry(
    name: str,
    spec: PipelineSettings,
    first: Pipeline,
    build: Callable[[], Pipeline],
    make_worker: Callable[[Pipeline, Inbox[Job], str], Worker],
) -> Entry:
    """Build a pipeline's shards.

    Args:
        name: Pipeline name.
        spec: Its settings.
        first: The first shard's pipeline, already built.
        build: Builds one more pipeline instance (for each further shard).
        make_worker: ``(pipeline, inbox, worker name) -> worker``.

    Returns:
        The entry, workers not started.
    """
    count = shard_count(spec, type(first))
    size = spec.inbox_size or type(first).default_inbox_size
    shards = []
    for i in range(count):
        pipeline = first if i == 0 else build()
        inbox: Inbox[Job] = Inbox(size)
        worker = make_worker(pipeline, inbox, name if count == 1 else f"{name}.{i}")
        shards.append(Shard(pipeline, inbox, worker))
    return Entry(name, spec, shards)


def validated_route_options(
    settings: AgentSettings, routes: Mapping[str, RouteSettings], name: str, pipeline: Pipeline
) -> dict[str, BaseModel]:
    """The options of every route to pipeline ``name``, validated by its family.

    Raises:
        ConfigError: Invalid options, or a route asks for embeddings that privacy forbids.
    """
    options = {
        rname: validate_options(pipeline.route_options_model, r.options, f"routes.{rname}.options")
        for rname, r in routes.items()
        if r.pipeline == name
    }
    if not settings.privacy.allow_embeddings:
        for rname, opts in options.items():
            if getattr(opts, "embedding", False):
                raise ConfigError(
                    "route asks for embeddings but privacy.allow_embeddings is false",
                    key=f"routes.{rname}.options.embedding",
                )
    return options


def build_entries(
    settings: AgentSettings, routes: Mapping[str, RouteSettings], **callbacks: Any
) -> dict[str, Entry]:
    """Build every enabled pipeline that a route uses, with its shards and workers.

    Args:
        settings: Effective settings.
        routes: The enabled routes.
        **callbacks: ``on_results``, ``on_error``, ``on_done``, ``on_partial`` and ``answering``
            for every worker (see ``Worker``).

    Returns:
        Pipeline name -> entry, workers not started.

    Raises:
        ConfigError: Invalid pipeline or route options.
        ModelError: A model package cannot be read.
    """
    from edge_agent.elastic.swapper import unavailable_reason
    from edge_agent.pipelines.factory import build_pipeline

    entries: dict[str, Entry] = {}
    for name, spec in settings.pipelines.items():
        if not spec.enabled or not any(r.pipeline == name for r in routes.values()):
            continue
        first = build_pipeline(name, settings, spec)
        route_options = validated_route_options(settings, routes, name, first)
        unavailable = unavailable_reason(first.package)
        if unavailable is not None:
            log.warning(
                "family_unavailable", pipeline=name, family=first.package.family, reason=unavailable
            )

        def make_worker(
            pipeline: Pipeline,
            inbox: Inbox[Job],
            worker_name: str,
            route_options: dict[str, BaseModel] = route_options,
            unavailable: str | None = unavailable,
        ) -> Worker:
            worker = Worker(
                pipeline,
                inbox,
                limits=settings.limits,
                route_options=route_options,
                name=worker_name,
                **callbacks,
            )
            worker.unavailable = unavailable
            return worker

        entries[name] = build_entry(
            name, spec, first, functools.partial(build_pipeline, name, settings, spec), make_worker
        )
    return entries
