"""The composition root: builds every part, starts them, and stops them in order.

Start: check the broker is local → load model packages → start workers and load
variants → connect (subscriptions, retained ``online``) → READY=1.
Stop: stop accepting (unacknowledged messages stay with the broker) → drain
inboxes until the deadline → publish ``offline`` → disconnect → exit 0.
"""

from __future__ import annotations

import collections
import hashlib
import os
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from edge_agent import __version__
from edge_agent.config.models import AgentSettings, PipelineSettings
from edge_agent.elastic.swapper import Swapper, unavailable_reason
from edge_agent.errors import ConfigError, PayloadError
from edge_agent.health.notify import Notifier
from edge_agent.health.stats import Stats
from edge_agent.operations import Operations
from edge_agent.pipelines.base import Pipeline, RequestContext
from edge_agent.pipelines.factory import build_pipeline, validate_options
from edge_agent.results.publisher import Publisher
from edge_agent.results.schema import STATUS_SCHEMA, Topics, to_json
from edge_agent.runtime.allocator import tune_allocator
from edge_agent.runtime.manifest import ModelPackage
from edge_agent.transport.address import is_local, parse_broker_url
from edge_agent.transport.inbox import Inbox
from edge_agent.transport.job import Job, make_job
from edge_agent.transport.mqtt import InboundMessage, MqttTransport, read_password
from edge_agent.transport.redelivery import RedeliveryFilter
from edge_agent.transport.routing import Match, Router
from edge_agent.worker import Worker

__all__ = ["Daemon"]

log = structlog.get_logger("edge_agent.daemon")

_HOUSEKEEPING_S = 0.25  # drop reports, health
_SWITCH_INTERVAL_S = 0.0005
_RETAINED_MEMORY = 4096  # topics whose last answered retained message is remembered
_STAGE_DEPTH = 8  # messages a worker holds beyond its inbox (prefetch, in flight, finishing)
# mosquitto's count of messages it dropped (queue limits, for any client): the drops
# that happen before a message reaches the daemon's own drop policy.
SYS_DROPPED = "$SYS/broker/publish/messages/dropped"


def _no_ack() -> None:
    """Forwarded hops are in-process messages: nothing to acknowledge."""


@dataclass
class _Shard:
    pipeline: Pipeline
    inbox: Inbox[Job]
    worker: Worker


@dataclass
class _Entry:
    """One configured pipeline: its shards (each a pipeline instance, inbox and worker)."""

    name: str
    spec: PipelineSettings
    shards: list[_Shard]

    @property
    def pipeline(self) -> Pipeline:
        """The first shard's pipeline (every shard runs the same family and variant)."""
        return self.shards[0].pipeline

    @property
    def worker(self) -> Worker:
        """The first shard's worker."""
        return self.shards[0].worker

    @property
    def inbox(self) -> Inbox[Job]:
        """The first shard's inbox."""
        return self.shards[0].inbox

    @property
    def package(self) -> ModelPackage:
        """The family's model package."""
        return self.pipeline.package

    def shard_for(self, sensor: str) -> _Shard:
        """The shard for a message of ``sensor``.

        Pipelines with per-sensor state always send a sensor to the same shard
        (stable across restarts); stateless ones use the shard with the fewest
        messages waiting.
        """
        if len(self.shards) == 1:
            return self.shards[0]
        cls = type(self.pipeline)
        if cls.streaming or cls.sensor_affinity:
            return self.shards[zlib.crc32(sensor.encode()) % len(self.shards)]
        return min(self.shards, key=lambda s: len(s.inbox))


def _shard_count(spec: PipelineSettings, cls: type[Pipeline]) -> int:
    if spec.shards != "auto":
        return int(spec.shards)
    return max(1, min(4, os.cpu_count() or 1)) if cls.streaming else 1


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
        self._entries: dict[str, _Entry] = {}
        self._redeliveries = RedeliveryFilter()
        self._retained: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._retained_lock = threading.Lock()
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

    def _route_options(self, name: str, pipeline: Pipeline) -> dict[str, Any]:
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
        return route_options

    def _build(self) -> None:
        for name, spec in self.settings.pipelines.items():
            if not spec.enabled or not any(r.pipeline == name for r in self._routes.values()):
                continue
            first = build_pipeline(name, self.settings, spec)
            route_options = self._route_options(name, first)
            count = _shard_count(spec, type(first))
            pipelines = [first] + [
                build_pipeline(name, self.settings, spec) for _ in range(count - 1)
            ]
            unavailable = unavailable_reason(first.package)
            if unavailable is not None:
                log.warning(
                    "family_unavailable",
                    pipeline=name,
                    family=first.package.family,
                    reason=unavailable,
                )
            shards = []
            size = spec.inbox_size or type(first).default_inbox_size
            for i, pipeline in enumerate(pipelines):
                inbox: Inbox[Job] = Inbox(size)
                worker = Worker(
                    pipeline,
                    inbox,
                    limits=self.settings.limits,
                    route_options=route_options,
                    on_results=self._publish_results,
                    on_error=self._publish_error,
                    on_done=self._done,
                    on_partial=self.publisher.partial,
                    name=name if count == 1 else f"{name}.{i}",
                )
                worker.unavailable = unavailable
                shards.append(_Shard(pipeline, inbox, worker))
            self._entries[name] = _Entry(name, spec, shards)

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
        self._build()
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
        if match.settings.retained == "ignore":
            self.stats.retained_skipped += 1
            return True
        h = hashlib.blake2b(digest_size=16)
        for part in (msg.payload, msg.content_type or "", msg.correlation_data or b""):
            h.update(part if isinstance(part, bytes) else part.encode())
        digest = h.digest()
        with self._retained_lock:
            if self._retained.get(msg.topic) == digest:
                self.stats.retained_skipped += 1
                return True
            self._retained[msg.topic] = digest
            self._retained.move_to_end(msg.topic)
            while len(self._retained) > _RETAINED_MEMORY:
                self._retained.popitem(last=False)
        return False

    def _enqueue(self, entry: _Entry, job: Job) -> None:
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
            message = InboundMessage(
                topic=job.message.topic,
                payload=to_json(payload),
                content_type="application/json",
                correlation_data=job.message.correlation_data,
                response_topic=job.reply_to,
            )
            hop = make_job(
                message,
                self.router.forwarded(target_name, job.match.sensor),
                _no_ack,
                own_prefix=self.settings.topic_prefix,
                answer_topic=self.topics.partial(target.name, job.match.sensor),
                request_id=job.request_id,
                origin={
                    "pipeline": entry.name,
                    "route": job.match.route,
                    "topic": job.message.topic,
                },
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
            "pipelines": {
                name: {
                    "family": e.package.family,
                    "variant": e.pipeline.active_variant,
                    "shards": len(e.shards),
                    **({"unavailable": e.worker.unavailable} if e.worker.unavailable else {}),
                }
                for name, e in self._entries.items()
            },
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
        for name, entry in self._entries.items():
            p = doc["pipelines"].setdefault(name, {})
            p["inbox"] = {
                "waiting": sum(len(s.inbox) for s in entry.shards),
                "capacity": sum(s.inbox.maxsize for s in entry.shards),
                "dropped": sum(s.inbox.dropped for s in entry.shards),
            }
            p["variant"] = entry.pipeline.active_variant
            p["family"] = entry.package.family
            p["shards"] = len(entry.shards)
            p["worker_errors"] = sum(s.worker.errors for s in entry.shards)
        doc["sizing"] = self.sizing.snapshot() if self.sizing else None
        t = self.transport
        doc["broker"] = {
            "connected": bool(t and t.connected),
            "reconnects": max(0, (t.connects - 1) if t else 0),
            "outgoing": t.outgoing if t else 0,
            "published": t.published if t else 0,
            "publish_failures": self.publisher.failures,
            "backpressure_waits": t.backpressure_waits if t else 0,
            "backpressure_timeouts": t.backpressure_timeouts if t else 0,
            "receive_maximum": t.receive_maximum if t else None,
            "broker_dropped": self.broker_dropped,
        }
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
        now = time.monotonic()
        problems: dict[str, str] = {}
        for entry in self._entries.values():
            for shard in entry.shards:
                w = shard.worker
                if not w.alive and self._accepting.is_set():
                    problems[w.name] = "dead"
                elif w.busy_since is not None and now - w.busy_since > w.pipeline.max_busy_s:
                    problems[w.name] = f"stuck for {now - w.busy_since:.0f}s"
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
