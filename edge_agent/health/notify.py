"""systemd notification (``sd_notify``) and the watchdog, without libsystemd."""

from __future__ import annotations

import os
import socket
import threading

import structlog

__all__ = ["Notifier"]

log = structlog.get_logger("edge_agent.health")


class Notifier:
    """Talks to systemd when ``$NOTIFY_SOCKET`` is set; does nothing otherwise.

    Args:
        environ: Environment to read ``NOTIFY_SOCKET``/``WATCHDOG_USEC`` from.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if environ is None else environ
        address = env.get("NOTIFY_SOCKET")
        self._address: str | None = None
        if address:
            # A leading '@' names a socket in the abstract namespace.
            self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        self.watchdog_s: float | None = None
        if usec and usec.isdigit() and (not pid or pid == str(os.getpid())):
            self.watchdog_s = int(usec) / 1_000_000
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return self._address is not None

    def notify(self, state: str) -> bool:
        """Send one state string (``READY=1``...); True when sent."""
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(state.encode())
        except OSError as exc:
            log.warning("sd_notify_failed", error=exc.strerror)
            return False
        return True

    def start_watchdog(self, healthy: threading.Event, stop: threading.Event) -> None:
        """Ping ``WATCHDOG=1`` at half the interval while ``healthy`` is set.

        Args:
            healthy: Cleared by the daemon when a worker is stuck, so systemd restarts us.
            stop: Ends the thread.
        """
        if self.watchdog_s is None or not self.enabled:
            return
        interval = self.watchdog_s / 2

        def run() -> None:
            while not stop.wait(interval):
                if healthy.is_set():
                    self.notify("WATCHDOG=1")

        self._thread = threading.Thread(target=run, name="watchdog", daemon=True)
        self._thread.start()
