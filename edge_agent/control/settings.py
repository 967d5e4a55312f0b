"""The ``[control]`` table: the request/response API on MQTT."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ControlSettings"]


class ControlSettings(BaseModel):
    """The control API on ``<prefix>/<device>/request/<verb>`` (the broker ACL decides who)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description="Answer requests on <prefix>/<device>/request/<verb> (who may publish "
        "there is the broker ACL's decision).",
    )
