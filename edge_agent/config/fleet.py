"""Fleet files: one TOML for many devices, each device resolving its own layers.

A fleet file has any of three top-level tables::

    [defaults]              # settings for every device
    [groups.cameras]        # settings for devices that match, in file order
    match = { devices = ["cam-*"], hostnames = ["pi-*"], labels = ["camera"] }
    [devices.cam-1]         # settings for one device id

A file without those tables is a plain config file (one layer).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.config.sources import Layer
from edge_agent.errors import ConfigError

__all__ = ["DeviceIdentity", "fleet_layers", "is_fleet"]

FLEET_KEYS = frozenset({"defaults", "groups", "devices"})
MATCH_KEYS = frozenset({"devices", "hostnames", "labels"})


@dataclass(frozen=True)
class DeviceIdentity:
    """What groups match on.

    Attributes:
        device_id: This device's id.
        hostname: This machine's hostname.
        labels: Labels known before group resolution (device section, later layers).
    """

    device_id: str
    hostname: str
    labels: frozenset[str]


def is_fleet(values: Mapping[str, Any]) -> bool:
    """Whether a parsed file is a fleet file (has defaults/groups/devices tables)."""
    return bool(FLEET_KEYS & values.keys())


def _check_shape(values: Mapping[str, Any], file: Path, text: str) -> None:
    probe = Layer("fleet", values, file=file, text=text)
    for key in values:
        if key not in FLEET_KEYS:
            raise probe.error(
                "a fleet file holds only [defaults], [groups.*] and [devices.*]; "
                "put settings under [defaults]",
                (key,),
            )
        if not isinstance(values[key], Mapping):
            raise probe.error("must be a table", (key,))


def _patterns(group: str, match: Mapping[str, Any], key: str, layer: Layer) -> list[str]:
    raw = match.get(key, [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence) or not all(isinstance(p, str) for p in raw):
        raise layer.error("must be a list of glob patterns", ("match", key))
    return list(raw)


def _matches(name: str, match: Mapping[str, Any], who: DeviceIdentity, layer: Layer) -> bool:
    for key in match:
        if key not in MATCH_KEYS:
            raise layer.error(
                f"unknown match key (use {', '.join(sorted(MATCH_KEYS))})", ("match", key)
            )
    devices = _patterns(name, match, "devices", layer)
    hostnames = _patterns(name, match, "hostnames", layer)
    labels = _patterns(name, match, "labels", layer)
    return (
        any(fnmatch.fnmatchcase(who.device_id, p) for p in devices)
        or any(fnmatch.fnmatchcase(who.hostname, p) for p in hostnames)
        or any(fnmatch.fnmatchcase(label, p) for p in labels for label in who.labels)
    )


def device_labels(values: Mapping[str, Any], device_id: str) -> list[str]:
    """Labels a fleet file gives a device (device section, else defaults)."""
    device = values.get("devices", {}).get(device_id, {})
    for source in (device, values.get("defaults", {})):
        labels = source.get("labels") if isinstance(source, Mapping) else None
        if isinstance(labels, list):
            return [str(x) for x in labels]
    return []


def fleet_layers(
    values: Mapping[str, Any], text: str, file: Path, who: DeviceIdentity
) -> list[Layer]:
    """Resolve a fleet file into this device's layers, lowest precedence first.

    Args:
        values: The parsed file.
        text: Its text (for line numbers).
        file: Its path.
        who: The device resolving it.

    Returns:
        Layers: defaults, each matching group in file order, the device section.

    Raises:
        ConfigError: The file is not shaped like a fleet file.
    """
    _check_shape(values, file, text)
    layers = [
        Layer(
            "fleet defaults", values.get("defaults", {}), file=file, text=text, prefix=("defaults",)
        )
    ]
    for name, group in values.get("groups", {}).items():
        layer = Layer(f"fleet group {name}", group, file=file, text=text, prefix=("groups", name))
        if not isinstance(group, Mapping):
            raise layer.error("must be a table", ())
        match = group.get("match")
        if not isinstance(match, Mapping) or not match:
            raise layer.error("a group needs a `match` table", ("match",))
        if _matches(name, match, who, layer):
            settings = {k: v for k, v in group.items() if k != "match"}
            layers.append(
                Layer(layer.name, settings, file=file, text=text, prefix=("groups", name))
            )
    device = values.get("devices", {}).get(who.device_id)
    if device is not None:
        if not isinstance(device, Mapping):
            raise ConfigError("must be a table", file=str(file), key=f"devices.{who.device_id}")
        layers.append(
            Layer(
                f"fleet device {who.device_id}",
                device,
                file=file,
                text=text,
                prefix=("devices", who.device_id),
            )
        )
    return layers
