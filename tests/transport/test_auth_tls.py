"""Broker authentication and TLS, against a real mosquitto with a password file and a
TLS listener (certificates made by openssl for the test)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.broker import Broker, free_port, mosquitto_path
from support.client import TestClient
from support.daemon import DaemonProcess, toml_dump

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "face.jpg"
RESULT = "edge-agent/testdev/results/faces/cam1"
STATUS = "edge-agent/testdev/status"


def _certs(root: Path) -> None:
    (root / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    steps = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=edge-agent test CA",
        ],
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        [
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    ]
    for step in steps:
        subprocess.run(["openssl", *step], cwd=root, check=True, capture_output=True, timeout=60)


@dataclass
class SecuredBroker(Broker):
    """Plain anonymous listener (for the test client) plus a TLS + password listener."""

    tls_port: int = 0

    def write_conf(self) -> Path:
        conf = self.root / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    "user root",
                    "per_listener_settings true",
                    "persistence false",
                    f"log_dest file {self.log_path}",
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    f"listener 0 {self.socket_path}",
                    "allow_anonymous true",
                    f"listener {self.tls_port} 127.0.0.1",
                    "allow_anonymous false",
                    f"password_file {self.root / 'passwd'}",
                    f"cafile {self.root / 'ca.crt'}",
                    f"certfile {self.root / 'server.crt'}",
                    f"keyfile {self.root / 'server.key'}",
                    "",
                ]
            )
        )
        return conf


@pytest.fixture
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    if mosquitto_path() is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto and openssl")
    root = tmp_path_factory.mktemp("tls")
    _certs(root)
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(root / "passwd"), "edge", "s3cret-pw"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    broker = SecuredBroker(root, tls_port=free_port())
    broker.start()
    yield broker
    broker.stop()


def _daemon(tmp: Path, broker: SecuredBroker, password: str) -> DaemonProcess:
    (tmp / "pw").write_text(password + "\n")
    config = {
        "device_id": "testdev",
        "cache_dir": str(tmp / "cache"),
        "broker": {
            "url": f"mqtts://localhost:{broker.tls_port}",
            "username": "edge",
            "password_file": str(tmp / "pw"),
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 0.5,
            "tls": {"ca_file": str(broker.root / "ca.crt")},
        },
        "log": {"format": "json"},
        "pipelines": {
            "text": {"kind": "text", "enabled": False},
            "wakeword": {"kind": "wakeword", "enabled": False},
        },
    }
    path = tmp / "c.toml"
    path.write_text(toml_dump(config))
    daemon = DaemonProcess(path, tmp)
    daemon.start()
    return daemon


def test_tls_and_password_from_a_file(secured: SecuredBroker, tmp_path: Path) -> None:
    client = TestClient(secured.tcp_url)
    try:
        client.subscribe("edge-agent/#")
        daemon = _daemon(tmp_path, secured, "s3cret-pw")
        daemon.wait_online(client, STATUS)
        client.publish("sensors/cam1/image", FACE.read_bytes())
        assert client.on_topic(RESULT)[0].json()["result"]["count"] == 1
        code = daemon.terminate()
        assert code == 0, daemon.log()[-4000:]
        assert "s3cret-pw" not in daemon.log()
    finally:
        client.close()


def test_wrong_password_is_refused_and_logged(secured: SecuredBroker, tmp_path: Path) -> None:
    client = TestClient(secured.tcp_url)
    try:
        client.subscribe("edge-agent/#")
        daemon = _daemon(tmp_path, secured, "wrong")
        with pytest.raises(TimeoutError):
            daemon.wait_online(client, STATUS, timeout=5)
        daemon.terminate()
        assert "broker_refused" in daemon.log()
        assert "wrong" not in daemon.log().replace("wrong_", "")
    finally:
        client.close()
