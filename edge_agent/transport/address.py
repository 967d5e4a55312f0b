"""Broker addresses, and the privacy rule that the broker must be local."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from edge_agent.errors import ConfigError

__all__ = ["BrokerAddress", "is_local_host", "parse_broker_url"]

_DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens.

    Attributes:
        scheme: ``unix``, ``mqtt`` or ``mqtts``.
        host: Host name or IP (the socket path for ``unix``).
        port: TCP port (0 for ``unix``).
    """

    scheme: str
    host: str
    port: int

    @property
    def transport(self) -> str:
        """Paho transport name."""
        return "unix" if self.scheme == "unix" else "tcp"

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS."""
        return self.scheme == "mqtts"

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``unix:///path``, ``mqtt://host[:port]`` or ``mqtts://host[:port]``.

    Raises:
        ConfigError: Not one of those forms.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ConfigError("unix socket path must be absolute", key="broker.url")
        return BrokerAddress("unix", path, 0)
    if scheme not in _DEFAULT_PORTS:
        raise ConfigError(
            f"unsupported scheme {parts.scheme!r} (use unix://, mqtt:// or mqtts://)",
            key="broker.url",
        )
    if not parts.hostname:
        raise ConfigError("missing host", key="broker.url")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ConfigError(f"bad port: {exc}", key="broker.url") from exc
    return BrokerAddress("mqtts" if scheme in ("mqtts", "ssl") else "mqtt", parts.hostname, port)


def is_local_host(host: str) -> bool:
    """Whether ``host`` is a loopback address, or a name that resolves only to loopback.

    A name is resolved with the system resolver (``/etc/hosts`` for ``localhost``);
    a name that does not resolve is not local.
    """
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


def is_local(address: BrokerAddress) -> bool:
    """Whether the broker address is on this device (unix socket or loopback)."""
    return address.scheme == "unix" or is_local_host(address.host)
