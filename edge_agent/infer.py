"""One-shot inference on files: the same JSON the daemon would publish, no broker."""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edge_agent.config.models import AgentSettings
from edge_agent.elastic.swapper import choose_variant
from edge_agent.errors import ConfigError, PayloadError
from edge_agent.pipelines.base import RequestContext
from edge_agent.pipelines.factory import build_pipeline, validate_options
from edge_agent.pipelines.run import run_payload
from edge_agent.results.schema import error_document, result_document

__all__ = ["infer_files"]

_ALIASES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav"}


def _content_type(path: Path) -> str | None:
    kind, _ = mimetypes.guess_type(path.name)
    return _ALIASES.get(kind or "", kind)


def infer_files(
    settings: AgentSettings,
    pipeline_name: str,
    files: Sequence[Path],
    *,
    variant: str | None = None,
    route: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Run ``pipeline_name`` on each file and yield result (or error) documents.

    Raises:
        ConfigError: Unknown pipeline or route.
        ModelError: The model cannot be loaded.
    """
    spec = settings.pipelines.get(pipeline_name)
    if spec is None:
        raise ConfigError(
            f"no pipeline {pipeline_name!r} (have: {', '.join(settings.pipelines)})",
            key="--pipeline",
        )
    routes = [n for n, r in settings.routes.items() if r.pipeline == pipeline_name]
    route_name = route or (routes[0] if routes else "cli")
    raw_options = settings.routes[route_name].options if route_name in settings.routes else {}
    pipeline = build_pipeline(pipeline_name, settings, spec)
    options = validate_options(
        pipeline.route_options_model, raw_options, f"routes.{route_name}.options"
    )
    pipeline.load(variant or choose_variant(settings, pipeline.package))
    manifest = pipeline.package.manifest
    try:
        for path in files:
            payload = path.read_bytes()
            ctx = RequestContext(
                topic=str(path),
                sensor=path.stem,
                route=route_name,
                request_id=uuid.uuid4().hex,
                route_options=options,
            )
            try:
                results = run_payload(
                    pipeline,
                    payload,
                    ctx,
                    content_type=_content_type(path),
                    declared_format=None,
                    limits=settings.limits,
                )
            except PayloadError as exc:
                yield error_document(
                    reason=exc.reason.value,
                    detail=exc.detail,
                    device=settings.device_id,
                    topic=str(path),
                    sensor=path.stem,
                    size=len(payload),
                    request_id=ctx.request_id,
                    route=route_name,
                )
                continue
            for result in results:
                yield result_document(
                    request_id=ctx.request_id,
                    device=settings.device_id,
                    pipeline=pipeline_name,
                    route=route_name,
                    sensor=path.stem,
                    topic=str(path),
                    family=manifest.family,
                    variant=pipeline.active_variant,
                    task=manifest.task,
                    timings_ms=ctx.timer.stages,
                    result=result,
                )
    finally:
        pipeline.unload()
