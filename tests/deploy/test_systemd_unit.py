"""The shipped unit and its drop-ins, rated by `systemd-analyze security --offline`.

Bounds (documented in systemd/README.md): the unit itself <= 1.0 ("SAFE"; 0.2 with
systemd 252), and every drop-in variant <= 1.0 as well (loopback TCP 1.0, the
accelerator drop-ins 0.4 with systemd 252).  A drop-in is rated by appending it
to the unit, which is how systemd applies drop-ins.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd/edge-agent.service"
DROPINS = sorted((REPO / "systemd/dropins").glob("*.conf"))
UNIT_BOUND = 1.0
DROPIN_BOUND = 1.0

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def exposure(unit_file: Path) -> float:
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout + out.stderr)
    assert match, out.stdout + out.stderr
    return float(match.group(1))


def merged(tmp_path: Path, dropin: Path) -> Path:
    target = tmp_path / "edge-agent.service"
    target.write_text(
        UNIT.read_text(encoding="utf-8") + "\n" + dropin.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return target


def test_unit_rates_safe() -> None:
    assert exposure(UNIT) <= UNIT_BOUND


def test_there_are_dropins_to_rate() -> None:
    assert {p.stem for p in DROPINS} >= {"loopback-tcp", "coral", "hailo", "jetson"}


@pytest.mark.parametrize("dropin", DROPINS, ids=lambda p: p.stem)
def test_dropin_stays_within_bound(tmp_path: Path, dropin: Path) -> None:
    assert exposure(merged(tmp_path, dropin)) <= DROPIN_BOUND


def test_unit_verifies_without_errors(tmp_path: Path) -> None:
    out = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # The ExecStart binary and mosquitto.service do not exist on a build machine;
    # anything else (unknown keys, bad values) is an error.
    problems = [
        line
        for line in out.stderr.splitlines()
        if line.strip()
        and "is not executable" not in line
        and "No such file or directory" not in line
        and "mosquitto.service" not in line
        and "/opt/edge-agent/venv/bin/edge-agent" not in line
    ]
    assert problems == []


def test_unit_has_no_ip_by_default() -> None:
    text = UNIT.read_text(encoding="utf-8")
    for line in ("PrivateNetwork=yes", "IPAddressDeny=any", "RestrictAddressFamilies=AF_UNIX"):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line


def test_loopback_dropin_allows_only_localhost() -> None:
    text = (REPO / "systemd/dropins/loopback-tcp.conf").read_text(encoding="utf-8")
    allows = re.findall(r"^IPAddressAllow=(.*)$", text, re.MULTILINE)
    assert allows == ["localhost"]
