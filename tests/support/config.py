"""The daemon config the end-to-end tests start from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["daemon_config"]


def daemon_config(broker_url: str, tmp: Path, **overrides: Any) -> dict[str, Any]:
    """A daemon config for tests: only the faces pipeline unless overridden."""
    config: dict[str, Any] = {
        "device_id": "testdev",
        "cache_dir": str(tmp / "cache"),
        "shutdown_deadline_s": 10.0,
        "broker": {"url": broker_url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "log": {"format": "json", "level": "info"},
        "stats": {"interval_s": 1.0},
        "pipelines": {
            "faces": {"kind": "faces"},
            "text": {"kind": "text", "enabled": False},
            "wakeword": {"kind": "wakeword", "enabled": False},
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config
