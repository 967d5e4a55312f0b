"""Configuration layers: where each value came from, merged in precedence order.

Precedence, lowest first: built-in defaults < fleet defaults < matching fleet
groups (file order) < the fleet's device section < further config files (in
the order given) < ``EDGE_AGENT_*`` environment < command-line flags.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.config.locate import locate_key
from edge_agent.errors import ConfigError

__all__ = ["ENV_PREFIX", "Layer", "deep_merge", "env_layer", "flag_layer", "read_toml"]

ENV_PREFIX = "EDGE_AGENT_"


@dataclass(frozen=True)
class Layer:
    """One source of configuration values.

    Attributes:
        name: Where the values come from (``fleet defaults``, ``env``...).
        values: Nested mapping of keys to values.
        file: The TOML file, when the layer comes from one.
        text: That file's text (to find line numbers).
        prefix: Key path of ``values`` inside the file (``("devices", "cam-1")``).
        origins: For env/flag layers: leaf key path -> the variable or flag that set it.
    """

    name: str
    values: Mapping[str, Any]
    file: Path | None = None
    text: str | None = None
    prefix: tuple[str, ...] = ()
    origins: Mapping[tuple[str, ...], str] = field(default_factory=dict)

    def describe(self, path: tuple[str, ...]) -> str:
        """Say where the value at ``path`` came from, with file and line when known."""
        if path in self.origins:
            return f"{self.name} {self.origins[path]}"
        if self.file is not None:
            line = self.line_of(path)
            return f"{self.name} ({self.file}{f':{line}' if line else ''})"
        return self.name

    def line_of(self, path: tuple[str, ...]) -> int | None:
        """1-based line of a key path of this layer in its file, if found."""
        if self.text is None:
            return None
        return locate_key(self.text, self.prefix + path)

    def error(self, reason: str, path: tuple[str, ...]) -> ConfigError:
        """Build a ConfigError pointing at ``path`` in this layer."""
        key = ".".join(path) if path else None
        if path in self.origins:
            return ConfigError(f"{reason} (from {self.origins[path]})", key=key)
        return ConfigError(
            reason,
            file=str(self.file) if self.file else self.name,
            key=".".join(self.prefix + path) if path else None,
            line=self.line_of(path),
        )


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Read a TOML file; a missing file is an error, never skipped.

    Raises:
        ConfigError: Missing, unreadable or invalid file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(
            f"invalid TOML: {exc}", file=str(path), line=int(found.group(1)) if found else None
        ) from exc


def _parse_scalar(raw: str) -> Any:
    """Values from env/flags: JSON when it parses (numbers, bools, lists), else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = target
    for key in path[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def env_layer(environ: Mapping[str, str] | None = None) -> Layer:
    """Collect ``EDGE_AGENT_*`` variables; ``__`` separates nested keys.

    ``EDGE_AGENT_BROKER__URL=unix:///run/mosquitto.sock`` sets ``broker.url``.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX:
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if any(not p for p in path):
            raise ConfigError(f"malformed variable name {name}", key=name)
        _set_path(values, path, _parse_scalar(raw))
        origins[path] = f"${name}"
    return Layer("env", values, origins=origins)


def flag_layer(
    assignments: Mapping[str, str], *, flag_names: Mapping[str, str] | None = None
) -> Layer:
    """Build the command-line layer from ``dotted.key -> raw value`` pairs.

    Args:
        assignments: Dotted key to raw string value.
        flag_names: Dotted key to the flag that set it, for provenance.
    """
    values: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for dotted, raw in assignments.items():
        path = tuple(dotted.split("."))
        _set_path(values, path, _parse_scalar(raw) if isinstance(raw, str) else raw)
        origins[path] = (flag_names or {}).get(dotted, f"--set {dotted}")
    return Layer("flag", values, origins=origins)


def _atomic(path: tuple[str, ...]) -> bool:
    """One option of a pipeline or route: replaced whole by a later layer, tables too.

    Option tables hold the user's own data (a route's labels, zones, intents, per-label
    scores): merging them key by key would keep the default labels beside the ones a
    config sets, so a later file's value replaces the earlier one.
    """
    return len(path) == 4 and path[0] in ("pipelines", "routes") and path[2] == "options"


def leaves(values: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Yield the key path of every non-table value (and of every option, see ``_atomic``)."""
    for key, value in values.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value and not _atomic(path):
            yield from leaves(value, path)
        else:
            yield path


def deep_merge(
    layers: list[Layer],
) -> tuple[dict[str, Any], dict[tuple[str, ...], Layer]]:
    """Merge layers (lowest precedence first), tables key by key.

    Returns:
        The merged mapping, and for every leaf the layer that set it.
    """
    merged: dict[str, Any] = {}
    provenance: dict[tuple[str, ...], Layer] = {}
    for layer in layers:
        for path in leaves(layer.values):
            value: Any = layer.values
            for key in path:
                value = value[key]
            # A scalar replacing a table (or the reverse) drops the old subtree's provenance.
            for old in [p for p in provenance if p[: len(path)] == path and p != path]:
                del provenance[old]
            _set_path(merged, path, _copy(value))
            provenance[path] = layer
    return merged, provenance


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
