"""Is an address local to this device?

Names are not resolved: only literal loopback addresses and the standard
localhost names count as local.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_local_broker_url", "is_loopback_host"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is a loopback address or a localhost name.

    Args:
        host: Host name or IP literal (brackets around IPv6 allowed).

    Returns:
        True for 127.0.0.0/8, ::1 and localhost names; False otherwise,
        including the wildcard addresses 0.0.0.0 and ::.
    """
    host = host.strip().strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_broker_url(url: str) -> bool:
    """Whether a broker URL stays on the device (``unix://`` or a loopback host).

    Args:
        url: ``unix:///path``, ``mqtt://host:port``, ``mqtts://host:port``.

    Returns:
        True when the broker is a unix socket or on loopback.
    """
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return True
    return parts.hostname is not None and is_loopback_host(parts.hostname)
