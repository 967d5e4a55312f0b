"""edge_agent.deploy.sensors with the real mosquitto_passwd on temporary files."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from edge_agent.deploy.sensors import (
    BrokerFiles,
    SensorSetupError,
    add_sensor,
    reload_broker,
    remove_sensor,
    sensor_acl_block,
    validate_sensor_name,
)

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd missing (apt mosquitto)"
)


@pytest.fixture
def files(tmp_path: Path) -> BrokerFiles:
    acl = tmp_path / "acl"
    acl.write_text("# BEGIN edge-agent daemon\nuser edge-agent\n# END edge-agent daemon\n")
    return BrokerFiles(passwd_file=tmp_path / "passwd", acl_file=acl)


def users(files: BrokerFiles) -> list[str]:
    return [line.split(":")[0] for line in files.passwd_file.read_text().splitlines()]


def test_new_sensor_gets_a_password_and_acl(files: BrokerFiles) -> None:
    added = add_sensor("cam1", files)
    assert added.password is not None
    assert len(added.password) >= 24
    assert users(files) == ["cam1"]
    assert sensor_acl_block("cam1") in files.acl_file.read_text()


def test_acl_block_follows_the_topic_contract() -> None:
    assert sensor_acl_block("cam1", "ea").splitlines()[1:5] == [
        "user cam1",
        "topic write sensors/cam1/#",
        "topic read ea/+/results/+/cam1",
        "topic read ea/+/status",
    ]


def test_adding_twice_changes_nothing(files: BrokerFiles) -> None:
    add_sensor("cam1", files)
    passwd, acl = files.passwd_file.read_bytes(), files.acl_file.read_bytes()
    again = add_sensor("cam1", files)
    assert (again.password, again.changed) == (None, False)
    assert (files.passwd_file.read_bytes(), files.acl_file.read_bytes()) == (passwd, acl)


def test_rotate_sets_a_new_password(files: BrokerFiles) -> None:
    first = add_sensor("cam1", files)
    before = files.passwd_file.read_text()
    rotated = add_sensor("cam1", files, rotate=True)
    assert rotated.password not in (None, first.password)
    assert files.passwd_file.read_text() != before
    assert users(files) == ["cam1"]


def test_password_file_is_private(files: BrokerFiles, tmp_path: Path) -> None:
    out = tmp_path / "cam1.password"
    added = add_sensor("cam1", files, password_out=out)
    assert out.read_text().strip() == added.password
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert added.password_file == out


def test_broker_files_are_not_world_readable(files: BrokerFiles) -> None:
    add_sensor("cam1", files)
    for path in (files.passwd_file, files.acl_file):
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0


def test_changed_prefix_rewrites_the_block_once(files: BrokerFiles) -> None:
    add_sensor("cam1", files)
    changed = add_sensor("cam1", files, topic_prefix="other")
    text = files.acl_file.read_text()
    assert changed.acl_changed
    assert text.count("# BEGIN sensor cam1") == 1
    assert "topic read other/+/results/+/cam1" in text
    assert text.startswith("# BEGIN edge-agent daemon")


def test_sensors_do_not_disturb_each_other(files: BrokerFiles) -> None:
    add_sensor("cam1", files)
    add_sensor("cam2", files)
    assert remove_sensor("cam1", files)
    assert users(files) == ["cam2"]
    text = files.acl_file.read_text()
    assert "cam1" not in text
    assert sensor_acl_block("cam2") in text


def test_removing_an_unknown_sensor_changes_nothing(files: BrokerFiles) -> None:
    assert not remove_sensor("ghost", files)


@pytest.mark.parametrize("name", ["", "Cam1", "a/b", "a+b", "a#", "x:y", "-lead", "a" * 64])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(SensorSetupError) as info:
        validate_sensor_name(name)
    assert info.value.sensor == name


def test_the_daemon_user_cannot_be_a_sensor(files: BrokerFiles) -> None:
    with pytest.raises(SensorSetupError, match="daemon"):
        add_sensor("edge-agent", files)


def test_missing_tool_is_reported(files: BrokerFiles) -> None:
    with pytest.raises(SensorSetupError, match="not found") as info:
        add_sensor("cam1", files, tool="/nonexistent/mosquitto_passwd")
    assert info.value.path == files.passwd_file


def test_reload_without_a_running_broker(tmp_path: Path) -> None:
    assert not reload_broker(tmp_path / "mosquitto.pid")
