"""Describe the served pipelines for discovery: kind and the event types Home Assistant needs.

Home Assistant's ``event`` entity must list its ``event_types`` up front: for a
``text`` pipeline they are the labels of its routes (plus ``unknown``), for a
``wakeword`` pipeline the enabled wake words (the pipeline option, else every
word in the preferred variant's bundle).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

from edge_agent.config.models import AgentSettings
from edge_agent.integrations.homeassistant.entities import PipelineInfo
from edge_agent.runtime.manifest import ModelPackage

__all__ = ["describe_pipelines"]

_UNKNOWN = "unknown"  # the text pipeline's label below the threshold


def _text_labels(settings: AgentSettings, pipeline: str) -> tuple[str, ...]:
    labels: list[str] = []
    for route in settings.routes.values():
        if route.pipeline == pipeline and route.enabled:
            for name in route.options.get("labels", {}):
                if name not in labels:
                    labels.append(str(name))
    return (*labels, _UNKNOWN) if _UNKNOWN not in labels else tuple(labels)


def _wake_words(settings: AgentSettings, pipeline: str, package: ModelPackage) -> tuple[str, ...]:
    configured = settings.pipelines[pipeline].options.get("wake_words")
    if configured:
        return tuple(str(w) for w in configured)
    try:
        bundle = package.variant_path(package.manifest.preferred.quality_first)
        entries = tomllib.loads(bundle.read_text(encoding="utf-8")).get("wake_words", [])
    except (OSError, tomllib.TOMLDecodeError, ValueError):
        return ()
    return tuple(str(e["name"]) for e in entries if isinstance(e, dict) and "name" in e)


def describe_pipelines(
    settings: AgentSettings, packages: Mapping[str, ModelPackage]
) -> list[PipelineInfo]:
    """The served pipelines (those with a package), in config order.

    Args:
        settings: Effective settings.
        packages: Model package per served pipeline name.
    """
    out: list[PipelineInfo] = []
    for name, package in packages.items():
        kind = settings.pipelines[name].kind
        if kind == "text":
            events = _text_labels(settings, name)
        elif kind == "wakeword":
            events = _wake_words(settings, name, package)
        else:
            events = ()
        out.append(PipelineInfo(name, kind, events))
    return out
