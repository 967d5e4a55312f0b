"""Privacy checks of the mosquitto configuration.

Severity rules (measured with mosquitto 2.0.11 here, see systemd/README.md):
- a bridge to another host carrying topics out: results leave the device (high);
- a listener reachable from the network (no bind address = every interface): high;
- anonymous access on any listener: any local process or user reads every result (high);
- ``persistence true``: retained messages and QoS 1 messages queued for an absent
  client are written to mosquitto.db, i.e. payloads reach the disk (medium);
- ``log_type all``/``debug``: a per-message trail (client id, topic, size; never the
  payload bytes) in the broker log (low).
"""

from __future__ import annotations

from pathlib import Path

from edge_agent.privacy.findings import Finding, Severity
from edge_agent.privacy.loopback import is_loopback_host
from edge_agent.privacy.mosquitto_conf import Bridge, Listener, MosquittoConfig

__all__ = ["check_broker"]

_WILDCARDS = frozenset({"0.0.0.0", "::", "*"})  # noqa: S104 (we look for them)


def _bridge_host(address: str) -> str:
    if address.startswith("["):
        return address[1 : address.find("]")]
    host, _sep, _port = address.rpartition(":")
    return host if host and ":" not in host else address


def _check_bridge(bridge: Bridge) -> Finding:
    remote = [a for a in bridge.addresses if not is_loopback_host(_bridge_host(a))]
    outgoing = not bridge.topics or any(t.direction in ("out", "both") for t in bridge.topics)
    if remote and outgoing:
        return Finding(
            code="broker-bridge",
            severity=Severity.HIGH,
            message=(
                f"bridge '{bridge.name}' forwards local topics to {', '.join(remote)}: "
                "results (and inputs) would leave the device"
            ),
            where=bridge.origin,
            advice="remove the `connection` section, or bridge only topics without sensor data",
        )
    if remote:
        return Finding(
            code="broker-bridge",
            severity=Severity.MEDIUM,
            message=(
                f"bridge '{bridge.name}' to {', '.join(remote)} only imports topics, "
                "but holds a connection off the device"
            ),
            where=bridge.origin,
            advice="remove the `connection` section unless it is needed",
        )
    return Finding(
        code="broker-bridge",
        severity=Severity.LOW,
        message=f"bridge '{bridge.name}' links to another broker on this device",
        where=bridge.origin,
        advice="check that the other broker does not forward edge-agent topics",
    )


def _network_exposure(listener: Listener) -> str | None:
    if listener.is_unix_socket:
        return None
    if listener.bind_interface is not None:
        return None if listener.bind_interface == "lo" else f"interface {listener.bind_interface}"
    if listener.address is None or listener.address in _WILDCARDS:
        return "every network interface"
    if is_loopback_host(listener.address):
        return None
    return f"address {listener.address}"


def _check_listener(listener: Listener) -> Finding | None:
    exposure = _network_exposure(listener)
    if exposure is None:
        return None
    bare = listener.address is None and listener.bind_interface is None
    return Finding(
        code="broker-listener-exposed",
        severity=Severity.HIGH,
        message=(
            f"listener on port {listener.port} is reachable on {exposure}"
            + (" (a listener without a bind address listens on all interfaces)" if bare else "")
        ),
        where=listener.origin,
        advice=f"bind it to loopback: `listener {listener.port} 127.0.0.1`, or use the unix socket",
    )


def _anonymous(conf: MosquittoConfig) -> list[Finding]:
    found: list[Finding] = []
    if conf.per_listener_settings:
        for listener in conf.listeners:
            if listener.allow_anonymous:
                where = listener.address or f"port {listener.port}"
                found.append(
                    Finding(
                        code="broker-anonymous",
                        severity=Severity.HIGH,
                        message=f"listener {where} accepts clients without credentials",
                        where=listener.allow_anonymous_origin or listener.origin,
                        advice="set `allow_anonymous false` and a `password_file` on the listener",
                    )
                )
    elif conf.allow_anonymous is not None and conf.allow_anonymous.value == "true":
        found.append(
            Finding(
                code="broker-anonymous",
                severity=Severity.HIGH,
                message="every listener accepts clients without credentials",
                where=conf.allow_anonymous.origin,
                advice="set `allow_anonymous false` with a `password_file` and an `acl_file`",
            )
        )
    return found


def _logging(conf: MosquittoConfig) -> list[Finding]:
    return [
        Finding(
            code="broker-verbose-log",
            severity=Severity.LOW,
            message=(
                f"`log_type {setting.value}` logs every message's client, topic and size "
                "(not its payload)"
            ),
            where=setting.origin,
            advice="log error, warning, notice and information only",
        )
        for setting in conf.log_types
        if setting.value in ("all", "debug")
    ]


_RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
_RAM_PREFIXES = ("/run/", "/dev/shm/")  # noqa: S108 - names, not files we create


def on_ram_filesystem(location: str, mounts: Path = Path("/proc/mounts")) -> bool:
    """Whether a directory is on tmpfs/ramfs (read from the mount table; by prefix without one).

    Args:
        location: The persistence directory.
        mounts: The mount table to read.
    """
    path = location if location.endswith("/") else location + "/"
    try:
        table = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return path.startswith(_RAM_PREFIXES)
    best, fstype = "", ""
    for line in table:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        point = point if point.endswith("/") else point + "/"
        if path.startswith(point) and len(point) > len(best):
            best, fstype = point, fields[2]
    if not best:
        return path.startswith(_RAM_PREFIXES)
    return fstype in _RAM_FILESYSTEMS


def _persistence(conf: MosquittoConfig, mounts: Path) -> list[Finding]:
    if conf.persistence is None or conf.persistence.value != "true":
        return []
    location = conf.persistence_location.value if conf.persistence_location else ""
    if location and on_ram_filesystem(location, mounts):
        return []  # queued messages survive a broker restart and never touch the disk
    where = conf.persistence_location.origin if conf.persistence_location else ""
    return [
        Finding(
            code="broker-persistence",
            severity=Severity.MEDIUM,
            message=(
                "persistence is on and not on tmpfs: retained messages and QoS 1 messages "
                "queued for an absent client (sensor payloads) are written to "
                f"{location or 'mosquitto.db in the working directory'} on disk"
            ),
            where=where or conf.persistence.origin,
            advice="keep the file on tmpfs: `persistence_location /run/mosquitto/` "
            "(deploy/mosquitto/edge-agent.conf does), or `persistence false`",
        )
    ]


def check_broker(conf: MosquittoConfig, mounts: Path = Path("/proc/mounts")) -> list[Finding]:
    """Audit a mosquitto configuration.

    Args:
        conf: The parsed configuration (with its includes).
        mounts: The mount table (decides whether persistence is on a RAM filesystem).

    Returns:
        Findings, in configuration order within each kind.
    """
    found = [_check_bridge(bridge) for bridge in conf.bridges]
    found += [f for listener in conf.listeners if (f := _check_listener(listener)) is not None]
    found += _anonymous(conf)
    found += _persistence(conf, mounts)
    found += _logging(conf)
    return found
