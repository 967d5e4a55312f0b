"""The operator-facing parts beside the message path, wired to the daemon in one place.

- the control API (``<prefix>/<device>/request/<verb>``, :mod:`edge_agent.control`),
- Home Assistant discovery (:mod:`edge_agent.integrations.homeassistant`),
- the Prometheus textfile (:mod:`edge_agent.integrations.prometheus`).

The daemon builds one :class:`Operations` before it connects, adds its
subscriptions, hands it every message under its topics *before* routing (the
router never routes the daemon's own prefix), and reports a sensor's message,
a retained state about to be published, each connect and each stats document.
Everything here reads the daemon through public attributes only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from edge_agent.control.context import ControlContext
from edge_agent.control.server import ControlServer
from edge_agent.integrations.homeassistant.discovery import HomeAssistantDiscovery
from edge_agent.integrations.homeassistant.pipelines import describe_pipelines
from edge_agent.integrations.prometheus import TextfileWriter
from edge_agent.runtime.manifest import ModelPackage
from edge_agent.transport.message import InboundMessage

if TYPE_CHECKING:
    from edge_agent.config.models import AgentSettings
    from edge_agent.daemon import Daemon

__all__ = ["Operations"]


class Operations:
    """Control API, Home Assistant discovery and Prometheus textfile of one daemon.

    Args:
        daemon: The daemon (its settings, topics, sizing, documents and transport).
        packages: Model package per served pipeline name.
    """

    def __init__(self, daemon: Daemon, packages: Mapping[str, ModelPackage]) -> None:
        self._daemon = daemon
        settings = daemon.settings
        self.textfile = TextfileWriter(settings.prometheus)
        self.control: ControlServer | None = None
        if settings.control.enabled:
            context = ControlContext(
                settings=settings,
                packages=dict(packages),
                sizing=daemon.sizing.controller if daemon.sizing is not None else None,
                details=daemon.details,
                stats=daemon.stats_document,
                healthy=daemon.healthy,
                connected=lambda: bool(daemon.transport and daemon.transport.connected),
                reload_source=daemon.reload_source,
                on_reload=self._on_reload,
            )
            self.control = ControlServer(
                context, daemon.topics, settings.limits.text, self._publish_document
            )
        self.discovery: HomeAssistantDiscovery | None = None
        if settings.homeassistant.enabled:
            self.discovery = HomeAssistantDiscovery(
                settings.homeassistant,
                topics=daemon.topics,
                device_id=settings.device_id,
                pipelines=describe_pipelines(settings, packages),
                publish=self._publish_bytes,
                republish_states=self._republish_states,
            )

    # -- wiring ------------------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[tuple[str, int, int]]:
        """Extra ``(filter, qos, retain_handling)``: requests, HA's birth, our retained configs.

        All at QoS 1 (a request or a birth message must not be lost). Requests with
        retain handling 2: a retained request is not answered again at every connect;
        the discovery configs with 0: reading them back retained is the point.
        """
        subs: list[tuple[str, int, int]] = []
        if self.control is not None:
            subs.append((self.control.subscription, 1, 2))
        if self.discovery is not None:
            subs += [(f, 1, 0) for f in self.discovery.subscriptions]
        return subs

    def take(self, message: InboundMessage, ack: Callable[[], None]) -> bool:
        """Handle ``message`` if it is ours (network thread); True when it was taken."""
        if self.control is not None and self.control.handles(message.topic):
            self.control.submit(message, ack)
            return True
        if self.discovery is not None and self.discovery.handles(message.topic):
            ack()
            self.discovery.on_message(message)
            return True
        return False

    def start(self) -> None:
        """Start the control thread."""
        if self.control is not None:
            self.control.start()

    def stop(self) -> None:
        """Stop the control thread and pending republishes."""
        if self.control is not None:
            self.control.stop()
        if self.discovery is not None:
            self.discovery.stop()

    # -- what the daemon reports -------------------------------------------------------------

    def on_connected(self) -> None:
        """After each (re)connect."""
        if self.discovery is not None:
            self.discovery.on_connected()

    def sensor_seen(self, pipeline: str, sensor: str) -> None:
        """A routed message for ``sensor`` arrived on ``pipeline``."""
        if self.discovery is not None:
            self.discovery.sensor_seen(pipeline, sensor)

    def state_published(self, path: str) -> None:
        """A retained state (``counts/...``) is about to be published."""
        if self.discovery is not None:
            self.discovery.state_published(path)

    def after_stats(self, stats: Mapping[str, Any]) -> None:
        """A stats document was published: write the textfile, expire gone sensors."""
        self.textfile.write(stats)
        if self.discovery is not None:
            self.discovery.expire()

    # -- publishing through the daemon's transport ----------------------------------------

    def _publish_bytes(self, topic: str, payload: bytes, retain: bool) -> None:
        transport = self._daemon.transport
        if transport is not None:  # on the network thread the transport never waits for room
            transport.publish(topic, payload, qos=1, retain=retain)

    def _publish_document(self, topic: str, doc: Mapping[str, Any], corr: bytes | None) -> None:
        self._daemon.publisher.publish_doc(topic, doc, corr=corr)

    def _republish_states(self) -> None:
        self._daemon.publish_details_now()
        self._publish_document(self._daemon.topics.stats, self._daemon.stats_document(), None)

    def _on_reload(self, settings: AgentSettings) -> None:
        self.textfile.settings = settings.prometheus
