"""``make run``: a private broker, the daemon with the shipped families, a demo publisher.

The broker is mosquitto when installed (unix socket + loopback port, in a temp
folder), else amqtt (pure Python, MQTT 3.1.1 only, loopback only) so a fresh
machine with nothing else installed still shows the daemon at work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.config.loader import load_config
from edge_agent.config.models import default_models_dir
from edge_agent.console.summary import summary_line
from edge_agent.errors import TransportError

__all__ = ["run_demo"]

SAMPLE_SENSOR = "demo"


@dataclass(frozen=True)
class PrivateBroker:
    """A broker started for the demo."""

    url: str
    protocol: str
    name: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _mosquitto(binary: str, root: Path) -> Iterator[PrivateBroker]:
    sock = root / "mqtt.sock"
    conf = root / "mosquitto.conf"
    port = _free_port()
    conf.write_text(
        "per_listener_settings false\nallow_anonymous true\npersistence false\n"
        f"log_dest none\nlistener {port} 127.0.0.1\nlistener 0 {sock}\n"
        + ("user root\n" if Path("/proc/self").owner() == "root" else "")
    )
    proc = subprocess.Popen(  # noqa: S603 - our own binary and config file
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            if sock.exists():
                break
            if proc.poll() is not None:
                raise TransportError("mosquitto exited at start")
            time.sleep(0.05)
        yield PrivateBroker(f"unix://{sock}", "5", f"mosquitto (unix socket {sock})")
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def _amqtt() -> Iterator[PrivateBroker]:
    try:
        from amqtt.broker import Broker
    except ImportError as exc:
        raise TransportError(
            "no broker: install mosquitto (apt-get install mosquitto) or pip install amqtt"
        ) from exc
    # amqtt logs its own task cancellations at shutdown as tracebacks: not ours to show.
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    port = _free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        # No packet logger: it would write payloads to the log.
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    broker = Broker(config, loop=loop)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(broker.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="amqtt", daemon=True)
    thread.start()
    if not ready.wait(15):
        raise TransportError("amqtt did not start")
    try:
        yield PrivateBroker(f"mqtt://127.0.0.1:{port}", "3.1.1", "amqtt (embedded, MQTT 3.1.1)")
    finally:
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def private_broker(
    root: Path, *, embedded: bool = False
) -> contextlib.AbstractContextManager[PrivateBroker]:
    """Mosquitto when installed (unless ``embedded``), else the embedded amqtt broker."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    return _mosquitto(binary, root) if binary and not embedded else _amqtt()


def _samples(models_dir: Path) -> list[tuple[str, str, bytes]]:
    """``(input kind, content type, payload)`` for each bundled sample."""
    root = models_dir / "samples"
    out: list[tuple[str, str, bytes]] = []
    for path in sorted(root.glob("*.jpg")):
        out.append(("image", "image/jpeg", path.read_bytes()))
    if (models_dir / "objects" / "manifest.toml").exists():
        # The same camera frames go to the objects pipeline too (its own route).
        out += [("snapshot", "image/jpeg", p.read_bytes()) for p in sorted(root.glob("*.jpg"))]
    texts = root / "texts.txt"
    if texts.exists():
        out += [
            ("text", "text/plain; charset=utf-8", line.encode())
            for line in texts.read_text().splitlines()
            if line.strip()
        ]
    for path in sorted(root.glob("*.wav")):
        out.append(("audio", "audio/wav", path.read_bytes()))
    return out


def _variants(details: Mapping[str, Any]) -> str:
    """``faces runs full-float, text runs xl`` from the status details, for a person."""
    parts = []
    for name, p in details.get("pipelines", {}).items():
        if p.get("unavailable"):
            parts.append(f"{name} unavailable ({p['unavailable']})")
        else:
            parts.append(f"{name} runs {p.get('variant') or 'nothing yet'}")
    return ", ".join(parts) or "no pipelines"


def _generate_status(models_dir: Path) -> str | None:
    """One line on the generate family, which the demo does not run: how to get it going."""
    import importlib.util

    from edge_agent.errors import ModelError
    from edge_agent.runtime.manifest import load_package

    try:
        package = load_package(models_dir / "generate")
    except ModelError:
        return None
    steps = []
    if importlib.util.find_spec("litert_lm") is None:
        steps.append("pip install 'edge-agent[generate]'")
    if not package.available_variants():
        steps.append(f"build it: {package.manifest.source.build_command} (or make models)")
    if steps:
        return "generate (on-device LLM): not in this demo; to use it " + ", then ".join(steps)
    return "generate (on-device LLM): built; enable it with a [pipelines.generate] route"


def run_demo(
    files: Sequence[Path],
    *,
    device: str | None,
    flags: Mapping[str, str],
    rounds: int = 0,
    embedded_broker: bool = False,
) -> int:
    """Run the demo until Ctrl-C (or ``rounds`` publish rounds). Returns the exit status."""
    from edge_agent.daemon import Daemon
    from edge_agent.logs import configure_logging

    with (
        tempfile.TemporaryDirectory(prefix="edge-agent-demo-") as tmp,
        private_broker(Path(tmp), embedded=embedded_broker) as broker,
    ):
        root = Path(tmp)
        base = {
            "broker.url": broker.url,
            "broker.protocol": broker.protocol,
            "cache_dir": str(root / "cache"),
            "stats.interval_s": "60",
            "log.level": "warning",
        }
        models_dir = default_models_dir()
        for kind in ("faces", "text", "wakeword"):
            if not (models_dir / kind / "manifest.toml").exists():
                base[f"pipelines.{kind}.enabled"] = "false"
        if (models_dir / "objects" / "manifest.toml").exists():
            # Not a default pipeline: the demo adds it with its own snapshot route.
            base["pipelines.objects.kind"] = "objects"
            base["routes.snapshots.topic"] = "sensors/+/snapshot"
            base["routes.snapshots.pipeline"] = "objects"
        base.update(flags)
        config = load_config(files, device_id=device or "demo-device", flags=base)
        settings = config.settings
        configure_logging(settings.log.level, settings.log.format, capture_native=True)
        print(f"broker: {broker.name}")
        daemon = Daemon(settings)
        daemon.start()
        print(f"daemon: device {settings.device_id}, {_variants(daemon.details())}")
        hint = _generate_status(models_dir)
        if hint:
            print(hint)
        try:
            return _publish_loop(
                broker,
                settings.topic_prefix,
                settings.device_id,
                _samples(settings.models_dir),
                rounds,
            )
        except KeyboardInterrupt:
            return 0
        finally:
            daemon.stop()
            print("stopped")


def _publish_loop(
    broker: PrivateBroker,
    prefix: str,
    device: str,
    samples: list[tuple[str, str, bytes]],
    rounds: int,
) -> int:
    v5 = broker.protocol == "5"
    unix = broker.url.startswith("unix://")
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="edge-agent-demo-publisher",
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        transport="unix" if unix else "tcp",
    )
    answered = threading.Semaphore(0)

    def on_message(c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        print("  " + summary_line(json.loads(msg.payload)))
        answered.release()

    client.on_message = on_message
    if unix:
        client.connect(broker.url[len("unix://") :])
    else:
        host, port = broker.url[len("mqtt://") :].rsplit(":", 1)
        client.connect(host, int(port))
    client.loop_start()
    client.subscribe([(f"{prefix}/{device}/results/#", 1), (f"{prefix}/{device}/errors", 1)])
    time.sleep(0.3)
    n = 0
    try:
        while rounds == 0 or n < rounds:
            n += 1
            print(f"round {n}: publishing {len(samples)} samples (Ctrl-C stops)")
            for kind, content_type, payload in samples:
                props = None
                if v5:
                    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                    props.ContentType = content_type
                topic = f"sensors/{SAMPLE_SENSOR}-{kind}/{kind}"
                client.publish(topic, payload, qos=1, properties=props).wait_for_publish(10)
                print(f"  sent    {topic} ({len(payload)} bytes)")
                answered.acquire(timeout=10 if kind != "audio" else 3)
            time.sleep(3)
    finally:
        client.disconnect()
        client.loop_stop()
    return 0
