"""Helpers for the deploy tests: install.sh runs into temporary roots."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy/install.sh"

DEBIAN_MOSQUITTO_CONF = """\
# As shipped by Debian 12's mosquitto package (paths moved into the test root).
pid_file {root}/run/mosquitto/mosquitto.pid
persistence true
persistence_location {root}/var/lib/mosquitto/
log_dest stderr
include_dir {root}/etc/mosquitto/conf.d
"""


@dataclass(frozen=True)
class Install:
    """An install.sh run into a temporary root."""

    root: Path
    group: str
    port: int

    @property
    def prefix(self) -> Path:
        return self.root / "opt/edge-agent"

    @property
    def etc(self) -> Path:
        return self.root / "etc/edge-agent"

    @property
    def mosq_etc(self) -> Path:
        return self.root / "etc/mosquitto/edge-agent"

    @property
    def mosquitto_conf(self) -> Path:
        return self.root / "etc/mosquitto/mosquitto.conf"

    @property
    def unit_dir(self) -> Path:
        return self.root / "etc/systemd/system"

    @property
    def run_dir(self) -> Path:
        return self.root / "run/mosquitto"

    @property
    def socket(self) -> Path:
        return self.run_dir / "edge-agent.sock"

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            "bash",
            str(INSTALL),
            "--root",
            str(self.root),
            "--skip-apt",
            "--socket-group",
            self.group,
            "--tcp-port",
            str(self.port),
            *args,
        ]
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env={**os.environ, **(env or {})},
        )


def needs_root_and_mosquitto() -> None:
    if os.geteuid() != 0:
        pytest.skip("install.sh tests run as root (they create a group and chown files)")
    for tool in ("mosquitto", "mosquitto_passwd", "mosquitto_pub", "mosquitto_sub"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} missing: apt-get install mosquitto mosquitto-clients")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_root() -> Path:
    # Under /tmp with 0755: mosquitto (after dropping to its user) and the
    # sandboxed test client must be able to traverse it.
    root = Path(tempfile.mkdtemp(prefix="ea-install-", dir="/tmp"))
    root.chmod(0o755)
    (root / "etc/mosquitto").mkdir(parents=True)
    (root / "etc/mosquitto/mosquitto.conf").write_text(
        DEBIAN_MOSQUITTO_CONF.format(root=root), encoding="utf-8"
    )
    # /run is a tmpfs on a real system; the broker keeps its persistence file there.
    (root / "run").mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(root / "run")],
        check=True,
        timeout=10,
    )
    return root


def remove_root(root: Path) -> None:
    """Undo :func:`make_root` (the tmpfs first)."""
    subprocess.run(
        ["umount", "-l", str(root / "run")], capture_output=True, check=False, timeout=10
    )
    shutil.rmtree(root, ignore_errors=True)
