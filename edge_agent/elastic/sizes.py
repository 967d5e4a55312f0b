"""Byte sizes written by people: ``"300MB"``, ``"1.5GiB"``, ``"512M"``."""

from __future__ import annotations

import math
import re

from edge_agent.errors import ConfigError

__all__ = ["format_size", "parse_size"]

# SI units are powers of 1000 and IEC units powers of 1024, as their names say.
# Bare single letters (``512M``) follow systemd, Docker and the kernel, which all
# read them as powers of 1024.
_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Parse a byte size.

    ``kB``/``MB``/``GB`` are decimal (10^3, 10^6, 10^9); ``KiB``/``MiB``/``GiB``
    and the bare letters ``K``/``M``/``G`` are binary (2^10, 2^20, 2^30). Unit
    letters are case-insensitive; a bare number is bytes. Fractions are rounded
    down to whole bytes.

    Args:
        text: The size, e.g. ``"300MB"``, ``"1.5GiB"``, ``"512M"`` or ``1048576``.

    Returns:
        The size in bytes.

    Raises:
        ConfigError: The text is not a size (``reason`` says why).
    """
    if isinstance(text, bool):
        raise ConfigError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ConfigError(f"size must not be negative: {text}")
        return text
    match = _SIZE.match(text)
    if match is None:
        raise ConfigError(f"not a size: {text!r} (examples: 300MB, 1.5GiB, 512M)")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        known = ", ".join(u for u in _UNITS if u)
        raise ConfigError(f"unknown size unit {unit!r} in {text!r} (known: {known})")
    value = float(number) * factor
    if not math.isfinite(value):
        raise ConfigError(f"size too large: {text!r}")
    return int(value)


def format_size(n: int) -> str:
    """Format bytes for people, in binary units (``"1.5 MiB"``).

    Args:
        n: A byte count; may be negative (a deficit).

    Returns:
        The formatted size.
    """
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            if unit == "B":
                return f"{sign}{int(value)} B"
            return f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
