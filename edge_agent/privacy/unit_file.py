"""A reader for an installed systemd unit and its drop-ins.

Parses the ini-like unit syntax (sections, ``Key=value``, ``#``/``;`` comments,
backslash continuations) and applies drop-ins the way systemd does: every
``<unit>.d/*.conf`` found in the unit directories, the first directory winning for
a given file name, then all of them in file-name order.  An empty assignment
(``Key=``) resets the values collected so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from edge_agent.errors import ConfigError

__all__ = ["UNIT_DIRS", "UnitFile", "find_unit", "read_unit"]

#: Unit directories in systemd's priority order (first wins).
UNIT_DIRS: tuple[Path, ...] = (
    Path("/etc/systemd/system"),
    Path("/run/systemd/system"),
    Path("/usr/local/lib/systemd/system"),
    Path("/usr/lib/systemd/system"),
    Path("/lib/systemd/system"),
)


@dataclass(frozen=True, slots=True)
class UnitFile:
    """A unit with its drop-ins applied.

    Attributes:
        path: The unit file.
        dropins: Drop-in files applied, in order.
        entries: Section -> key -> values after resets (in assignment order).
    """

    path: Path
    dropins: tuple[Path, ...]
    entries: Mapping[str, Mapping[str, tuple[str, ...]]]

    def values(self, section: str, key: str) -> tuple[str, ...]:
        """Every value assigned to ``key`` since its last reset."""
        return self.entries.get(section, {}).get(key, ())

    def get(self, section: str, key: str) -> str | None:
        """The effective value of a single-valued key, or None when unset."""
        values = self.values(section, key)
        return values[-1] if values else None

    def words(self, section: str, key: str) -> tuple[str, ...]:
        """Whitespace-separated words of all values (list settings)."""
        return tuple(word for value in self.values(section, key) for word in value.split())


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def _parse_into(path: Path, entries: dict[str, dict[str, list[str]]]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read unit file: {exc.strerror}", file=str(path)) from exc
    section: str | None = None
    for number, line in _logical_lines(text):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            entries.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        if not sep or section is None:
            raise ConfigError("expected Key=value inside a [Section]", file=str(path), line=number)
        key, value = key.strip(), value.strip()
        bucket = entries[section].setdefault(key, [])
        if value:
            bucket.append(value)
        else:
            bucket.clear()


def _dropins(name: str, dirs: Sequence[Path]) -> list[Path]:
    chosen: dict[str, Path] = {}
    for folder in dirs:
        dropin_dir = folder / f"{name}.d"
        if not dropin_dir.is_dir():
            continue
        for conf in dropin_dir.glob("*.conf"):
            chosen.setdefault(conf.name, conf)
    return [chosen[key] for key in sorted(chosen)]


def read_unit(path: Path, dropin_dirs: Sequence[Path] | None = None) -> UnitFile:
    """Read a unit file and apply its drop-ins.

    Args:
        path: The unit file.
        dropin_dirs: Directories searched for ``<unit name>.d/*.conf``, highest
            priority first; default: the unit's own directory then :data:`UNIT_DIRS`.

    Returns:
        The merged unit.

    Raises:
        ConfigError: A file cannot be read or has a syntax error (with file and line).
    """
    dirs = list(dropin_dirs) if dropin_dirs is not None else [path.parent, *UNIT_DIRS]
    entries: dict[str, dict[str, list[str]]] = {}
    _parse_into(path, entries)
    dropins = _dropins(path.name, dirs)
    for dropin in dropins:
        _parse_into(dropin, entries)
    frozen = {
        section: MappingProxyType({key: tuple(vals) for key, vals in keys.items()})
        for section, keys in entries.items()
    }
    return UnitFile(path=path, dropins=tuple(dropins), entries=MappingProxyType(frozen))


def find_unit(name: str = "edge-agent.service", dirs: Sequence[Path] = UNIT_DIRS) -> Path | None:
    """The installed unit file with the highest priority, if any.

    Args:
        name: Unit name.
        dirs: Unit directories, highest priority first.

    Returns:
        The path, or None when the unit is not installed.
    """
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None
