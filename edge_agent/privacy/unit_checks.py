"""Privacy checks of the installed systemd unit.

The unit must keep the daemon off the network in the kernel: either its own empty
network namespace (``PrivateNetwork=yes``), or ``IPAddressDeny=any`` with at most
loopback allowed (cgroup BPF: enforced on cgroup v2 only).
"""

from __future__ import annotations

import ipaddress

from edge_agent.privacy.findings import Finding, Severity
from edge_agent.privacy.loopback import is_loopback_host
from edge_agent.privacy.unit_file import UnitFile

__all__ = ["check_unit"]

_S = "Service"
_TRUE = frozenset({"yes", "true", "on", "1"})


def _is_loopback_entry(entry: str) -> bool:
    """Whether an IPAddressAllow entry (address, prefix or name) covers loopback only."""
    if entry == "localhost":
        return True
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return is_loopback_host(entry)
    return network.network_address.is_loopback and network.broadcast_address.is_loopback


def _network(unit: UnitFile) -> Finding | None:
    where = str(unit.path)
    if (unit.get(_S, "PrivateNetwork") or "").lower() in _TRUE:
        return None
    deny = unit.words(_S, "IPAddressDeny")
    allow = unit.words(_S, "IPAddressAllow")
    if "any" not in deny:
        return Finding(
            code="unit-network-open",
            severity=Severity.HIGH,
            message="the unit has neither PrivateNetwork=yes nor IPAddressDeny=any: "
            "nothing in the kernel stops the daemon from reaching the network",
            where=where,
            advice="use systemd/edge-agent.service (PrivateNetwork=yes, IPAddressDeny=any)",
        )
    remote = [entry for entry in allow if not _is_loopback_entry(entry)]
    if remote:
        return Finding(
            code="unit-network-allowed",
            severity=Severity.HIGH,
            message=f"IPAddressAllow lets the daemon reach {', '.join(remote)}",
            where=where,
            advice="allow only localhost (systemd/dropins/loopback-tcp.conf)",
        )
    return Finding(
        code="unit-network-ip-filter",
        severity=Severity.LOW,
        message="the daemon shares the host network; only IPAddressDeny=any (loopback "
        "allowed) keeps it local, which the kernel enforces on cgroup v2 only",
        where=where,
        advice="prefer the unix socket broker and PrivateNetwork=yes",
    )


def _identity(unit: UnitFile) -> Finding | None:
    dynamic = (unit.get(_S, "DynamicUser") or "").lower() in _TRUE
    user = unit.get(_S, "User")
    if dynamic or (user is not None and user not in ("root", "0")):
        return None
    return Finding(
        code="unit-runs-as-root",
        severity=Severity.MEDIUM,
        message="the daemon runs as root",
        where=str(unit.path),
        advice="DynamicUser=yes, as in systemd/edge-agent.service",
    )


def check_unit(unit: UnitFile | None, *, searched: str = "") -> list[Finding]:
    """Audit the installed unit.

    Args:
        unit: The unit with its drop-ins, or None when it is not installed.
        searched: Where it was looked for (for the message).

    Returns:
        Findings about network isolation and identity.
    """
    if unit is None:
        return [
            Finding(
                code="unit-missing",
                severity=Severity.MEDIUM,
                message="edge-agent.service is not installed: no kernel-enforced isolation "
                "could be verified",
                where=searched or "systemd unit directories",
                advice="install it with deploy/install.sh",
            )
        ]
    return [f for f in (_network(unit), _identity(unit)) if f is not None]
