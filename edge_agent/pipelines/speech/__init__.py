"""Speech to text with Whisper (CTranslate2): clips, streams with endpointing, the voice chain."""

from edge_agent.pipelines.speech.options import (
    SpeechOptions,
    SpeechPackageSettings,
    SpeechRouteOptions,
)
from edge_agent.pipelines.speech.pipeline import SpeechPipeline

__all__ = ["SpeechOptions", "SpeechPackageSettings", "SpeechPipeline", "SpeechRouteOptions"]
