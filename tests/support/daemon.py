"""Run the real daemon (``python -m edge_agent run``) as a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.client import TestClient

__all__ = ["DaemonProcess", "toml_dump"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else f'"{k}"'


def toml_dump(data: dict[str, Any], prefix: str = "") -> str:
    """Minimal TOML writer for test configs: non-empty dicts become tables."""
    scalars = {k: v for k, v in data.items() if not (isinstance(v, dict) and v)}
    tables = {k: v for k, v in data.items() if k not in scalars}
    out = "".join(f"{_key(k)} = {_toml_value(v)}\n" for k, v in scalars.items())
    for key, value in tables.items():
        name = f"{prefix}.{_key(key)}" if prefix else _key(key)
        out += f"\n[{name}]\n" + toml_dump(value, name)
    return out


class DaemonProcess:
    """The daemon under test.

    Args:
        config: Config file.
        root: Folder for its log.
        env: Extra environment.
    """

    def __init__(
        self,
        config: Path,
        root: Path,
        env: dict[str, str] | None = None,
        argv_prefix: list[str] | None = None,
    ) -> None:
        self.config = config
        self.log_path = root / f"daemon-{int(time.time() * 1000)}.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.argv_prefix = argv_prefix or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process."""
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.argv_prefix, sys.executable, "-m", "edge_agent", "run", "-c", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            # Its own process group: a wrapper (strace) and the daemon get signals together.
            start_new_session=True,
        )

    def wait_online(self, client: TestClient, status_topic: str, timeout: float = 60.0) -> None:
        """Wait for a retained/live ``online`` on the status topic published after start."""
        start = len(client.messages)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            if any(
                m.topic == status_topic and m.payload == b"online" for m in client.messages[start:]
            ):
                return
            time.sleep(0.05)
        raise TimeoutError(f"daemon not online:\n{self.log()}")

    def log(self) -> str:
        """Everything the daemon wrote."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM to the whole process group and wait; returns the exit code.

        The group matters under wrappers: strace detaches on SIGTERM and would leave
        the daemon running if only strace were signalled.
        """
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            code = self.proc.wait(5)
        self._reap_group(timeout)
        self._log.close()
        return code

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def _reap_group(self, timeout: float) -> None:
        """Wait until nothing of the group is left; SIGKILL what outlives ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)  # type: ignore[union-attr]
            except ProcessLookupError:
                return
            time.sleep(0.05)
        self._signal_group(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the process group (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(5)
