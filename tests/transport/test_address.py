"""Broker addresses and the local-only rule."""

from __future__ import annotations

import pytest

from edge_agent.errors import ConfigError
from edge_agent.transport.address import is_local, parse_broker_url


@pytest.mark.parametrize(
    "url",
    ["unix:///run/mosquitto/x.sock", "mqtt://127.0.0.1:1883", "mqtt://localhost", "mqtt://[::1]:1"],
)
def test_local_addresses(url: str) -> None:
    assert is_local(parse_broker_url(url))


@pytest.mark.parametrize("url", ["mqtt://192.168.1.10:1883", "mqtts://8.8.8.8", "mqtt://10.0.0.1"])
def test_remote_addresses(url: str) -> None:
    assert not is_local(parse_broker_url(url))


def test_unresolvable_name_is_not_local() -> None:
    assert not is_local(parse_broker_url("mqtt://no-such-host.invalid:1883"))


def test_default_ports() -> None:
    assert parse_broker_url("mqtts://localhost").port == 8883
    assert parse_broker_url("mqtt://localhost").port == 1883


@pytest.mark.parametrize(
    "url", ["http://x", "unix://relative.sock", "mqtt://:1883", "mqtt://h:99999"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_broker_url(url)
