"""Settings models: every field has a description and unknown keys are errors."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge_agent.codecs.limits import Limits
from edge_agent.control.settings import ControlSettings
from edge_agent.elastic.settings import ElasticSettings
from edge_agent.integrations.homeassistant.settings import HomeAssistantSettings
from edge_agent.integrations.prometheus import PrometheusSettings

__all__ = [
    "HOME_LABELS",
    "AgentSettings",
    "BrokerSettings",
    "LogSettings",
    "PipelineSettings",
    "PrivacySettings",
    "RouteSettings",
    "StatsSettings",
    "TlsSettings",
    "default_models_dir",
]


def default_models_dir() -> Path:
    """The shipped models: ``./models`` of a source checkout, else ``/opt/edge-agent/models``."""
    here = Path(__file__).resolve().parents[2] / "models"
    return here if here.is_dir() else Path("/opt/edge-agent/models")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsSettings(_Strict):
    """TLS towards the broker (for a broker on loopback TLS is rarely needed)."""

    ca_file: Path | None = Field(default=None, description="CA bundle to verify the broker.")
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM).")
    key_file: Path | None = Field(default=None, description="Client private key (PEM).")
    insecure: bool = Field(default=False, description="Skip hostname verification (testing only).")


class BrokerSettings(_Strict):
    """How to reach the local MQTT broker."""

    url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="unix:///path/to.sock, mqtt://host:port or mqtts://host:port.",
    )
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version.")
    client_id: str | None = Field(
        default=None, description="MQTT client id; default edge-agent-<device_id>."
    )
    username: str | None = Field(default=None, description="Broker user name.")
    password_file: Path | None = Field(
        default=None, description="File holding the broker password (never put it in the config)."
    )
    password_credential: str | None = Field(
        default=None,
        description="systemd credential name ($CREDENTIALS_DIRECTORY/<name>) holding the password.",
    )
    tls: TlsSettings | None = Field(default=None, description="TLS options (mqtts:// only).")

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_text(cls, value: object) -> object:
        # `protocol = 5` in TOML, or EDGE_AGENT_BROKER__PROTOCOL=5, arrives as a number.
        return str(value) if isinstance(value, int | float) else value

    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive in seconds.")
    session_expiry_s: int = Field(
        default=86400,
        ge=0,
        description="MQTT 5 session expiry: how long the broker queues QoS 1 messages for us.",
    )
    qos: Literal[0, 1] = Field(default=1, description="QoS for subscriptions and results.")
    reconnect_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Reconnect delay cap.")
    max_outgoing: int = Field(
        default=1000,
        ge=10,
        le=60000,
        description="Answers waiting for the broker at most before workers wait (back-pressure).",
    )
    publish_wait_s: float = Field(
        default=5.0,
        gt=0,
        description="Longest a worker waits for room to publish; then the answer is queued "
        "anyway and the overrun counted.",
    )


class PrivacySettings(_Strict):
    """What may leave the device (by default: nothing)."""

    allow_remote_broker: bool = Field(
        default=False, description="Allow a broker that is not a unix socket or loopback address."
    )
    allow_embeddings: bool = Field(
        default=False, description="Allow routes to publish raw embeddings (derived but rich data)."
    )


class LogSettings(_Strict):
    """Logging."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Minimum level logged."
    )
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: JSON under a service, readable on a terminal."
    )


class StatsSettings(_Strict):
    """Periodic stats on <prefix>/<device>/stats."""

    interval_s: float = Field(default=30.0, gt=0, description="Seconds between stats messages.")
    drop_report_s: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="Inbox drops of one pipeline and sensor within this window are reported "
        "in one inbox_full error with a count.",
    )


class PipelineSettings(_Strict):
    """One pipeline: a task served by a model family, with its own inbox and worker."""

    kind: Literal["faces", "text", "wakeword", "objects", "speech", "generate"] = Field(
        description="Task implementation."
    )
    family: str | None = Field(
        default=None, description="Model family folder under models_dir; default: the kind."
    )
    enabled: bool = Field(default=True, description="Serve this pipeline.")
    threads: int = Field(default=1, ge=1, le=8, description="Interpreter threads.")
    inbox_size: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="Messages waiting at most; the oldest is dropped. Default by kind: 256 for "
        "speech (a transcription takes seconds while chunks keep coming), else 32.",
    )
    priority: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Place in the memory budget: under pressure the lowest priority steps down "
        "first and is unloaded before a higher one loses quality. Default by kind: wakeword 90, "
        "faces and objects 80, text 70, speech 50, generate 30.",
    )
    load: Literal["at_start", "on_demand"] | None = Field(
        default=None,
        description="at_start: loaded when the daemon starts; on_demand: on its first message "
        "(which waits for it), unloaded again after its idle timeout. Default by kind: on_demand "
        "for speech and generate, at_start for the others.",
    )
    idle_unload_s: float | None = Field(
        default=None,
        gt=0,
        description="Unload this pipeline's family after this many idle seconds; default the "
        "kind's (generate 300) or elastic.idle_unload_s.",
    )
    shards: int | Literal["auto"] = Field(
        default="auto",
        description="Workers, each with its own model instance and inbox, running in parallel. "
        "Stream and tracker state stays with a sensor's shard; stateless kinds send each "
        "message to the least busy one. auto: one per core (at most 4) for streaming kinds "
        "(wakeword), else 1.",
    )

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 16:
            raise ValueError("shards must be 1..16 or 'auto'")
        return value

    options: dict[str, Any] = Field(
        default_factory=dict, description="Task options, validated by the pipeline."
    )

    @property
    def family_name(self) -> str:
        """The family folder name."""
        return self.family or self.kind


class RouteSettings(_Strict):
    """A topic filter feeding a pipeline."""

    topic: str | None = Field(
        default=None,
        description="MQTT topic filter, e.g. sensors/+/image; leave it out for a route fed "
        "only by another route's `forward`.",
    )
    pipeline: str = Field(description="Name of the pipeline that serves it.")
    forward: str | None = Field(
        default=None,
        description="Route whose pipeline takes this route's results as input (a chain: "
        "speech -> text intents). The forwarded result keeps the request id.",
    )
    sensor_level: int = Field(
        default=1, ge=0, description="0-based topic level holding the sensor id."
    )
    format: str | None = Field(
        default=None,
        description="Payload format when the sender sets no content type, e.g. image/jpeg.",
    )
    qos: Literal[0, 1] | None = Field(
        default=None, description="Subscription QoS; default broker.qos."
    )
    enabled: bool = Field(default=True, description="Subscribe to this route.")
    when_unloaded: Literal["reject", "wait"] = Field(
        default="reject",
        description="When the pipeline's family is unloaded for lack of memory: reject answers "
        "model_unavailable with retry_after_s at once; wait keeps the message until the family "
        "is back or wait_s passes.",
    )
    wait_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="when_unloaded = wait: longest a message waits for its family.",
    )
    retained: Literal["once", "ignore"] = Field(
        default="once",
        description="Retained input messages: once = answered once per distinct message (not "
        "again on every reconnect); ignore = never answered.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Per-route task options, validated by the pipeline."
    )

    @field_validator("topic")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value:
            raise ValueError("a topic filter must not be empty (null: fed by forwarding only)")
        levels = value.split("/")
        for i, level in enumerate(levels):
            if "#" in level and (level != "#" or i != len(levels) - 1):
                raise ValueError("'#' must be a whole last level")
            if "+" in level and level != "+":
                raise ValueError("'+' must be a whole level")
        return value


def _default_pipelines() -> dict[str, PipelineSettings]:
    return {
        "faces": PipelineSettings(kind="faces"),
        "text": PipelineSettings(kind="text"),
        "wakeword": PipelineSettings(kind="wakeword"),
    }


HOME_LABELS: dict[str, list[str]] = {
    "security": [
        "a security alert about an intruder, a door or window opening, motion or a person detected",
        "the alarm system was armed, disarmed or triggered",
    ],
    "fire_smoke": [
        "a smoke, fire or carbon monoxide alarm",
        "something is burning or overheating",
    ],
    "water_leak": [
        "a water leak, flooding or moisture detected",
        "a pipe, tap or sump pump problem with water",
    ],
    "climate": [
        "temperature, heating, cooling, thermostat or humidity",
        "the room is too hot or too cold",
    ],
    "lighting": [
        "turn lights on or off, dim or change the lamp colour",
        "a request about the lights",
    ],
    "media": [
        "play, pause or skip music, a podcast, radio or the TV",
        "change the volume of the speaker",
    ],
    "delivery": [
        "a package or parcel delivery, courier or mailbox",
        "a delivery was dropped off or is on its way",
    ],
    "appliance": [
        "a household appliance such as the washing machine, dryer, dishwasher, oven or fridge",
        "the laundry or dishes are done",
    ],
    "network": [
        "wifi, router, internet connection, device offline or firmware update",
        "a computer system log message or network error",
    ],
    "energy": [
        "electricity, power outage, battery level, solar panels or energy usage",
        "the power went out or a battery is low",
    ],
}
"""Default labels of the ``texts`` route: events a home or building device sees."""


def _default_routes() -> dict[str, RouteSettings]:
    return {
        "images": RouteSettings(topic="sensors/+/image", pipeline="faces"),
        "texts": RouteSettings(
            topic="sensors/+/text", pipeline="text", options={"labels": HOME_LABELS}
        ),
        "audio": RouteSettings(topic="sensors/+/audio", pipeline="wakeword"),
    }


class AgentSettings(BaseSettings):
    """The whole effective configuration of one device."""

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix="EDGE_AGENT_", env_nested_delimiter="__"
    )

    device_id: str = Field(
        default_factory=socket.gethostname,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="This device's id (topic level); default: the hostname.",
    )
    labels: list[str] = Field(default_factory=list, description="Labels fleet groups match on.")
    topic_prefix: str = Field(
        default="edge-agent", description="First level(s) of every topic edge-agent publishes."
    )
    models_dir: Path = Field(
        default_factory=default_models_dir, description="Folder of model families."
    )
    cache_dir: Path = Field(
        default=Path("/var/cache/edge-agent"),
        description="Writable folder for materialised model variants.",
    )
    shutdown_deadline_s: float = Field(
        default=10.0, gt=0, description="SIGTERM: time to drain inboxes before exiting."
    )
    malloc_tuning: bool = Field(
        default=True,
        description="Fix glibc's mmap and trim thresholds at start so per-message buffers stay "
        "mapped (false: glibc's adaptive defaults, which re-fault them every message).",
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings, description="The broker.")
    privacy: PrivacySettings = Field(default_factory=PrivacySettings, description="Privacy.")
    log: LogSettings = Field(default_factory=LogSettings, description="Logging.")
    stats: StatsSettings = Field(default_factory=StatsSettings, description="Stats.")
    limits: Limits = Field(default_factory=Limits, description="Payload limits per modality.")
    elastic: ElasticSettings = Field(
        default_factory=ElasticSettings, description="Memory-driven variant selection."
    )
    control: ControlSettings = Field(
        default_factory=ControlSettings, description="The control API on MQTT."
    )
    homeassistant: HomeAssistantSettings = Field(
        default_factory=HomeAssistantSettings, description="Home Assistant MQTT discovery."
    )
    prometheus: PrometheusSettings = Field(
        default_factory=PrometheusSettings, description="Prometheus textfile metrics."
    )
    pipelines: dict[str, PipelineSettings] = Field(
        default_factory=_default_pipelines, description="Pipelines by name."
    )
    routes: dict[str, RouteSettings] = Field(
        default_factory=_default_routes, description="Routes by name."
    )

    @model_validator(mode="after")
    def _route_targets(self) -> AgentSettings:
        for name, route in self.routes.items():
            if route.pipeline not in self.pipelines:
                known = ", ".join(sorted(self.pipelines)) or "none"
                raise ValueError(
                    f"route {name!r} names pipeline {route.pipeline!r}, which is not defined"
                    f" (defined: {known})"
                )
            if route.forward is not None and route.forward not in self.routes:
                raise ValueError(
                    f"route {name!r} forwards to route {route.forward!r}, which is not defined"
                )
        targets = {r.forward for r in self.routes.values()}
        for name, route in self.routes.items():
            if route.topic is None and name not in targets:
                raise ValueError(f"route {name!r} has no topic and no route forwards to it")
        for name in self.routes:
            seen = [name]
            nxt = self.routes[name].forward
            while nxt is not None:
                if nxt in seen:
                    raise ValueError(f"routes forward in a cycle: {' -> '.join([*seen, nxt])}")
                seen.append(nxt)
                nxt = self.routes[nxt].forward
        return self
