"""The Ansible rollout (deploy/ansible), run for real against localhost.

Safety: every path goes to a temporary root (edge_agent_root), install.sh gets
--skip-apt --skip-package, and the role never touches services when a root is set
(nor where systemd is not running, as here).  The only change outside the temp
root is a uniquely named socket group, removed afterwards.  The wait-for-online
task runs against a real mosquitto started from the generated configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_support import (
    REPO,
    Install,
    free_port,
    make_root,
    needs_root_and_mosquitto,
    remove_root,
)

ANSIBLE = Path(os.environ.get("EDGE_AGENT_ANSIBLE_VENV", "/work/venvs/ansible")) / "bin"
PLAYBOOK = REPO / "deploy/ansible/playbook.yml"
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    ".hypothesis",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "tests",
)


def ansible_playbook() -> str:
    beside = Path(sys.executable).parent / "ansible-playbook"  # the test venv (ansible-core)
    found = (
        shutil.which("ansible-playbook")
        or (str(beside) if beside.exists() else None)
        or (str(ANSIBLE / "ansible-playbook") if (ANSIBLE / "ansible-playbook").exists() else None)
    )
    if found is None:
        pytest.skip(
            "ansible-playbook is not installed (pip install ansible-core into "
            "/work/venvs/ansible, or set EDGE_AGENT_ANSIBLE_VENV)"
        )
    return found


def play(
    install: Install, source: Path, *args: str, **extra: object
) -> subprocess.CompletedProcess[str]:
    variables = {
        "edge_agent_hosts": "localhost",
        "edge_agent_root": str(install.root),
        "edge_agent_source": str(source),
        "edge_agent_install_args": [
            "--skip-apt",
            "--skip-package",
            "--tcp-port",
            str(install.port),
        ],
        "edge_agent_socket_group": install.group,
        "edge_agent_validate": False,
        "edge_agent_privacy_gate": False,
        "edge_agent_device_id": "cam-kitchen",
        "ansible_python_interpreter": shutil.which("python3") or "/usr/bin/python3",
        **extra,
    }
    return subprocess.run(
        [
            ansible_playbook(),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(PLAYBOOK),
            "-e",
            json.dumps(variables),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=PLAYBOOK.parent,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
    )


def recap(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    line = next(
        ln for ln in result.stdout.splitlines() if ln.startswith("localhost") and "ok=" in ln
    )
    return {k: int(v) for k, v in (item.split("=") for item in line.split(":", 1)[1].split())}


@pytest.fixture(scope="module")
def rollout() -> Iterator[tuple[Install, Path, subprocess.CompletedProcess[str]]]:
    needs_root_and_mosquitto()
    ansible_playbook()
    import uuid

    install = Install(make_root(), f"eatest-{uuid.uuid4().hex[:8]}", free_port())
    # A snapshot of the tree: other edits to the repo must not change the bundle.
    source = install.root / "source-snapshot"
    shutil.copytree(REPO, source, ignore=IGNORE)
    # What a developer's checkout also holds (`make models` leaves a 1.8 GB build venv).
    for junk in (".venv-build/lib/big.bin", ".venv/bin/python", ".hypothesis/examples/x"):
        (source / junk).parent.mkdir(parents=True, exist_ok=True)
        (source / junk).write_bytes(b"not for the device")
    first = play(install, source)
    yield install, source, first
    install.run("--uninstall", "--purge", "--skip-package")
    subprocess.run(["groupdel", install.group], capture_output=True, check=False)
    remove_root(install.root)


def test_syntax_check() -> None:
    result = subprocess.run(
        [ansible_playbook(), "-i", "localhost,", str(PLAYBOOK), "--syntax-check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=PLAYBOOK.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_first_run_installs_and_pushes_the_fleet(
    rollout: tuple[Install, Path, subprocess.CompletedProcess[str]],
) -> None:
    install, _source, first = rollout
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first)["failed"] == 0
    assert (install.etc / "fleet.toml").read_bytes() == (
        REPO / "deploy/fleet/example.toml"
    ).read_bytes()
    assert 'device_id = "cam-kitchen"' in (install.etc / "local.toml").read_text()
    dropin = (install.unit_dir / "edge-agent.service.d/fleet.conf").read_text()
    assert f"-c {install.etc}/fleet.toml -c {install.etc}/local.toml" in dropin
    assert (install.unit_dir / "edge-agent.service").is_file()


@pytest.mark.slow
def test_bundle_leaves_out_local_venvs_and_caches(
    rollout: tuple[Install, Path, subprocess.CompletedProcess[str]],
) -> None:
    install, _source, _first = rollout
    src = Path(f"{install.prefix}-src")
    assert (src / "deploy/install.sh").is_file()
    left = [name for name in (".venv-build", ".venv", ".hypothesis") if (src / name).exists()]
    assert left == []


@pytest.mark.slow
def test_second_run_changes_nothing(
    rollout: tuple[Install, Path, subprocess.CompletedProcess[str]],
) -> None:
    install, source, _first = rollout
    again = play(install, source)
    assert again.returncode == 0, again.stdout
    assert recap(again)["changed"] == 0, again.stdout


@pytest.mark.slow
def test_check_mode_changes_nothing(
    rollout: tuple[Install, Path, subprocess.CompletedProcess[str]],
) -> None:
    install, source, _first = rollout
    fleet = install.etc / "fleet.toml"
    fleet.write_text("# edited by hand\n")
    result = play(install, source, "--check", "--diff")
    assert result.returncode == 0, result.stdout
    assert recap(result)["changed"] >= 1  # it sees the edited fleet file...
    assert fleet.read_text() == "# edited by hand\n"  # ...and leaves it alone
    play(install, source)  # restore


@pytest.fixture
def mosquitto(rollout: tuple[Install, Path, subprocess.CompletedProcess[str]]) -> Iterator[Install]:
    install = rollout[0]
    install.run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(install.run_dir, user="mosquitto", group=install.group)
    install.run_dir.chmod(0o2750)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(install.mosquitto_conf)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not install.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield install
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.slow
def test_waits_for_the_retained_online_status(
    mosquitto: Install, rollout: tuple[Install, Path, subprocess.CompletedProcess[str]]
) -> None:
    password = (mosquitto.etc / "broker-password").read_text()
    subprocess.run(
        [
            "mosquitto_pub",
            "--unix",
            str(mosquitto.socket),
            "-u",
            "edge-agent",
            "-P",
            password,
            "-t",
            "edge-agent/cam-kitchen/status",
            "-m",
            "online",
            "-r",
            "-q",
            "1",
        ],
        check=True,
        timeout=10,
    )
    result = play(
        mosquitto,
        rollout[1],
        "--tags",
        "wait",
        edge_agent_wait_online=True,
        edge_agent_status_poll_s=2,
        edge_agent_online_timeout=4,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_wait_fails_when_the_device_never_comes_online(
    mosquitto: Install, rollout: tuple[Install, Path, subprocess.CompletedProcess[str]]
) -> None:
    result = play(
        mosquitto,
        rollout[1],
        "--tags",
        "wait",
        edge_agent_wait_online=True,
        edge_agent_device_id="cam-missing",
        edge_agent_status_poll_s=1,
        edge_agent_online_timeout=2,
    )
    assert result.returncode != 0
    assert "Wait for the retained status" in result.stdout
