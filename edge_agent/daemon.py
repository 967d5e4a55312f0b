"""The composition root: builds every part, starts them, and stops them in order.

Start: check the broker is local → load model packages → start workers and load
variants → connect (subscriptions, retained ``online``) → READY=1.
Stop: stop accepting (unacknowledged messages stay with the broker) → drain
inboxes until the deadline → publish ``offline`` → disconnect → exit 0.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from edge_agent import __version__
from edge_agent.config.models import AgentSettings, PipelineSettings
from edge_agent.elastic.swapper import Swapper, unavailable_reason
from edge_agent.errors import ConfigError, PayloadError, Reason
from edge_agent.health.notify import Notifier
from edge_agent.health.stats import Stats
from edge_agent.operations import Operations
from edge_agent.pipelines.base import Pipeline, RequestContext
from edge_agent.pipelines.factory import build_pipeline, validate_options
from edge_agent.results.schema import (
    STATUS_SCHEMA,
    Topics,
    error_document,
    event_document,
    partial_document,
    result_document,
    to_json,
)
from edge_agent.runtime.manifest import ModelPackage
from edge_agent.transport.address import is_local, parse_broker_url
from edge_agent.transport.inbox import Inbox
from edge_agent.transport.mqtt import InboundMessage, MqttTransport, read_password
from edge_agent.transport.redelivery import RedeliveryFilter
from edge_agent.transport.routing import Router
from edge_agent.worker import Job, Worker

__all__ = ["Daemon"]

log = structlog.get_logger("edge_agent.daemon")


def _no_ack() -> None:
    """Forwarded hops are in-process messages: nothing to acknowledge."""


@dataclass
class _Entry:
    spec: PipelineSettings
    pipeline: Pipeline
    inbox: Inbox[Job]
    worker: Worker
    package: ModelPackage = field(init=False)

    def __post_init__(self) -> None:
        self.package = self.pipeline.package


class Daemon:
    """edge-agent's running process.

    Args:
        settings: Effective settings.
        notifier: systemd notifier (default: from the environment).
        reload_source: Reads the config files again (the control API's ``reload``).
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        notifier: Notifier | None = None,
        reload_source: Callable[[], AgentSettings] | None = None,  # [ops hook]
    ) -> None:
        self.settings = settings
        self.reload_source = reload_source  # [ops hook]
        self.operations: Operations | None = None  # [ops hook]
        self.topics = Topics(settings.topic_prefix, settings.device_id)
        self.notifier = notifier or Notifier()
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.healthy = threading.Event()
        self._accepting = threading.Event()
        self._entries: dict[str, _Entry] = {}
        self._redeliveries = RedeliveryFilter()
        self.remote_broker = False
        self.transport: MqttTransport | None = None
        self.sizing: Swapper | None = None
        routes = {
            name: r
            for name, r in settings.routes.items()
            if r.enabled and settings.pipelines[r.pipeline].enabled
        }
        self.router = Router(routes, settings.topic_prefix)
        self._routes = routes

    # -- start -------------------------------------------------------------------------------

    def _check_broker(self) -> None:
        address = parse_broker_url(self.settings.broker.url)
        if not is_local(address):
            if not self.settings.privacy.allow_remote_broker:
                raise ConfigError(
                    f"broker {address} is not on this device (unix socket or loopback); results "
                    "would leave the device. Set privacy.allow_remote_broker = true to allow it.",
                    key="broker.url",
                )
            self.remote_broker = True
            log.warning("remote_broker_allowed", broker=str(address))

    def _build(self) -> None:
        for name, spec in self.settings.pipelines.items():
            if not spec.enabled or not any(r.pipeline == name for r in self._routes.values()):
                continue
            pipeline = build_pipeline(name, self.settings, spec)
            route_options = {
                rname: validate_options(
                    pipeline.route_options_model, r.options, f"routes.{rname}.options"
                )
                for rname, r in self._routes.items()
                if r.pipeline == name
            }
            if not self.settings.privacy.allow_embeddings:
                for rname, opts in route_options.items():
                    if getattr(opts, "embedding", False):
                        raise ConfigError(
                            "route asks for embeddings but privacy.allow_embeddings is false",
                            key=f"routes.{rname}.options.embedding",
                        )
            inbox: Inbox[Job] = Inbox(spec.inbox_size)
            worker = Worker(
                pipeline,
                inbox,
                limits=self.settings.limits,
                route_options=route_options,
                on_results=self._publish_results,
                on_error=self._publish_error,
                on_done=self._done,
                on_partial=self._publish_partial,
            )
            worker.unavailable = unavailable_reason(pipeline.package)
            if worker.unavailable is not None:
                log.warning(
                    "family_unavailable",
                    pipeline=name,
                    family=pipeline.package.family,
                    reason=worker.unavailable,
                )
            self._entries[name] = _Entry(spec, pipeline, inbox, worker)

    def start(self) -> None:
        """Build and start everything; returns once the daemon serves.

        Raises:
            ConfigError: Invalid settings (including a non-local broker).
            ModelError: A model package or variant cannot be loaded.
        """
        self._check_broker()
        self._build()
        self.sizing = Swapper(
            self.settings,
            {n: e.worker for n, e in self._entries.items()},
            on_change=self.publish_details_now,
        )
        for entry in self._entries.values():
            entry.worker.on_unloaded_message = self.sizing.message_arrived
        for entry in self._entries.values():
            entry.worker.start()
        self.sizing.initial_load()
        password = read_password(self.settings.broker)
        subs = [
            (r.topic, r.qos if r.qos is not None else self.settings.broker.qos)
            for r in self._routes.values()
            if r.topic is not None
        ]
        packages = {n: e.package for n, e in self._entries.items()}  # [ops hook]
        self.operations = Operations(self, packages)  # [ops hook]
        subs += self.operations.subscriptions  # [ops hook] control requests, HA birth + configs
        self.transport = MqttTransport(
            self.settings.broker,
            client_id=self.settings.broker.client_id or f"edge-agent-{self.settings.device_id}",
            status_topic=self.topics.status,
            subscriptions=subs,
            on_message=self._on_message,
            on_online=self._on_online,  # [ops hook] was self._publish_details
            password=password,
        )
        self._accepting.set()
        self.operations.start()  # [ops hook]
        self.transport.start()
        self.sizing.start(self.stop_event)
        threading.Thread(target=self._stats_loop, name="stats", daemon=True).start()
        self.healthy.set()
        self.notifier.start_watchdog(self.healthy, self.stop_event)
        self.notifier.notify("READY=1\nSTATUS=serving")
        log.info(
            "daemon_started",
            device=self.settings.device_id,
            version=__version__,
            pipelines=sorted(self._entries),
            routes=len(self._routes),
        )

    # -- message path (network thread) --------------------------------------------------------

    def _request_id(self, msg: InboundMessage) -> str:
        if msg.correlation_data:
            try:
                text = msg.correlation_data.decode("ascii")
                if text.isprintable() and len(text) <= 128:
                    return text
            except UnicodeDecodeError:
                pass
            return msg.correlation_data.hex()[:64]
        return uuid.uuid4().hex

    def _on_message(self, msg: InboundMessage, ack: Any) -> None:
        if not self._accepting.is_set():
            return  # not acknowledged: the broker keeps it for our next session
        if self.operations is not None and self.operations.take(msg, ack):  # [ops hook]
            return
        match = self.router.match(msg.topic)
        if match is None:
            self.stats.unrouted += 1
            ack()
            return
        if self.operations is not None:  # [ops hook] a sensor's entities appear on first sight
            self.operations.sensor_seen(match.settings.pipeline, match.sensor)
        if self._redeliveries.is_redelivery(msg):
            log.info("duplicate_ignored", topic=msg.topic, size=len(msg.payload))
            ack()
            return
        entry = self._entries[match.settings.pipeline]
        self._enqueue(entry, Job(msg, match, self._request_id(msg), ack))

    def _enqueue(self, entry: _Entry, job: Job) -> None:
        """Put a job in a pipeline's inbox; report and acknowledge the one dropped, if any."""
        if self.sizing is not None:
            self.sizing.message_arrived(entry.worker)
        self.stats.received(entry.pipeline.name)
        dropped = entry.inbox.put(job)
        if dropped is not None:
            self.stats.dropped(entry.pipeline.name)
            log.warning(
                "inbox_full_dropped_oldest",
                pipeline=entry.pipeline.name,
                topic=dropped.message.topic,
                request_id=dropped.request_id,
            )
            self._publish_error(
                dropped,
                PayloadError(
                    Reason.INBOX_FULL,
                    "inbox full: dropped the oldest waiting message",
                    topic=dropped.message.topic,
                    sensor=dropped.match.sensor,
                    size=len(dropped.message.payload),
                ),
            )
            dropped.ack()

    # -- publishing (worker threads) ----------------------------------------------------------

    def _publish(
        self, topic: str, doc: Mapping[str, Any], *, corr: bytes | None = None, retain: bool = False
    ) -> None:
        if self.transport is not None:
            self.transport.publish(
                topic,
                to_json(doc),
                qos=self.settings.broker.qos,
                retain=retain,
                correlation_data=corr,
            )

    def _publish_results(
        self, job: Job, ctx: RequestContext, results: list[dict[str, Any]], variant: str | None
    ) -> None:
        entry = self._entries[job.match.settings.pipeline]
        manifest = entry.package.manifest
        corr = job.message.correlation_data
        model = {"family": manifest.family, "variant": variant, "task": manifest.task}
        for result in results:
            doc = result_document(
                request_id=job.request_id,
                device=self.settings.device_id,
                pipeline=entry.pipeline.name,
                route=job.match.route,
                sensor=job.match.sensor,
                topic=job.message.topic,
                family=manifest.family,
                variant=variant,
                task=manifest.task,
                timings_ms=ctx.timer.stages,
                result=result,
            )
            if job.origin is not None:
                doc["chain"] = dict(job.origin)
            self._publish(self.topics.result(entry.pipeline.name, job.match.sensor), doc, corr=corr)
            if job.message.response_topic:
                self._publish(job.message.response_topic, doc, corr=corr)
        for event in ctx.outputs.events:
            doc = event_document(
                event_type=event.event_type,
                request_id=job.request_id,
                device=self.settings.device_id,
                pipeline=entry.pipeline.name,
                route=job.match.route,
                sensor=job.match.sensor,
                model=model,
                data=event.data,
            )
            self._publish(self.topics.event(entry.pipeline.name, job.match.sensor), doc)
        for state in ctx.outputs.states:
            if self.operations is not None:  # [ops hook] a count's entity before its value
                self.operations.state_published(state.path)
            self._publish_raw(self.topics.state(state.path), state.payload, retain=True)
        self._forward(job, entry, results)
        log.info(
            "message_answered",
            pipeline=entry.pipeline.name,
            topic=job.message.topic,
            sensor=job.match.sensor,
            request_id=job.request_id,
            size=len(job.message.payload),
            results=len(results),
            variant=variant,
        )

    def _publish_raw(self, topic: str, payload: bytes, *, retain: bool) -> None:
        if self.transport is not None:
            self.transport.publish(
                topic,
                payload,
                qos=self.settings.broker.qos,
                retain=retain,
                content_type="text/plain",
            )

    def _publish_partial(self, job: Job, seq: int, data: Mapping[str, Any]) -> None:
        name = job.match.settings.pipeline
        doc = partial_document(
            request_id=job.request_id,
            device=self.settings.device_id,
            pipeline=name,
            route=job.match.route,
            sensor=job.match.sensor,
            seq=seq,
            data=data,
        )
        corr = job.message.correlation_data
        self._publish(self.topics.partial(name, job.match.sensor), doc, corr=corr)
        if job.message.response_topic:
            self._publish(job.message.response_topic, doc, corr=corr)

    def _forward(self, job: Job, entry: _Entry, results: list[dict[str, Any]]) -> None:
        """Hand each result to the next route of the chain, as a message in its inbox.

        A hop is an in-process message: the drop policy, sizing and error reporting
        of the next pipeline apply to it; it carries the original request id,
        response topic and correlation data, and is not acknowledged to the broker
        (the original message was, once its own answer was out).
        """
        target_name = job.match.settings.forward
        if target_name is None:
            return
        target = self._entries.get(self._routes[target_name].pipeline)
        if target is None:
            return
        for result in results:
            payload = entry.pipeline.forward_payload(result)
            if payload is None:
                continue
            origin = {
                "pipeline": entry.pipeline.name,
                "route": job.match.route,
                "topic": job.message.topic,
            }
            message = InboundMessage(
                topic=job.message.topic,
                payload=to_json(payload),
                content_type="application/json",
                correlation_data=job.message.correlation_data,
                response_topic=job.message.response_topic,
            )
            hop = Job(
                message,
                self.router.forwarded(target_name, job.match.sensor),
                job.request_id,
                _no_ack,
                origin=origin,
            )
            self._enqueue(target, hop)

    def _publish_error(self, job: Job, exc: PayloadError) -> None:
        name = job.match.settings.pipeline
        self.stats.error(name, exc.reason.value)
        log.warning(
            "payload_rejected",
            reason=exc.reason.value,
            detail=exc.detail,
            topic=exc.topic,
            sensor=exc.sensor,
            size=exc.size,
            request_id=job.request_id,
            pipeline=name,
        )
        doc = error_document(
            reason=exc.reason.value,
            detail=exc.detail,
            device=self.settings.device_id,
            topic=exc.topic,
            sensor=exc.sensor,
            size=exc.size,
            request_id=job.request_id,
            route=job.match.route,
        )
        corr = job.message.correlation_data
        self._publish(self.topics.errors, doc, corr=corr)
        if job.message.response_topic:
            self._publish(job.message.response_topic, doc, corr=corr)

    def _done(self, job: Job, timings: Mapping[str, float], published: int) -> None:
        self.stats.processed(job.match.settings.pipeline, timings, published)

    # -- status and stats ------------------------------------------------------------------------

    def details(self) -> dict[str, Any]:
        """The retained status details document."""
        return {
            "schema": STATUS_SCHEMA,
            "state": "online" if not self.stop_event.is_set() else "offline",
            "device": self.settings.device_id,
            "version": __version__,
            "remote_broker_allowed": self.remote_broker,
            "pipelines": {
                name: {
                    "family": e.package.family,
                    "variant": e.pipeline.active_variant,
                    **({"unavailable": e.worker.unavailable} if e.worker.unavailable else {}),
                }
                for name, e in self._entries.items()
            },
            "sizing": self.sizing.snapshot() if self.sizing else None,
        }

    def _publish_details(self) -> None:
        self._publish(self.topics.status_details, self.details(), retain=True)

    def _on_online(self) -> None:  # [ops hook]
        self._publish_details()
        if self.operations is not None:
            self.operations.on_connected()

    def stats_document(self) -> dict[str, Any]:
        """The periodic stats document."""
        doc = self.stats.snapshot()
        doc["schema"] = "edge-agent/stats/1"
        doc["device"] = self.settings.device_id
        for name, entry in self._entries.items():
            p = doc["pipelines"].setdefault(name, {})
            p["inbox"] = {
                "waiting": len(entry.inbox),
                "capacity": entry.inbox.maxsize,
                "dropped": entry.inbox.dropped,
            }
            p["variant"] = entry.pipeline.active_variant
            p["family"] = entry.package.family
        doc["sizing"] = self.sizing.snapshot() if self.sizing else None
        doc["broker"] = {
            "connected": bool(self.transport and self.transport.connected),
            "reconnects": max(0, (self.transport.connects - 1) if self.transport else 0),
        }
        return doc

    def _stats_loop(self) -> None:
        interval = self.settings.stats.interval_s
        while not self.stop_event.wait(interval):
            doc = self.stats_document()
            self._publish(self.topics.stats, doc)
            if self.operations is not None:  # [ops hook] textfile, sensor expiry
                self.operations.after_stats(doc)
            self._check_stuck()

    def _check_stuck(self) -> None:
        now = time.monotonic()
        stuck = [
            n
            for n, e in self._entries.items()
            if e.worker.busy_since is not None and now - e.worker.busy_since > 60
        ]
        if stuck:
            log.error("worker_stuck", pipelines=stuck)
            self.healthy.clear()
        else:
            self.healthy.set()

    def publish_details_now(self) -> None:
        """Republish the retained status details (after a variant switch)."""
        if self.transport is not None and self.transport.connected:
            self._publish_details()

    # -- stop --------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ordered shutdown within ``shutdown_deadline_s``."""
        self.notifier.notify("STOPPING=1")
        log.info("daemon_stopping", deadline_s=self.settings.shutdown_deadline_s)
        self._accepting.clear()
        deadline = time.monotonic() + self.settings.shutdown_deadline_s
        for entry in self._entries.values():
            entry.worker.stop(deadline)
            # A generation can run for many seconds: cut it short rather than wait; it
            # stays unacknowledged and is redelivered to the next session.
            entry.worker.cancel()
        for entry in self._entries.values():
            entry.worker.join(max(0.1, deadline - time.monotonic()))
        self.stop_event.set()
        if self.sizing is not None:
            self.sizing.stop()
        if self.operations is not None:  # [ops hook]
            self.operations.stop()
        if self.transport is not None:
            self._publish_details()
            self.transport.stop(offline=True)
        for entry in self._entries.values():
            entry.pipeline.unload()
        log.info("daemon_stopped")

    def run_until(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, then shut down in order."""
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()
