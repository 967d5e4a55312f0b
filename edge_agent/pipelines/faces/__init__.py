"""Face detection with BlazeFace: the pipeline, and the anchor/decoding math beside it."""

from edge_agent.pipelines.faces.pipeline import FacesOptions, FacesPipeline, FacesSettings

__all__ = ["FacesOptions", "FacesPipeline", "FacesSettings"]
