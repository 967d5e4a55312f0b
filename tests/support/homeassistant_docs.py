"""Home Assistant's documented MQTT discovery options, per platform, to check our payloads.

Transcribed from home-assistant.io (the ``{% configuration %}`` blocks):

- ``source/_integrations/sensor.mqtt.markdown`` (commit 9e4a69ab9987)
- ``source/_integrations/binary_sensor.mqtt.markdown`` (commit fbc3a3b3bdcc)
- ``source/_integrations/event.mqtt.markdown`` (commit 0271d54c07f7)
- ``source/_integrations/mqtt.markdown`` (commit 0a314403e71f):
  the discovery topic ``<discovery_prefix>/<component>/[<node_id>/]<object_id>/config``
  with ids of ``[a-zA-Z0-9_-]``, and the ``origin`` keys ``name`` (required),
  ``sw_version``, ``support_url``.

``platform`` is left out: the docs allow it only in device-based discovery payloads.
Home Assistant ignores unknown keys, so an unknown key is a typo that silently does
nothing: the check rejects it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ALLOWED", "REQUIRED", "check_discovery"]

_COMMON = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "device",
    "device_class",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "object_id",
    "origin",
    "payload_available",
    "payload_not_available",
    "qos",
    "state_topic",
    "unique_id",
    "value_template",
}

ALLOWED: dict[str, set[str]] = {
    "sensor": _COMMON
    | {
        "entity_picture",
        "expire_after",
        "force_update",
        "last_reset_value_template",
        "options",
        "suggested_display_precision",
        "state_class",
        "unit_of_measurement",
    },
    "binary_sensor": _COMMON
    | {"entity_picture", "expire_after", "force_update", "off_delay", "payload_off", "payload_on"},
    "event": _COMMON | {"event_types"},
}
"""Keys each platform documents (plus ``origin``, documented in mqtt.markdown)."""

REQUIRED: dict[str, set[str]] = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "event": {"state_topic", "event_types"},
}

DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}

_TOPIC = re.compile(
    r"^(?P<prefix>.+)/(?P<component>[a-z_]+)/(?:(?P<node>[A-Za-z0-9_-]+)/)?"
    r"(?P<object>[A-Za-z0-9_-]+)/config$"
)


def check_discovery(topic: str, config: dict[str, Any]) -> list[str]:
    """Problems of one discovery message by the documented rules (empty list: none)."""
    m = _TOPIC.match(topic)
    if m is None:
        return [f"topic {topic!r} is not <prefix>/<component>/[<node_id>/]<object_id>/config"]
    component = m["component"]
    if component not in ALLOWED:
        return [f"component {component!r} is not one this check knows"]
    problems = [f"unknown key {k!r}" for k in sorted(set(config) - ALLOWED[component])]
    problems += [f"missing key {k!r}" for k in sorted(REQUIRED[component] - set(config))]
    device = config.get("device", {})
    problems += [f"unknown device key {k!r}" for k in sorted(set(device) - DEVICE_KEYS)]
    if "unique_id" in config and not (device.get("identifiers") or device.get("connections")):
        problems.append("a device needs identifiers or connections")
    origin = config.get("origin", {})
    problems += [f"unknown origin key {k!r}" for k in sorted(set(origin) - ORIGIN_KEYS)]
    if origin and "name" not in origin:
        problems.append("origin needs a name")
    if config.get("entity_category") not in (None, *ENTITY_CATEGORIES):
        problems.append(f"entity_category {config['entity_category']!r}")
    if config.get("state_class") not in (None, *STATE_CLASSES):
        problems.append(f"state_class {config['state_class']!r}")
    if component == "event" and not (
        isinstance(config.get("event_types"), list) and config["event_types"]
    ):
        problems.append("event_types must be a non-empty list")
    if component == "binary_sensor" and not isinstance(config.get("off_delay", 0), int):
        problems.append("off_delay must be an integer (seconds)")
    return problems
