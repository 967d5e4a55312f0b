"""Broker accounts that may steer or watch the daemon: control clients and Home Assistant.

`edge-agent sensor add` never grants these topics; `edge-agent account add NAME
--role control|homeassistant` creates a user with one of the blocks below (the
same password and ACL files, same idempotence, see :mod:`edge_agent.deploy.sensors`).

- **control**: publish requests (``<prefix>/+/request/#``), read their responses
  and the status/stats topics. The daemon answers only what the broker delivers,
  so this ACL line is the access control of the control API.
- **homeassistant**: Home Assistant's own MQTT account: the discovery prefix
  (its birth message and the retained configs) and everything the device publishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from edge_agent.deploy.sensors import BrokerFiles, SensorAdded, add_account

__all__ = ["Role", "account_acl_block", "add_client_account"]

Role = Literal["control", "homeassistant"]


def account_acl_block(
    name: str, role: Role, topic_prefix: str = "edge-agent", discovery_prefix: str = "homeassistant"
) -> str:
    """The ACL block of one control or Home Assistant account, between BEGIN/END markers.

    Args:
        name: Broker user name (already validated).
        role: ``control`` or ``homeassistant``.
        topic_prefix: The daemon's topic prefix.
        discovery_prefix: Home Assistant's discovery prefix.

    Returns:
        The block text, ending with a newline.
    """
    if role == "control":
        lines = [
            f"topic write {topic_prefix}/+/request/#",
            f"topic read {topic_prefix}/+/response/#",
            f"topic read {topic_prefix}/+/status",
            f"topic read {topic_prefix}/+/status/details",
            f"topic read {topic_prefix}/+/stats",
        ]
    else:
        lines = [f"topic readwrite {discovery_prefix}/#", f"topic read {topic_prefix}/#"]
    body = "".join(f"{line}\n" for line in lines)
    return f"# BEGIN {role} {name}\nuser {name}\n{body}# END {role} {name}\n"


def add_client_account(
    name: str,
    files: BrokerFiles,
    *,
    role: Role,
    topic_prefix: str = "edge-agent",
    password_out: Path | None = None,
) -> SensorAdded:
    """Create (idempotently) a control or Home Assistant broker account.

    Raises:
        SensorSetupError: Invalid name, a sensor of that name, or mosquitto_passwd failed.
    """
    block = account_acl_block(name, role, topic_prefix)
    return add_account(name, files, block=block, kind=role, password_out=password_out)
