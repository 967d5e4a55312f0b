"""The composition root: builds every part, starts them, and stops them in order.

Start: check the broker is local → load model packages → start workers and load
variants → connect (subscriptions, retained ``online``) → READY=1.
Stop: stop accepting (unacknowledged messages stay with the broker) → drain
inboxes until the deadline → publish ``offline`` → disconnect → exit 0.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import structlog

from edge_agent import __version__
from edge_agent.config.models import AgentSettings
from edge_agent.elastic.swapper import Swapper
from edge_agent.errors import ConfigError, PayloadError
from edge_agent.health.notify import Notifier
from edge_agent.health.reports import (
    broker_stats,
    pipeline_details,
    pipeline_stats,
    worker_problems,
)
from edge_agent.health.stats import Stats
from edge_agent.operations import Operations
from edge_agent.pipelines.base import RequestContext
from edge_agent.results.publisher import Publisher
from edge_agent.results.schema import STATUS_SCHEMA, Topics, to_json
from edge_agent.runtime.allocator import tune_allocator
from edge_agent.shards import Entry, build_entries
from edge_agent.transport.address import is_local, parse_broker_url
from edge_agent.transport.connection import read_password
from edge_agent.transport.job import Job, forward_job, make_job
from edge_agent.transport.message import InboundMessage
from edge_agent.transport.mqtt import MqttTransport
from edge_agent.transport.redelivery import RedeliveryFilter
from edge_agent.transport.retained import RetainedMemory
from edge_agent.transport.routing import Match, Router

__all__ = ["Daemon"]

log = structlog.get_logger("edge_agent.daemon")

_HOUSEKEEPING_S = 0.25  # drop reports, health
_SWITCH_INTERVAL_S = 0.0005
_RETAINED_MEMORY = 4096  # topics whose last answered retained message is remembered
_STAGE_DEPTH = 8  # messages a worker holds beyond its inbox (prefetch, in flight, finishing)
# mosquitto's count of messages it dropped (queue limits, for any client): the drops
# that happen before a message reaches the daemon's own drop policy.
SYS_DROPPED = "$SYS/broker/publish/messages/dropped"


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
        reload_source: Callable[[], AgentSettings] | None = None,
    ) -> None:
        self.settings = settings
        self.reload_source = reload_source  # the control API's `reload`
        self.operations: Operations | None = None
        self.topics = Topics(settings.topic_prefix, settings.device_id)
        self.notifier = notifier or Notifier()
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.healthy = threading.Event()
        self._accepting = threading.Event()
        self._entries: dict[str, Entry] = {}
        self._redeliveries = RedeliveryFilter()
        self._retained = RetainedMemory(_RETAINED_MEMORY)
        self.remote_broker = False
        self.transport: MqttTransport | None = None
        self.sizing: Swapper | None = None
        self.publisher = Publisher(
            self.topics,
            settings.device_id,
            qos=settings.broker.qos,
            drop_report_s=settings.stats.drop_report_s,
        )
        self.unhealthy: dict[str, str] = {}
        self.broker_dropped: int | None = None
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

    def _answering(self) -> AbstractContextManager[None]:
        """Where a worker answers and acknowledges a message (one write to the broker)."""
        if self.transport is None:
            return contextlib.nullcontext()
        return self.transport.answering()

    def _receive_maximum(self) -> int:
        """Unacknowledged messages the broker may send us: every inbox full, plus stages."""
        held = sum(
            shard.inbox.maxsize + _STAGE_DEPTH for e in self._entries.values() for shard in e.shards
        )
        return min(65535, held + 64)

    def start(self) -> None:
        """Build and start everything; returns once the daemon serves.

        Raises:
            ConfigError: Invalid settings (including a non-local broker).
            ModelError: A model package or variant cannot be loaded.
        """
        if self.settings.malloc_tuning:
            tune_allocator()
        # Threads hand messages to each other and the model thread comes back from
        # invoke() (which releases the GIL) wanting it at once; with the default 5 ms
        # switch interval it waits behind a busy decode thread for up to 5 ms.
        sys.setswitchinterval(_SWITCH_INTERVAL_S)
        self._check_broker()
        self._entries = build_entries(
            self.settings,
            self._routes,
            on_results=self._publish_results,
            on_error=self._publish_error,
            on_done=self._done,
            on_partial=self.publisher.partial,
            answering=self._answering,
        )
        workers = {s.worker.name: s.worker for e in self._entries.values() for s in e.shards}
        self.sizing = Swapper(self.settings, workers, on_change=self.publish_details_now)
        for worker in workers.values():
            worker.on_unloaded_message = self.sizing.message_arrived
            worker.start()
        self.sizing.initial_load()
        password = read_password(self.settings.broker)
        qos = self.settings.broker.qos
        subs: list[tuple[str, int, int]] = [
            (r.topic, r.qos if r.qos is not None else qos, 2 if r.retained == "ignore" else 1)
            for r in self._routes.values()
            if r.topic is not None
        ]
        subs.append((SYS_DROPPED, 0, 0))
        packages = {n: e.package for n, e in self._entries.items()}
        self.operations = Operations(self, packages)
        subs += self.operations.subscriptions  # control requests, HA birth and configs
        self.transport = MqttTransport(
            self.settings.broker,
            client_id=self.settings.broker.client_id or f"edge-agent-{self.settings.device_id}",
            status_topic=self.topics.status,
            subscriptions=subs,
            on_message=self._on_message,
            on_online=self._on_online,
            password=password,
            max_outgoing=self.settings.broker.max_outgoing,
            publish_wait_s=self.settings.broker.publish_wait_s,
            receive_maximum=self._receive_maximum(),
        )
        self.publisher.transport = self.transport
        self._accepting.set()
        self.operations.start()
        self.transport.start()
        self.sizing.start(self.stop_event)
        threading.Thread(target=self._stats_loop, name="stats", daemon=True).start()
        threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True).start()
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

    def _on_message(self, msg: InboundMessage, ack: Any) -> None:
        if not self._accepting.is_set():
            return  # not acknowledged: the broker keeps it for our next session
        if msg.topic == SYS_DROPPED:
            text = msg.payload.decode("ascii", "replace").strip()
            self.broker_dropped = int(text) if text.isdigit() else self.broker_dropped
            ack()
            return
        if self.operations is not None and self.operations.take(msg, ack):
            return
        match = self.router.match(msg.topic)
        if match is None:
            self.stats.unrouted += 1
            ack()
            return
        if self.operations is not None:  # a sensor's HA entities appear on first sight
            self.operations.sensor_seen(match.settings.pipeline, match.sensor)
        if msg.retain and self._retained_seen(msg, match):
            ack()
            return
        if msg.qos > 0 and self._redeliveries.is_redelivery(msg):
            log.info("duplicate_ignored", topic=msg.topic, size=len(msg.payload))
            ack()
            return
        entry = self._entries[match.settings.pipeline]
        job = make_job(
            msg,
            match,
            ack,
            own_prefix=self.settings.topic_prefix,
            answer_topic=self.topics.partial(entry.name, match.sensor),
        )
        self._enqueue(entry, job)

    def _retained_seen(self, msg: InboundMessage, match: Match) -> bool:
        """True for a retained message to skip: ``ignore`` routes, or ``once`` and answered."""
        if match.settings.retained == "ignore" or self._retained.seen(
            msg.topic, msg.payload, msg.content_type, msg.correlation_data
        ):
            self.stats.retained_skipped += 1
            return True
        return False

    def _enqueue(self, entry: Entry, job: Job) -> None:
        """Put a job in its shard's inbox; report and acknowledge the one dropped, if any."""
        shard = entry.shard_for(job.match.sensor)
        if self.sizing is not None:
            self.sizing.message_arrived(shard.worker)
        self.stats.received(entry.name)
        dropped = shard.inbox.put(job)
        if dropped is not None:
            self.stats.dropped(entry.name)
            self.stats.error(entry.name, "inbox_full")
            log.debug(
                "inbox_full_dropped_oldest",
                pipeline=entry.name,
                topic=dropped.message.topic,
                request_id=dropped.request_id,
            )
            self.publisher.dropped(dropped)
            dropped.ack()

    # -- publishing (finish threads) ------------------------------------------------------------

    def _publish_results(
        self, job: Job, ctx: RequestContext, results: list[dict[str, Any]], variant: str | None
    ) -> bool:
        entry = self._entries[job.match.settings.pipeline]
        manifest = entry.package.manifest
        model = {"family": manifest.family, "variant": variant, "task": manifest.task}
        if self.operations is not None:  # a count's HA entity before its value
            for state in ctx.outputs.states:
                self.operations.state_published(state.path)
        ok = self.publisher.results(job, ctx, results, pipeline=entry.name, model=model)
        self._forward(job, entry, results)
        log.debug(
            "message_answered",
            pipeline=entry.name,
            sensor=job.match.sensor,
            request_id=job.request_id,
            size=len(job.message.payload),
            results=len(results),
            variant=variant,
        )
        return ok

    def _forward(self, job: Job, entry: Entry, results: list[dict[str, Any]]) -> None:
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
            hop = forward_job(
                job,
                to_json(payload),
                self.router.forwarded(target_name, job.match.sensor),
                own_prefix=self.settings.topic_prefix,
                answer_topic=self.topics.partial(target.name, job.match.sensor),
                from_pipeline=entry.name,
            )
            self._enqueue(target, hop)

    def _publish_error(self, job: Job, exc: PayloadError) -> None:
        self.stats.error(job.match.settings.pipeline, exc.reason.value)
        self.publisher.error(job, exc)

    def _done(self, job: Job, timings: Mapping[str, float], published: int) -> None:
        self.stats.processed(job.match.settings.pipeline, timings, published)

    # -- status, stats, health ----------------------------------------------------------------

    def details(self) -> dict[str, Any]:
        """The retained status details document."""
        return {
            "schema": STATUS_SCHEMA,
            "state": "online" if not self.stop_event.is_set() else "offline",
            "device": self.settings.device_id,
            "version": __version__,
            "remote_broker_allowed": self.remote_broker,
            "healthy": not self.unhealthy,
            "unhealthy": dict(self.unhealthy),
            "pipelines": pipeline_details(self._entries.values()),
            "sizing": self.sizing.snapshot() if self.sizing else None,
        }

    def _publish_details(self) -> None:
        self.publisher.publish_doc(self.topics.status_details, self.details(), retain=True)

    def _on_online(self) -> None:
        self._publish_details()
        if self.operations is not None:
            self.operations.on_connected()

    def stats_document(self) -> dict[str, Any]:
        """The periodic stats document."""
        doc = self.stats.snapshot()
        doc["schema"] = "edge-agent/stats/1"
        doc["device"] = self.settings.device_id
        pipeline_stats(doc, self._entries.values())
        doc["sizing"] = self.sizing.snapshot() if self.sizing else None
        doc["broker"] = broker_stats(self.transport, self.publisher, self.broker_dropped)
        doc["healthy"] = not self.unhealthy
        return doc

    def _stats_loop(self) -> None:
        interval = self.settings.stats.interval_s
        while not self.stop_event.wait(interval):
            doc = self.stats_document()
            self.publisher.publish_doc(self.topics.stats, doc)
            if self.operations is not None:  # Prometheus textfile, sensor expiry
                self.operations.after_stats(doc)

    def _housekeeping(self) -> None:
        while not self.stop_event.wait(_HOUSEKEEPING_S):
            try:
                self.publisher.flush_drops()
                self.check_health()
            except Exception:  # the loop's one catch-all: health checks must go on
                log.exception("housekeeping_failed")

    def check_health(self) -> dict[str, str]:
        """Mark the daemon unhealthy (watchdog stops, systemd restarts) on a dead or stuck worker.

        Returns:
            Worker name -> what is wrong with it (empty when healthy).
        """
        problems = worker_problems(
            self._entries.values(), serving=self._accepting.is_set(), now=time.monotonic()
        )
        if problems != self.unhealthy:
            if problems:
                log.error("worker_unhealthy", workers=problems)
            else:
                log.info("workers_healthy")
            self.unhealthy = problems
            self.publish_details_now()
        if problems:
            self.healthy.clear()
        else:
            self.healthy.set()
        return problems

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
        shards = [s for e in self._entries.values() for s in e.shards]
        for shard in shards:
            shard.worker.stop(deadline)
            # A generation can run for many seconds: cut it short rather than wait; it
            # stays unacknowledged and is redelivered to the next session.
            shard.worker.cancel()
        for shard in shards:
            shard.worker.join(max(0.1, deadline - time.monotonic()))
        self.publisher.flush_drops(force=True)
        self.stop_event.set()
        if self.sizing is not None:
            self.sizing.stop()
        if self.operations is not None:
            self.operations.stop()
        if self.transport is not None:
            self._publish_details()
            self.transport.stop(offline=True)
        for shard in shards:
            shard.pipeline.unload()
        log.info("daemon_stopped")

    def run_until(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, then shut down in order."""
        self.start()
        try:
            stop.wait()
        finally:
            self.stop()
