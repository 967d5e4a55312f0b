"""A reader for mosquitto configuration files, enough to audit privacy.

Follows ``include_dir`` (files ending in ``.conf``, in alphabetical order, read
where the directive stands, as mosquitto does) and keeps the origin
(``file:line``) of everything it records.  Security options (``allow_anonymous``,
``password_file``, ``acl_file``) belong to the listener above them when
``per_listener_settings true`` is in force, else they are global.  Bridge options
belong to the ``connection`` section above them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.errors import ConfigError

__all__ = [
    "Bridge",
    "BridgeTopic",
    "Listener",
    "MosquittoConfig",
    "Setting",
    "read_mosquitto_conf",
]

_MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Setting:
    """A value and where it was set."""

    value: str
    origin: str


@dataclass(frozen=True, slots=True)
class Listener:
    """One ``listener`` (or the deprecated default ``port`` listener).

    Attributes:
        port: TCP port; 0 with a path ``address`` is a unix socket.
        address: Bind address or socket path; None means every interface.
        origin: ``file:line`` of the directive.
        bind_interface: ``bind_interface`` value, if any.
        protocol: ``mqtt`` or ``websockets``.
        allow_anonymous: Explicit per-listener value (per_listener_settings only).
        allow_anonymous_origin: ``file:line`` of that value.
        password_file: Per-listener password file, if any.
        acl_file: Per-listener ACL file, if any.
        implicit: True for mosquitto's own loopback listener when none is configured.
    """

    port: int
    address: str | None
    origin: str
    bind_interface: str | None = None
    protocol: str = "mqtt"
    allow_anonymous: bool | None = None
    allow_anonymous_origin: str | None = None
    password_file: str | None = None
    acl_file: str | None = None
    implicit: bool = False

    @property
    def is_unix_socket(self) -> bool:
        """Whether this listener is a unix socket."""
        return self.port == 0 and self.address is not None


@dataclass(frozen=True, slots=True)
class BridgeTopic:
    """A bridge ``topic`` line: pattern and direction (out, in or both)."""

    pattern: str
    direction: str
    origin: str


@dataclass(frozen=True, slots=True)
class Bridge:
    """A ``connection`` section: a link to another broker."""

    name: str
    origin: str
    addresses: tuple[str, ...]
    topics: tuple[BridgeTopic, ...]


@dataclass(frozen=True, slots=True)
class MosquittoConfig:
    """What the audit needs from a mosquitto configuration.

    Attributes:
        files: Every file read, in order.
        listeners: Listeners, in order (with the implicit one when none is set).
        bridges: Bridge connections.
        per_listener_settings: Whether security options are per listener.
        allow_anonymous: Global ``allow_anonymous`` when set (None: default false).
        log_types: Every ``log_type`` value.
        persistence: Effective ``persistence`` setting, if set.
        persistence_location: Effective ``persistence_location``, if set.
    """

    files: tuple[Path, ...]
    listeners: tuple[Listener, ...]
    bridges: tuple[Bridge, ...]
    per_listener_settings: bool
    allow_anonymous: Setting | None
    log_types: tuple[Setting, ...]
    persistence: Setting | None
    persistence_location: Setting | None = None


@dataclass
class _ListenerDraft:
    port: int
    address: str | None
    origin: str
    bind_interface: str | None = None
    protocol: str = "mqtt"
    allow_anonymous: bool | None = None
    allow_anonymous_origin: str | None = None
    password_file: str | None = None
    acl_file: str | None = None

    def freeze(self) -> Listener:
        return Listener(
            port=self.port,
            address=self.address,
            origin=self.origin,
            bind_interface=self.bind_interface,
            protocol=self.protocol,
            allow_anonymous=self.allow_anonymous,
            allow_anonymous_origin=self.allow_anonymous_origin,
            password_file=self.password_file,
            acl_file=self.acl_file,
        )


@dataclass
class _BridgeDraft:
    name: str
    origin: str
    addresses: list[str] = field(default_factory=list)
    topics: list[BridgeTopic] = field(default_factory=list)

    def freeze(self) -> Bridge:
        return Bridge(self.name, self.origin, tuple(self.addresses), tuple(self.topics))


@dataclass
class _Builder:
    files: list[Path] = field(default_factory=list)
    listeners: list[_ListenerDraft] = field(default_factory=list)
    bridges: list[_BridgeDraft] = field(default_factory=list)
    per_listener: bool = False
    allow_anonymous: Setting | None = None
    log_types: list[Setting] = field(default_factory=list)
    persistence: Setting | None = None
    persistence_location: Setting | None = None
    default_port: Setting | None = None
    default_bind: str | None = None
    in_bridge: bool = False


def _bool(value: str, origin: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise ConfigError(f"expected true or false, got '{value}'", file=origin)


def _listener(args: list[str], origin: str) -> _ListenerDraft:
    try:
        port = int(args[0])
    except (IndexError, ValueError) as exc:
        raise ConfigError("listener needs a port number", file=origin) from exc
    return _ListenerDraft(port=port, address=" ".join(args[1:]) or None, origin=origin)


def _bridge_topic(args: list[str], origin: str) -> BridgeTopic:
    pattern = args[0] if args else "#"
    direction = args[1] if len(args) > 1 else "out"
    return BridgeTopic(pattern=pattern, direction=direction, origin=origin)


_SECURITY = {"allow_anonymous", "password_file", "acl_file"}


def _apply_security(b: _Builder, key: str, value: str, origin: str) -> None:
    current = b.listeners[-1] if b.listeners else None
    if b.per_listener and current is not None:
        if key == "allow_anonymous":
            current.allow_anonymous = _bool(value, origin)
            current.allow_anonymous_origin = origin
        elif key == "password_file":
            current.password_file = value
        else:
            current.acl_file = value
    elif key == "allow_anonymous":
        _bool(value, origin)
        b.allow_anonymous = Setting(value, origin)


def _apply_bridge(b: _Builder, key: str, args: list[str], origin: str) -> bool:
    if key == "connection":
        b.in_bridge = True
        b.bridges.append(_BridgeDraft(name=" ".join(args), origin=origin))
        return True
    if not b.in_bridge:
        return False
    if key in ("address", "addresses"):
        b.bridges[-1].addresses.extend(" ".join(args).replace(",", " ").split())
        return True
    if key == "topic":
        b.bridges[-1].topics.append(_bridge_topic(args, origin))
        return True
    return False


def _apply(b: _Builder, key: str, args: list[str], origin: str) -> None:
    value = " ".join(args)
    if _apply_bridge(b, key, args, origin):
        return
    if key == "listener":
        b.in_bridge = False
        b.listeners.append(_listener(args, origin))
    elif key == "per_listener_settings":
        b.per_listener = _bool(value, origin)
    elif key in _SECURITY:
        _apply_security(b, key, value, origin)
    elif key == "bind_interface" and b.listeners:
        b.listeners[-1].bind_interface = value
    elif key == "protocol" and b.listeners:
        b.listeners[-1].protocol = value
    elif key == "log_type":
        b.log_types.append(Setting(value, origin))
    elif key == "persistence":
        _bool(value, origin)
        b.persistence = Setting(value, origin)
    elif key == "persistence_location":
        b.persistence_location = Setting(value, origin)
    elif key == "port":
        b.default_port = Setting(value, origin)
    elif key == "bind_address":
        b.default_bind = value


def _read(path: Path, b: _Builder, depth: int) -> None:
    if depth > _MAX_INCLUDE_DEPTH:
        raise ConfigError("include_dir nested too deeply", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read mosquitto config: {exc.strerror}", file=str(path)) from exc
    b.files.append(path)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, *args = line.split()
        origin = f"{path}:{number}"
        if key == "include_dir":
            folder = Path(" ".join(args))
            if not folder.is_absolute():
                folder = path.parent / folder
            if not folder.is_dir():
                raise ConfigError(f"include_dir {folder} is not a directory", file=origin)
            for child in sorted(p for p in folder.iterdir() if p.name.endswith(".conf")):
                _read(child, b, depth + 1)
        else:
            _apply(b, key, args, origin)


def read_mosquitto_conf(path: Path) -> MosquittoConfig:
    """Read a mosquitto configuration file and everything it includes.

    Args:
        path: The main file, e.g. ``/etc/mosquitto/mosquitto.conf``.

    Returns:
        The parsed configuration.

    Raises:
        ConfigError: A file cannot be read, an include_dir is missing, or a value
            is malformed (with file and line).
    """
    b = _Builder()
    _read(path, b, 0)
    listeners = [draft.freeze() for draft in b.listeners]
    if b.default_port is not None:
        origin = b.default_port.origin
        try:
            port = int(b.default_port.value)
        except ValueError as exc:
            raise ConfigError("port needs a number", file=origin) from exc
        listeners.insert(0, Listener(port=port, address=b.default_bind, origin=origin))
    elif not listeners:
        # mosquitto 2.x with no listener: "local only mode" on loopback port 1883.
        listeners.append(
            Listener(port=1883, address="127.0.0.1", origin=f"{path}: (no listener)", implicit=True)
        )
    bridges = tuple(draft.freeze() for draft in b.bridges)
    return MosquittoConfig(
        files=tuple(b.files),
        listeners=tuple(listeners),
        bridges=bridges,
        per_listener_settings=b.per_listener,
        allow_anonymous=b.allow_anonymous,
        log_types=tuple(b.log_types),
        persistence=b.persistence,
        persistence_location=b.persistence_location,
    )
