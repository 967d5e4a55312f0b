"""deploy/install.sh into a temporary root, as root on this Debian machine."""

from __future__ import annotations

import grp
import hashlib
import subprocess
import tomllib
from pathlib import Path

import pytest
from deploy_support import DEBIAN_MOSQUITTO_CONF, REPO, Install

from edge_agent.privacy.check import run_privacy_check
from edge_agent.privacy.unit_file import read_unit


def tree(root: Path) -> dict[str, tuple[int, str, str]]:
    """Relative path -> (mode, owner:group, sha256 of files)."""
    out: dict[str, tuple[int, str, str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        owner = f"{st.st_uid}:{st.st_gid}"
        out[str(path.relative_to(root))] = (st.st_mode & 0o7777, owner, digest)
    return out


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if not p.is_dir()]


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_install_reports_no_systemd(installed: Install) -> None:
    # --root never touches systemctl; this machine has no running systemd either.
    out = installed.run("--skip-package").stdout
    assert "systemd is not running here" in out


def test_installed_files_and_modes(installed: Install) -> None:
    expected = {
        installed.unit_dir / "edge-agent.service": 0o644,
        installed.unit_dir / "edge-agent.service.d/memory.conf": 0o644,
        installed.unit_dir / "mosquitto.service.d/edge-agent.conf": 0o644,
        installed.root / "etc/mosquitto/conf.d/edge-agent.conf": 0o644,
        installed.mosq_etc: 0o750,
        installed.mosq_etc / "passwd": 0o640,
        installed.mosq_etc / "acl": 0o640,
        installed.etc / "config.toml": 0o644,
        installed.etc / "broker-password": 0o600,
        installed.prefix / "share/doc/systemd/README.md": 0o644,
    }
    assert {path: mode(path) for path in expected} == expected


def test_broker_files_belong_to_mosquitto(installed: Install) -> None:
    mosquitto_gid = grp.getgrnam("mosquitto").gr_gid
    assert installed.mosq_etc.stat().st_gid == mosquitto_gid
    assert (installed.mosq_etc / "passwd").stat().st_gid == mosquitto_gid


def test_socket_group_is_created(installed: Install) -> None:
    assert grp.getgrnam(installed.group).gr_name == installed.group


def test_shipped_models_are_copied(installed: Install) -> None:
    families = sorted(p.parent.name for p in (REPO / "models").glob("*/manifest.toml"))
    if not families:
        pytest.skip("no model family with a manifest.toml in models/ yet")
    copied = sorted(p.parent.name for p in (installed.prefix / "models").glob("*/manifest.toml"))
    assert copied == families


def test_unit_points_at_the_chosen_paths(installed: Install) -> None:
    unit = read_unit(installed.unit_dir / "edge-agent.service")
    exec_start = unit.get("Service", "ExecStart") or ""
    assert exec_start.startswith(f"{installed.prefix}/venv/bin/edge-agent run -c {installed.etc}")
    assert unit.get("Service", "LoadCredential") == (
        f"broker-password:{installed.etc}/broker-password"
    )
    assert unit.get("Service", "SupplementaryGroups") == installed.group
    assert unit.get("Service", "MemoryMax") == "50%"


def test_daemon_password_matches_the_broker_entry(installed: Install) -> None:
    password = (installed.etc / "broker-password").read_text(encoding="utf-8")
    assert len(password) >= 24
    entries = (installed.mosq_etc / "passwd").read_text(encoding="utf-8").splitlines()
    assert [line.split(":")[0] for line in entries] == ["edge-agent"]


def test_second_run_is_idempotent(installed: Install) -> None:
    before = tree(installed.root)
    result = installed.run("--skip-package")
    assert result.returncode == 0, result.stderr
    assert "install complete (0 change(s))" in result.stdout
    assert tree(installed.root) == before


def test_dry_run_on_an_installed_root_has_nothing_to_do(installed: Install) -> None:
    result = installed.run("--skip-package", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: 0 change(s) would be made" in result.stdout


def test_dry_run_changes_nothing(fresh_install_root: Install) -> None:
    before = tree(fresh_install_root.root)
    result = fresh_install_root.run("--skip-package", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would write" in result.stdout
    assert tree(fresh_install_root.root) == before
    with pytest.raises(KeyError):
        grp.getgrnam(fresh_install_root.group)


def test_existing_config_is_never_overwritten(fresh_install_root: Install) -> None:
    fresh_install_root.etc.mkdir(parents=True)
    (fresh_install_root.etc / "config.toml").write_text('device_id = "mine"\n', encoding="utf-8")
    assert fresh_install_root.run("--skip-package").returncode == 0
    text = (fresh_install_root.etc / "config.toml").read_text(encoding="utf-8")
    assert text == 'device_id = "mine"\n'
    assert (fresh_install_root.etc / "config.toml.dist").is_file()


def test_variant_dropins_follow_the_flags(fresh_install_root: Install) -> None:
    dropins = fresh_install_root.unit_dir / "edge-agent.service.d"
    fresh_install_root.run("--skip-package", "--variant", "coral")
    assert sorted(p.name for p in dropins.iterdir()) == ["coral.conf", "memory.conf"]
    fresh_install_root.run("--skip-package", "--variant", "loopback-tcp")
    assert sorted(p.name for p in dropins.iterdir()) == ["loopback-tcp.conf", "memory.conf"]


def test_unknown_variant_is_refused(fresh_install_root: Install) -> None:
    result = fresh_install_root.run("--skip-package", "--variant", "tpu9000")
    assert result.returncode != 0
    assert "unknown variant" in result.stderr


def test_uninstall_keeps_config_and_credentials(fresh_install_root: Install) -> None:
    fresh_install_root.run("--skip-package")
    result = fresh_install_root.run("--uninstall", "--skip-package")
    assert result.returncode == 0, result.stderr
    left = sorted(
        str(p.relative_to(fresh_install_root.root)) for p in files_in(fresh_install_root.root)
    )
    assert left == [
        "etc/edge-agent/broker-password",
        "etc/edge-agent/config.toml",
        "etc/edge-agent/config.toml.dist",
        "etc/mosquitto/edge-agent/acl",
        "etc/mosquitto/edge-agent/passwd",
        "etc/mosquitto/mosquitto.conf",
    ]
    # The persistence_location install.sh set aside is back as Debian shipped it.
    conf = (fresh_install_root.root / "etc/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    assert conf == DEBIAN_MOSQUITTO_CONF.format(root=fresh_install_root.root)


def test_install_moves_debians_persistence_location_aside(installed: Install) -> None:
    conf = installed.mosquitto_conf.read_text(encoding="utf-8")
    assert "\npersistence_location" not in conf
    assert "#edge-agent: moved to conf.d/edge-agent.conf (tmpfs): persistence_location" in conf


def test_uninstall_purge_removes_everything(fresh_install_root: Install) -> None:
    fresh_install_root.run("--skip-package")
    result = fresh_install_root.run("--uninstall", "--purge", "--skip-package")
    assert result.returncode == 0, result.stderr
    left = [str(p.relative_to(fresh_install_root.root)) for p in files_in(fresh_install_root.root)]
    assert left == ["etc/mosquitto/mosquitto.conf"]
    with pytest.raises(KeyError):
        grp.getgrnam(fresh_install_root.group)


def test_uninstall_leaves_a_foreign_prefix_alone(
    fresh_install_root: Install, tmp_path: Path
) -> None:
    foreign = fresh_install_root.root / "usr"
    (foreign / "bin").mkdir(parents=True)
    result = fresh_install_root.run("--uninstall", "--skip-package", "--prefix", str(foreign))
    assert result.returncode == 0
    assert "no install marker" in result.stdout
    assert (foreign / "bin").is_dir()


def test_default_install_passes_the_privacy_check(installed: Install) -> None:
    config = tomllib.loads((installed.etc / "config.toml").read_text(encoding="utf-8"))
    report = run_privacy_check(
        config,
        mosquitto_conf=installed.mosquitto_conf,
        unit_path=installed.unit_dir / "edge-agent.service",
        unit_dropin_dirs=[installed.unit_dir],
    )
    assert report.findings == ()


@pytest.mark.slow
def test_package_installs_into_a_venv(fresh_install_root: Install) -> None:
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("no pyproject.toml in the source tree yet")
    # --no-deps: the runtime wheels (LiteRT, numpy...) are not what is tested here.
    result = fresh_install_root.run(env={"EDGE_AGENT_PIP_ARGS": "--no-deps"})
    assert result.returncode == 0, result.stderr + result.stdout
    python = fresh_install_root.prefix / "venv/bin/python"
    assert (fresh_install_root.prefix / "venv/bin/edge-agent").is_file()
    version = subprocess.run(
        [str(python), "-c", "import edge_agent; print(edge_agent.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.strip()


def test_default_config_is_valid_for_the_daemon(installed: Install) -> None:
    loader = pytest.importorskip("edge_agent.config.loader")
    config = loader.load_config([installed.etc / "config.toml"], environ={}, hostname="pi")
    assert config.settings.broker.url == f"unix://{installed.socket}"
