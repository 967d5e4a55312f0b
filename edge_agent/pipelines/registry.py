"""Pipeline kinds by name; modules are imported only when a kind is used."""

from __future__ import annotations

import importlib

from edge_agent.errors import ConfigError
from edge_agent.pipelines.base import Pipeline

__all__ = ["KINDS", "pipeline_class"]

KINDS: dict[str, tuple[str, str]] = {
    "faces": ("edge_agent.pipelines.faces.pipeline", "FacesPipeline"),
    "text": ("edge_agent.pipelines.text.pipeline", "TextPipeline"),
    "wakeword": ("edge_agent.pipelines.wakeword.pipeline", "WakewordPipeline"),
    "objects": ("edge_agent.pipelines.objects.pipeline", "ObjectsPipeline"),
    "speech": ("edge_agent.pipelines.speech.pipeline", "SpeechPipeline"),
    "generate": ("edge_agent.pipelines.generate.pipeline", "GeneratePipeline"),
}


def pipeline_class(kind: str) -> type[Pipeline]:
    """Return the class implementing ``kind``.

    Raises:
        ConfigError: Unknown kind, or its module cannot be imported (missing dependency).
    """
    try:
        module_name, class_name = KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown pipeline kind {kind!r}", key="pipelines.*.kind") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"pipeline kind {kind!r} is unavailable: {exc}") from exc
    cls: type[Pipeline] = getattr(module, class_name)
    return cls
