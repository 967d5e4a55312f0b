"""Run a real Home Assistant against edge-agent's discovery and check the entities it makes.

    make ha-live     # = python scripts/homeassistant-live.py --hass .venv-ha/bin/hass

Starts a private mosquitto (loopback + unix socket), the edge-agent daemon with
faces, text and wakeword and ``homeassistant.enabled``, and Home Assistant (a
separate venv: ``pip install homeassistant==2024.3.3``, the last release for
Python 3.11) with its MQTT integration configured as a stored config entry, its
HTTP server on loopback, and ``mqtt_statestream`` so the states Home Assistant
derives come back over MQTT. Then it sends a face image, a text and a spoken wake
word, and checks what Home Assistant shows: the device, the entities, their states
and the event's type; at the end the entity registry Home Assistant stored.
Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.broker import Broker, free_port  # noqa: E402
from support.daemon import toml_dump  # noqa: E402

IMAGE = REPO / "tests/fixtures/images/face.jpg"
WAV = REPO / "tests/fixtures/wakeword/okay_nabu_flite_rms.wav"


def ha_config(root: Path, port: int) -> Path:
    """A Home Assistant config folder: loopback HTTP, statestream, an MQTT config entry."""
    conf = root / "ha"
    (conf / ".storage").mkdir(parents=True)
    (conf / "configuration.yaml").write_text(
        "homeassistant:\n  name: edge-agent live test\n  unit_system: metric\n"
        "  time_zone: UTC\n  latitude: 0\n  longitude: 0\n  elevation: 0\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {free_port()}\n"
        "mqtt_statestream:\n  base_topic: hastates\n  publish_attributes: true\n"
        "logger:\n  default: warning\n  logs:\n    homeassistant.components.mqtt: info\n"
    )
    entry = {
        "entry_id": uuid.uuid4().hex,
        "version": 1,
        "minor_version": 1,
        "domain": "mqtt",
        "title": "127.0.0.1",
        "data": {"broker": "127.0.0.1", "port": port, "discovery": True},
        "options": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
    }
    storage = {
        "version": 1,
        "minor_version": 1,
        "key": "core.config_entries",
        "data": {"entries": [entry]},
    }
    (conf / ".storage/core.config_entries").write_text(json.dumps(storage))
    return conf


class Watcher:
    """A client that keeps the last payload of every topic on the broker."""

    def __init__(self, port: int) -> None:
        self.messages: dict[str, bytes] = {}
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"watch-{uuid.uuid4().hex[:6]}",
        )
        self.client.on_message = lambda c, u, m: self.messages.__setitem__(m.topic, m.payload)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("#", 0)])
        self.client.loop_start()

    def wait(self, pred: Any, timeout: float, what: str) -> str:
        """The first topic whose last payload matches ``pred(topic, payload)``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for topic, payload in list(self.messages.items()):
                if pred(topic, payload):
                    return topic
            time.sleep(0.2)
        raise TimeoutError(what)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait for the acknowledgement."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)


def main() -> int:  # noqa: PLR0915 - one linear scenario reads best as one function
    """Run the scenario; 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hass", type=Path, default=REPO / ".venv-ha/bin/hass")
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ea-ha-") as tmp:
        root = Path(tmp)
        broker = Broker(root / "mq")
        broker.root.mkdir()
        broker.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            config = {
                "device_id": "kitchen-pi",
                "cache_dir": str(root / "cache"),
                "broker": {"url": broker.unix_url},
                "log": {"format": "json"},
                "stats": {"interval_s": 2.0},
                "homeassistant": {"enabled": True, "device_name": "Kitchen Pi"},
                "elastic": {"pinned": {"faces": "short-float", "text": "s"}},
            }
            (root / "edge-agent.toml").write_text(toml_dump(config))
            daemon_log = (root / "daemon.log").open("wb")
            procs.append(
                subprocess.Popen(  # noqa: S603 - this interpreter, our module
                    [
                        sys.executable,
                        "-m",
                        "edge_agent",
                        "run",
                        "-c",
                        str(root / "edge-agent.toml"),
                    ],
                    stdout=daemon_log,
                    stderr=subprocess.STDOUT,
                )
            )
            watch = Watcher(broker.port)
            watch.wait(
                lambda t, p: t == "edge-agent/kitchen-pi/status" and p == b"online",
                60,
                "daemon online",
            )
            conf = ha_config(root, broker.port)
            ha_log = (root / "ha.log").open("wb")
            started = time.monotonic()
            procs.append(
                subprocess.Popen(  # noqa: S603 - the hass binary named on our command line
                    [str(args.hass), "-c", str(conf)], stdout=ha_log, stderr=subprocess.STDOUT
                )
            )
            watch.wait(
                lambda t, p: t == "homeassistant/status" and p == b"online",
                args.timeout,
                "Home Assistant's birth message",
            )
            check(
                "home assistant started and sent its birth message",
                True,
                f"({time.monotonic() - started:.0f} s)",
            )
            time.sleep(5)  # discovery republished after the birth delay; entities set up
            inputs = [
                ("sensors/door/image", IMAGE.read_bytes()),
                ("sensors/kitchen/text", b"water is leaking under the sink"),
                ("sensors/mic/audio", WAV.read_bytes()),
            ]
            # A sensor's first message creates its entities; Home Assistant subscribes to
            # their topics a moment later, so the states come from the second round.
            for topic, payload in inputs:
                watch.publish(topic, payload)
            watch.wait(
                lambda t, p: t.startswith("hastates/event/") and "mic_wake_word" in t,
                60,
                "the wake word entity",
            )
            time.sleep(3)
            for topic, payload in inputs:
                watch.publish(topic, payload)
            states = {
                "binary_sensor door person present": (
                    "binary_sensor/",
                    "door_person_present/state",
                    b"on",
                ),
                "sensor door faces": ("sensor/", "door_faces/state", b"1"),
                "sensor kitchen label": ("sensor/", "kitchen_label/state", b"water_leak"),
                "event mic wake word": ("event/", "mic_wake_word/event_type", b'"okay_nabu"'),
                "diagnostic faces variant": ("sensor/", "faces_variant/state", b"short-float"),
            }
            for name, (domain, tail, value) in states.items():
                try:
                    topic = watch.wait(
                        lambda t, p, d=domain, s=tail, v=value: (
                            t.startswith(f"hastates/{d}") and t.endswith(s) and p == v
                        ),
                        60,
                        name,
                    )
                    check(f"state {name}", True, f"{topic} = {value.decode()}")
                except TimeoutError:
                    seen = sorted(t for t in watch.messages if t.startswith(f"hastates/{domain}"))
                    check(f"state {name}", False, f"not seen; hastates: {seen[:40]}")
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            broker.stop()
        registry_path = root / "ha/.storage/core.entity_registry"
        if registry_path.exists():
            entities = json.loads(registry_path.read_text())["data"]["entities"]
            ours = [
                e
                for e in entities
                if e["platform"] == "mqtt" and e["unique_id"].startswith("edge-agent_kitchen-pi_")
            ]
            check("entity registry holds edge-agent's entities", len(ours) >= 15, f"({len(ours)})")
            devices = json.loads((root / "ha/.storage/core.device_registry").read_text())
            dev = [
                d
                for d in devices["data"]["devices"]
                if ["mqtt", "edge-agent_kitchen-pi"] in d["identifiers"]
            ]
            check(
                "device registry holds the device",
                len(dev) == 1,
                f"{dev[0]['name']} sw {dev[0]['sw_version']}" if dev else "",
            )
        else:
            check("entity registry written", False, "no core.entity_registry")
        failed = [c for c in checks if not c[1]]
        if failed:
            print((root / "ha.log").read_text(errors="replace")[-4000:])
        print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
