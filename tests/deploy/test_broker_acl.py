"""A real mosquitto started with the configuration install.sh generated.

Checks the ACL written by `edge-agent sensor add` logic (sensors.add_sensor): a
sensor publishes only its own input topics and reads only its own results; and
that a client set up like the unit (own user, the socket group, a user namespace,
no network) reaches the broker over the unix socket, and only with the group.
"""

from __future__ import annotations

import grp
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_support import Install

from edge_agent.deploy.accounts import add_client_account
from edge_agent.deploy.sensors import BrokerFiles, SensorSetupError, add_sensor, reload_broker
from edge_agent.privacy.unit_file import read_unit

SANDBOX_UID = 61234


@dataclass(frozen=True)
class RunningBroker:
    install: Install
    passwords: dict[str, str]

    def tcp(self, user: str | None) -> list[str]:
        creds = ["-u", user, "-P", self.passwords[user]] if user else []
        return ["-h", "127.0.0.1", "-p", str(self.install.port), *creds]

    def unix(self, user: str) -> list[str]:
        return ["--unix", str(self.install.socket), "-u", user, "-P", self.passwords[user]]


def mosquitto_binary() -> str:
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def drop_in_commands(install: Install, key: str) -> list[list[str]]:
    unit = read_unit(install.unit_dir / "mosquitto.service.d/edge-agent.conf", dropin_dirs=[])
    return [shlex.split(value.lstrip("+")) for value in unit.values("Service", key)]


def wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"mosquitto exited ({proc.returncode}): {out}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def broker(installed: Install) -> Iterator[RunningBroker]:
    files = BrokerFiles(installed.mosq_etc / "passwd", installed.mosq_etc / "acl")
    passwords = {"edge-agent": (installed.etc / "broker-password").read_text(encoding="utf-8")}
    for name in ("cam1", "cam2"):
        added = add_sensor(name, files)
        assert added.password is not None
        passwords[name] = added.password
    for name, role in (("ops", "control"), ("hass", "homeassistant")):
        account = add_client_account(name, files, role=role)  # type: ignore[arg-type]
        assert account.password is not None
        passwords[name] = account.password
    # What Debian's mosquitto.service and our drop-in do around the start.
    installed.run_dir.mkdir(parents=True, exist_ok=True)
    installed.run_dir.chmod(0o740)
    shutil.chown(installed.run_dir, user="mosquitto")
    for cmd in drop_in_commands(installed, "ExecStartPre"):
        subprocess.run(cmd, check=True, timeout=10)
    (installed.root / "var/lib/mosquitto").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [mosquitto_binary(), "-c", str(installed.mosquitto_conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(installed.socket, proc)
        yield RunningBroker(installed, passwords)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def subscribe(args: list[str], *topics: str, wait_s: int = 4) -> subprocess.Popen[str]:
    filters = [a for t in topics for a in ("-t", t)]
    proc = subprocess.Popen(
        ["mosquitto_sub", *args, *filters, "-v", "-C", "1", "-W", str(wait_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # let the subscription reach the broker
    return proc


def publish(args: list[str], topic: str, message: str) -> int:
    done = subprocess.run(
        ["mosquitto_pub", *args, "-q", "1", "-t", topic, "-m", message],
        capture_output=True,
        check=False,
        timeout=10,
    )
    return done.returncode


def received(proc: subprocess.Popen[str]) -> str:
    out, _err = proc.communicate(timeout=15)
    return out.strip()


def test_sensor_publishes_its_own_input(broker: RunningBroker) -> None:
    daemon = subscribe(broker.unix("edge-agent"), "sensors/#")
    assert publish(broker.tcp("cam1"), "sensors/cam1/image", "frame-1") == 0
    assert received(daemon) == "sensors/cam1/image frame-1"


def test_sensor_cannot_publish_as_another_sensor(broker: RunningBroker) -> None:
    daemon = subscribe(broker.unix("edge-agent"), "sensors/#")
    publish(broker.tcp("cam1"), "sensors/cam2/image", "forged")
    publish(broker.tcp("cam1"), "sensors/cam1/image", "genuine")
    assert received(daemon) == "sensors/cam1/image genuine"


def test_sensor_reads_only_its_own_results(broker: RunningBroker) -> None:
    cam2 = subscribe(
        broker.tcp("cam2"), "edge-agent/+/results/+/cam1", "edge-agent/+/results/+/cam2"
    )
    publish(broker.unix("edge-agent"), "edge-agent/pi/results/faces/cam1", "for-cam1")
    publish(broker.unix("edge-agent"), "edge-agent/pi/results/faces/cam2", "for-cam2")
    assert received(cam2) == "edge-agent/pi/results/faces/cam2 for-cam2"


def test_sensor_cannot_read_other_inputs(broker: RunningBroker) -> None:
    cam2 = subscribe(broker.tcp("cam2"), "sensors/#", wait_s=2)
    publish(broker.tcp("cam1"), "sensors/cam1/image", "private")
    assert received(cam2) == ""


def test_anonymous_client_is_refused(broker: RunningBroker) -> None:
    assert publish(broker.tcp(None), "sensors/anon/image", "x") != 0


def test_wrong_password_is_refused(broker: RunningBroker) -> None:
    args = ["-h", "127.0.0.1", "-p", str(broker.install.port), "-u", "cam1", "-P", "wrong"]
    assert publish(args, "sensors/cam1/image", "x") != 0


def test_sensor_added_while_running_works_after_reload(broker: RunningBroker) -> None:
    files = BrokerFiles(broker.install.mosq_etc / "passwd", broker.install.mosq_etc / "acl")
    added = add_sensor("cam3", files)
    assert added.password is not None
    assert reload_broker(broker.install.run_dir / "mosquitto.pid")
    time.sleep(0.5)
    daemon = subscribe(broker.unix("edge-agent"), "sensors/#")
    args = ["-h", "127.0.0.1", "-p", str(broker.install.port), "-u", "cam3", "-P", added.password]
    assert publish(args, "sensors/cam3/audio", "chunk") == 0
    assert received(daemon) == "sensors/cam3/audio chunk"


def non_loopback_ipv4() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            address = str(s.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_tcp_listener_is_loopback_only(broker: RunningBroker) -> None:
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, broker.install.port), 2).close()


def sandboxed(broker: RunningBroker, *, with_group: bool) -> subprocess.CompletedProcess[str]:
    """mosquitto_pub as the unit runs: own uid, the group, user and network namespaces."""
    gid = grp.getgrnam(broker.install.group).gr_gid
    groups = ["--groups", str(gid)] if with_group else ["--clear-groups"]
    cmd = [
        "unshare",
        "--net",
        "setpriv",
        "--reuid",
        str(SANDBOX_UID),
        "--regid",
        str(SANDBOX_UID),
        *groups,
        "unshare",
        "--user",
        "--map-current-user",
        "mosquitto_pub",
        *broker.unix("edge-agent"),
        "-t",
        "edge-agent/pi/status",
        "-m",
        "online",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=15)


def namespaces_available() -> bool:
    probe = subprocess.run(
        ["unshare", "--net", "--user", "--map-root-user", "true"],
        capture_output=True,
        check=False,
        timeout=10,
    )
    return probe.returncode == 0 and os.geteuid() == 0


def test_socket_belongs_to_the_group(broker: RunningBroker) -> None:
    gid = grp.getgrnam(broker.install.group).gr_gid
    st = broker.install.socket.stat()
    assert (st.st_gid, st.st_mode & 0o060) == (gid, 0o060)


def test_isolated_client_in_the_group_reaches_the_socket(broker: RunningBroker) -> None:
    if not namespaces_available():
        pytest.skip("user/network namespaces are not available here")
    result = sandboxed(broker, with_group=True)
    assert result.returncode == 0, result.stderr


def test_isolated_client_without_the_group_is_refused(broker: RunningBroker) -> None:
    if not namespaces_available():
        pytest.skip("user/network namespaces are not available here")
    result = sandboxed(broker, with_group=False)
    assert result.returncode != 0


# -- the control API and Home Assistant: who may use which topics --------------------------


def publish_v5(args: list[str], topic: str, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mosquitto_pub", *args, "-V", "mqttv5", "-q", "1", "-t", topic, "-m", message],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )


def test_sensor_request_is_refused_by_the_broker(broker: RunningBroker) -> None:
    daemon = subscribe(broker.unix("edge-agent"), "edge-agent/+/request/#")
    refused = publish_v5(broker.tcp("cam1"), "edge-agent/pi/request/health", "{}")
    assert publish(broker.tcp("ops"), "edge-agent/pi/request/stats", "{}") == 0
    # The daemon sees only the control account's request, never the sensor's.
    assert received(daemon) == "edge-agent/pi/request/stats {}"
    # MQTT 5: mosquitto answers the sensor's PUBLISH with "not authorized".
    assert "not authorized" in (refused.stdout + refused.stderr).lower()


def test_sensor_add_grants_no_request_topic(broker: RunningBroker) -> None:
    acl = (broker.install.mosq_etc / "acl").read_text()
    cam1 = acl[acl.index("# BEGIN sensor cam1") : acl.index("# END sensor cam1")]
    assert "request" not in cam1
    assert "topic write edge-agent/+/request/#" in acl  # the control account's line


def test_control_account_reads_responses_but_no_sensor_input(broker: RunningBroker) -> None:
    ops = subscribe(broker.tcp("ops"), "edge-agent/+/response/#", "sensors/#")
    publish(broker.tcp("cam1"), "sensors/cam1/image", "private")
    publish(broker.unix("edge-agent"), "edge-agent/pi/response/health", "ok")
    assert received(ops) == "edge-agent/pi/response/health ok"


def test_one_broker_user_has_one_role(broker: RunningBroker) -> None:
    files = BrokerFiles(broker.install.mosq_etc / "passwd", broker.install.mosq_etc / "acl")
    with pytest.raises(SensorSetupError, match="already a sensor"):
        add_client_account("cam1", files, role="control")
    with pytest.raises(SensorSetupError, match="already a control"):
        add_sensor("ops", files)


def test_daemon_and_home_assistant_share_discovery_topics(broker: RunningBroker) -> None:
    config = "homeassistant/sensor/edge-agent_pi/faces__door__faces/config"
    hass = subscribe(broker.tcp("hass"), "homeassistant/sensor/#")
    publish(broker.unix("edge-agent"), config, "{}")
    assert received(hass) == f"{config} {{}}"
    daemon = subscribe(broker.unix("edge-agent"), "homeassistant/status")
    assert publish(broker.tcp("hass"), "homeassistant/status", "online") == 0
    assert received(daemon) == "homeassistant/status online"
