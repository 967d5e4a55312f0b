"""Decode a payload for a pipeline, and run a pipeline on one payload in this thread."""

from __future__ import annotations

from typing import Any

from edge_agent.codecs.decode import decode
from edge_agent.codecs.limits import Limits
from edge_agent.errors import ModelError
from edge_agent.pipelines.base import Pipeline, RequestContext, Sample

__all__ = ["decode_for", "run_payload"]


def decode_for(
    pipeline: Pipeline,
    payload: bytes,
    *,
    content_type: str | None,
    declared_format: str | None,
    limits: Limits,
) -> Sample:
    """Decode a payload for a pipeline (at the size its model needs, where it says).

    Raises:
        PayloadError: The payload was rejected.
    """
    return decode(
        payload,
        modality=pipeline.modality,
        content_type=content_type,
        declared_format=declared_format,
        limits=limits,
        audio_rate=pipeline.audio_rate,
        image_size=pipeline.decode_size,
        text_keys=pipeline.text_keys,
    )


def run_payload(
    pipeline: Pipeline,
    payload: bytes,
    ctx: RequestContext,
    *,
    content_type: str | None,
    declared_format: str | None,
    limits: Limits,
) -> list[dict[str, Any]]:
    """Decode one payload and run the pipeline on it in this thread (``infer``'s path).

    Raises:
        PayloadError: The payload was rejected.
        ModelError: No variant is loaded.
    """
    with ctx.timer.stage("decode"):
        sample = decode_for(
            pipeline,
            payload,
            content_type=content_type,
            declared_format=declared_format,
            limits=limits,
        )
    if pipeline.active_variant is None:
        raise ModelError("no variant loaded", family=pipeline.package.family)
    return pipeline.process(sample, ctx)
