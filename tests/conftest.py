"""Fixtures: a real mosquitto broker, a test MQTT client and the real daemon."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.broker import Broker, mosquitto_path
from support.client import TestClient
from support.config import daemon_config
from support.daemon import DaemonProcess, toml_dump

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A mosquitto broker on a temporary unix socket and loopback TCP port."""
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (.ci/run installs it)")
    # Unix socket paths are limited to ~107 bytes: keep the folder short.
    root = tmp_path_factory.mktemp("mq")
    b = Broker(root)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def mqtt(broker: Broker) -> Iterator[TestClient]:
    """A test client on the broker's TCP listener, subscribed to everything under edge-agent/."""
    client = TestClient(broker.tcp_url)
    client.subscribe("edge-agent/#")
    yield client
    client.close()


@pytest.fixture
def start_daemon(
    broker: Broker, mqtt: TestClient, tmp_path: Path
) -> Iterator[Callable[..., DaemonProcess]]:
    """Start the real daemon with a config built from keyword overrides; stopped at teardown."""
    started: list[DaemonProcess] = []

    def start(
        *,
        url: str | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
        argv_prefix: list[str] | None = None,
        **overrides: Any,
    ) -> DaemonProcess:
        config = daemon_config(url or broker.unix_url, tmp_path, **overrides)
        path = tmp_path / f"config-{len(started)}.toml"
        path.write_text(toml_dump(config))
        proc = DaemonProcess(path, tmp_path, env=env, argv_prefix=argv_prefix)
        started.append(proc)
        proc.start()
        if wait:
            proc.wait_online(mqtt, f"edge-agent/{config['device_id']}/status")
        return proc

    yield start
    for proc in started:
        proc.terminate()
