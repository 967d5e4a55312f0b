"""The ``objects`` family's pipeline: COCO detection, zones, tracking, events and counts."""

from edge_agent.pipelines.objects.options import ObjectsOptions, ObjectsRouteOptions
from edge_agent.pipelines.objects.pipeline import ObjectsPipeline

__all__ = ["ObjectsOptions", "ObjectsPipeline", "ObjectsRouteOptions"]
