"""Zero-shot text classification with a nested MiniLM sentence encoder."""

from edge_agent.pipelines.text.pipeline import (
    TextOptions,
    TextPipeline,
    TextRouteOptions,
    TextSettings,
)

__all__ = ["TextOptions", "TextPipeline", "TextRouteOptions", "TextSettings"]
