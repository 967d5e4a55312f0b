from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def clean_config() -> dict[str, Any]:
    """The effective config of a default install: nothing leaves the device."""
    return {
        "device_id": "kitchen-pi",
        "topic_prefix": "edge-agent",
        "broker": {
            "url": "unix:///run/mosquitto/edge-agent.sock",
            "protocol": "5",
            "username": "edge-agent",
            "password_credential": "broker-password",
        },
        "privacy": {"allow_remote_broker": False, "allow_embeddings": False},
        "log": {"level": "info", "format": "auto"},
        "pipelines": {"text": {"kind": "text", "family": "text"}},
        "routes": {"text": {"topic": "sensors/+/text", "pipeline": "text", "sensor_level": 1}},
    }
