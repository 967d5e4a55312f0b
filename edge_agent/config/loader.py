"""Build the effective settings of this device from all layers, with provenance."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge_agent.config.fleet import DeviceIdentity, device_labels, fleet_layers, is_fleet
from edge_agent.config.models import AgentSettings
from edge_agent.config.sources import Layer, deep_merge, env_layer, flag_layer, leaves, read_toml
from edge_agent.errors import ConfigError

__all__ = ["EffectiveConfig", "load_config"]


@dataclass(frozen=True)
class EffectiveConfig:
    """Validated settings plus where every value came from.

    Attributes:
        settings: The validated settings.
        provenance: Leaf key path -> layer that set it (absent: built-in default).
        layers: All layers, lowest precedence first.
    """

    settings: AgentSettings
    provenance: Mapping[tuple[str, ...], Layer]
    layers: Sequence[Layer]

    def source_of(self, path: tuple[str, ...]) -> str:
        """Describe where the value at ``path`` came from."""
        layer = self.provenance.get(path)
        return "default" if layer is None else layer.describe(path)


def _lookup(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _validation_error(
    exc: ValidationError, provenance: Mapping[tuple[str, ...], Layer]
) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(str(p) for p in err["loc"])
    message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    # Walk up the path to the deepest key some layer set.
    for cut in range(len(loc), 0, -1):
        head = loc[:cut]
        for path, layer in provenance.items():
            if path[:cut] == head:
                return layer.error(message, head if cut < len(path) else path)
    return ConfigError(message, key=".".join(loc) or None)


def load_config(
    files: Sequence[Path] = (),
    *,
    device_id: str | None = None,
    flags: Mapping[str, str] | None = None,
    flag_names: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    hostname: str | None = None,
) -> EffectiveConfig:
    """Resolve and validate this device's settings.

    Args:
        files: Config files in order; fleet files expand to defaults, groups, device.
        device_id: Device id from the command line (wins over everything).
        flags: Other command-line settings as ``dotted.key -> raw value``.
        flag_names: Dotted key -> flag spelling, for provenance.
        environ: Environment (default ``os.environ``).
        hostname: Hostname (default: this machine's).

    Returns:
        The effective config.

    Raises:
        ConfigError: A missing file, an unknown key or a bad value, naming file, key and line.
    """
    env = env_layer(os.environ if environ is None else environ)
    flag_values = dict(flags or {})
    if device_id is not None:
        flag_values["device_id"] = device_id
    names = dict(flag_names or {})
    names.setdefault("device_id", "--device")
    flag = flag_layer(flag_values, flag_names=names)
    host = hostname or socket.gethostname()

    parsed = [(path, *read_toml(path)) for path in files]
    plain = [Layer(f"file {p}", v, file=p, text=t) for p, v, t in parsed if not is_fleet(v)]
    upper = [*plain, env, flag]

    who_id = next(
        (
            str(v)
            for v in (_lookup(layer.values, ("device_id",)) for layer in reversed(upper))
            if v is not None
        ),
        host,
    )
    labels: list[str] | None = next(
        (
            list(v)
            for v in (_lookup(layer.values, ("labels",)) for layer in reversed(upper))
            if isinstance(v, list)
        ),
        None,
    )

    defaults = AgentSettings.model_construct().model_dump(mode="json")
    del defaults["device_id"]  # resolved above: flags > env > files > hostname
    layers: list[Layer] = [Layer("default", defaults)]
    for path, values, text in parsed:
        if is_fleet(values):
            own = labels if labels is not None else device_labels(values, who_id)
            who = DeviceIdentity(who_id, host, frozenset(own))
            layers.extend(fleet_layers(values, text, path, who))
        else:
            layers.append(next(layer for layer in plain if layer.file == path))
    layers.extend([env, flag])

    merged, provenance = deep_merge(layers)
    provenance = {p: layer for p, layer in provenance.items() if layer.name != "default"}
    merged.setdefault("device_id", who_id)
    try:
        settings = AgentSettings.model_validate(merged)
    except ValidationError as exc:
        raise _validation_error(exc, provenance) from None
    return EffectiveConfig(settings, provenance, layers)


def effective_lines(config: EffectiveConfig) -> list[str]:
    """Render every effective leaf as ``key = value  # source`` lines."""
    dumped = config.settings.model_dump(mode="json")
    lines = []
    for path in leaves(dumped):
        value = _lookup(dumped, path)
        rendered = _render(value)
        lines.append(f"{'.'.join(path)} = {rendered}  # {config.source_of(path)}")
    return lines


def _render_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _render(key)


def _render(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):  # an option table, as a TOML inline table
        if not value:
            return "{}"
        items = (f"{_render_key(str(k))} = {_render(v)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    return (
        str(value)
        if not isinstance(value, list)
        else "[" + ", ".join(_render(v) for v in value) + "]"
    )
