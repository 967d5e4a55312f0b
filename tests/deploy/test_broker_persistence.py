"""The shipped mosquitto config keeps queued messages across a broker restart, in RAM only."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from deploy_support import Install
from test_broker_acl import drop_in_commands, mosquitto_binary, wait_for

from edge_agent.deploy.sensors import BrokerFiles, add_sensor


def _start(install: Install) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [mosquitto_binary(), "-c", str(install.mosquitto_conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    wait_for(install.socket, proc)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # SIGTERM: mosquitto saves its persistence file
    proc.wait(timeout=10)


@pytest.fixture
def run_dir(installed: Install) -> Path:
    installed.run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(installed.run_dir, user="mosquitto")
    for cmd in drop_in_commands(installed, "ExecStartPre"):
        subprocess.run(cmd, check=True, timeout=10)
    (installed.root / "var/lib/mosquitto").mkdir(parents=True, exist_ok=True)
    return installed.run_dir


def test_queued_message_survives_a_broker_restart_and_stays_off_the_disk(
    installed: Install, run_dir: Path
) -> None:
    files = BrokerFiles(installed.mosq_etc / "passwd", installed.mosq_etc / "acl")
    added = add_sensor("persist-cam", files)
    assert added.password is not None
    password = (installed.etc / "broker-password").read_text(encoding="utf-8")
    daemon = [
        "--unix",
        str(installed.socket),
        "-u",
        "edge-agent",
        "-P",
        password,
        "-i",
        "persist-daemon",
        "-V",
        "mqttv5",
        "-x",
        "3600",
        "-c",
    ]
    sensor = [
        "-h",
        "127.0.0.1",
        "-p",
        str(installed.port),
        "-u",
        "persist-cam",
        "-P",
        added.password,
    ]
    proc = _start(installed)
    try:
        # The daemon's persistent session exists, then it goes away.
        subprocess.run(
            ["mosquitto_sub", *daemon, "-q", "1", "-t", "sensors/#", "-W", "1"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        subprocess.run(
            [
                "mosquitto_pub",
                *sensor,
                "-q",
                "1",
                "-t",
                "sensors/persist-cam/text",
                "-m",
                "queued-while-away",
            ],
            check=True,
            timeout=10,
        )
    finally:
        _stop(proc)
    assert (run_dir / "mosquitto.db").is_file()
    assert not (installed.root / "var/lib/mosquitto/mosquitto.db").exists()
    proc = _start(installed)
    try:
        time.sleep(0.3)
        got = subprocess.run(
            ["mosquitto_sub", *daemon, "-q", "1", "-t", "sensors/#", "-C", "1", "-W", "5"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    finally:
        _stop(proc)
    assert got.stdout.strip() == "queued-while-away"
