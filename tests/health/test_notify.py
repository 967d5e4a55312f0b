"""systemd notification over a real datagram socket."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from support.daemon import DaemonProcess

from edge_agent.health.notify import Notifier


@pytest.fixture
def notify_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path_factory.mktemp("sd") / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    yield str(path), sock
    sock.close()


def _receive_until(sock: socket.socket, wanted: str) -> list[str]:
    got: list[str] = []
    while wanted not in "\n".join(got):
        got.append(sock.recv(4096).decode())
    return got


def test_notify_without_socket_does_nothing() -> None:
    assert Notifier({}).notify("READY=1") is False


def test_notify_sends_the_state(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    assert Notifier({"NOTIFY_SOCKET": path}).notify("READY=1")
    assert sock.recv(100) == b"READY=1"


def test_watchdog_pings_at_half_the_interval(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
    assert notifier.watchdog_s == pytest.approx(0.1)
    healthy, stop = threading.Event(), threading.Event()
    healthy.set()
    notifier.start_watchdog(healthy, stop)
    try:
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        stop.set()


def test_watchdog_for_another_pid_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(env).watchdog_s is None


def test_daemon_reports_ready_watchdog_and_stopping(
    start_daemon: Callable[..., DaemonProcess], notify_socket: tuple[str, socket.socket]
) -> None:
    path, sock = notify_socket
    daemon = start_daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    got = _receive_until(sock, "WATCHDOG=1")
    assert any(m.startswith("READY=1") for m in got)
    daemon.terminate()
    assert "STOPPING=1" in "\n".join(_receive_until(sock, "STOPPING=1"))
