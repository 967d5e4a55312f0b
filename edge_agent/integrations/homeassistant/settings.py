"""The ``[homeassistant]`` table: MQTT discovery for Home Assistant (off by default)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HomeAssistantSettings"]


class HomeAssistantSettings(BaseModel):
    """Home Assistant MQTT discovery of this device and its sensors' entities."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False,
        description="Publish Home Assistant discovery configs (retained) for this device.",
    )
    discovery_prefix: str = Field(
        default="homeassistant",
        pattern=r"^[^#+]+$",
        description="Home Assistant's discovery prefix (its MQTT integration option).",
    )
    status_topic: str | None = Field(
        default=None,
        description="Home Assistant's birth/last-will topic; default <discovery_prefix>/status.",
    )
    device_name: str | None = Field(
        default=None, description="Device name shown in Home Assistant; default the device id."
    )
    republish_delay_max_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="After Home Assistant's birth message, republish after a random delay "
        "up to this (many devices do not answer at once).",
    )
    sensor_expiry_s: float | None = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="A sensor with no message for this long (while the daemon runs) is gone: "
        "its entities are removed (null: never).",
    )
    person_label: str = Field(
        default="person", description="Object label behind the 'person present' binary sensor."
    )
    presence_off_delay_s: int = Field(
        default=30,
        ge=1,
        le=86400,
        description="'person present' turns off this long after the last detection "
        "(Home Assistant's off_delay).",
    )
