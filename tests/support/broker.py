"""A real mosquitto broker on a temporary unix socket and loopback TCP port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Broker", "free_port", "mosquitto_path"]


def mosquitto_path() -> str | None:
    """The mosquitto binary, if installed."""
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A mosquitto process with persistence (sessions survive a restart).

    Attributes:
        root: Folder for config, socket, persistence and log.
        port: Loopback TCP port.
    """

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_conf: str = ""

    @property
    def socket_path(self) -> Path:
        """The unix socket."""
        return self.root / "mqtt.sock"

    @property
    def unix_url(self) -> str:
        """``unix://`` URL of the socket listener."""
        return f"unix://{self.socket_path}"

    @property
    def tcp_url(self) -> str:
        """``mqtt://`` URL of the TCP listener."""
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """mosquitto's log file."""
        return self.root / "mosquitto.log"

    def write_conf(self) -> Path:
        """Write mosquitto.conf."""
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        conf = self.root / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    "user root",
                    "per_listener_settings false",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.root / 'data'}/",
                    "autosave_interval 1",
                    "max_queued_messages 100000",
                    "message_size_limit 0",
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    f"listener {self.port} 127.0.0.1",
                    f"listener 0 {self.socket_path}",
                    self.extra_conf,
                    "",
                ]
            )
        )
        return conf

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and wait until both listeners accept."""
        binary = mosquitto_path()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        conf = self.write_conf()
        self.socket_path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_path.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(self.socket_path))
            except OSError:
                time.sleep(0.05)
            else:
                return
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM: it saves its persistence file)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same socket and port."""
        self.stop()
        self.start()
