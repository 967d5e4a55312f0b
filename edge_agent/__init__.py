"""edge-agent: a privacy-first on-device inference daemon for MQTT sensors."""

__all__ = ["__version__"]

__version__ = "0.1.0"
