"""Streaming wake words with microWakeWord: pipeline, stream state, VAD gate, bundle, options."""

from edge_agent.pipelines.wakeword.options import (
    WakewordOptions,
    WakewordPackageSettings,
    WakewordRouteOptions,
)
from edge_agent.pipelines.wakeword.pipeline import WakewordPipeline

__all__ = ["WakewordOptions", "WakewordPackageSettings", "WakewordPipeline", "WakewordRouteOptions"]
