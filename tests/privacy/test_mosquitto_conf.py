from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.errors import ConfigError
from edge_agent.privacy.mosquitto_conf import read_mosquitto_conf


def test_include_dir_is_followed(fixtures: Path) -> None:
    conf = read_mosquitto_conf(fixtures / "mosquitto/bridge/mosquitto.conf")
    assert [p.name for p in conf.files] == ["mosquitto.conf", "edge-agent.conf", "zz-cloud.conf"]


def test_files_not_ending_in_conf_are_skipped(fixtures: Path) -> None:
    conf = read_mosquitto_conf(fixtures / "mosquitto/clean/mosquitto.conf")
    assert all(p.suffix == ".conf" for p in conf.files)
    assert [listener.port for listener in conf.listeners] == [0, 1883]


def test_later_persistence_overrides_earlier(fixtures: Path) -> None:
    conf = read_mosquitto_conf(fixtures / "mosquitto/clean/mosquitto.conf")
    assert conf.persistence is not None
    assert conf.persistence.value == "false"
    assert conf.persistence.origin.endswith("edge-agent.conf:2")


def test_security_options_belong_to_their_listener(fixtures: Path) -> None:
    conf = read_mosquitto_conf(fixtures / "mosquitto/open/mosquitto.conf")
    socket, tcp = conf.listeners
    assert socket.is_unix_socket
    assert socket.allow_anonymous is False
    assert tcp.allow_anonymous is True
    assert tcp.address is None


def test_security_options_are_global_without_per_listener_settings(fixtures: Path) -> None:
    conf = read_mosquitto_conf(fixtures / "mosquitto/anon_global/mosquitto.conf")
    assert conf.allow_anonymous is not None
    assert conf.allow_anonymous.value == "true"
    assert all(listener.allow_anonymous is None for listener in conf.listeners)


def test_bridge_sections_are_collected(fixtures: Path) -> None:
    (bridge,) = read_mosquitto_conf(fixtures / "mosquitto/bridge/mosquitto.conf").bridges
    assert bridge.name == "cloud"
    assert bridge.addresses == ("broker.example.com:8883",)
    assert [(t.pattern, t.direction) for t in bridge.topics] == [("edge-agent/#", "out")]


def test_no_listener_means_the_implicit_loopback_listener(tmp_path: Path) -> None:
    main = tmp_path / "mosquitto.conf"
    main.write_text("persistence false\n", encoding="utf-8")
    (listener,) = read_mosquitto_conf(main).listeners
    assert listener.implicit
    assert listener.address == "127.0.0.1"


def test_deprecated_port_without_bind_address_is_all_interfaces(tmp_path: Path) -> None:
    main = tmp_path / "mosquitto.conf"
    main.write_text("port 1883\n", encoding="utf-8")
    (listener,) = read_mosquitto_conf(main).listeners
    assert listener.address is None


def test_missing_include_dir_names_file_and_line(tmp_path: Path) -> None:
    main = tmp_path / "mosquitto.conf"
    main.write_text("# comment\ninclude_dir /nonexistent/conf.d\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_mosquitto_conf(main)
    assert info.value.file == f"{main}:2"


def test_bad_boolean_is_an_error(tmp_path: Path) -> None:
    main = tmp_path / "mosquitto.conf"
    main.write_text("allow_anonymous yes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="true or false"):
        read_mosquitto_conf(main)
