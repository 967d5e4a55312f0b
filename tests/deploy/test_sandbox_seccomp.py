"""LiteRT + XNNPACK under the unit's seccomp policy (no systemd needed).

The unit sets MemoryDenyWriteExecute=yes and SystemCallFilter=@system-service
~@privileged ~@resources with SystemCallErrorNumber=EPERM.  sandbox_probe.py
installs the same two filters with libseccomp (Debian's python3-seccomp) and
runs one inference on a shipped model; it must succeed, and a W+X mapping must
really be refused inside (or the probe would prove nothing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("sandbox_probe.py")
SECCOMP = sorted(Path("/usr/lib/python3/dist-packages").glob("seccomp.cpython-311*.so"))


def syscall_groups() -> dict[str, list[str]]:
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    groups: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        if not line.startswith(" "):
            current = item
            groups[current] = []
        else:
            groups[current].append(item)
    return groups


@pytest.fixture
def model() -> Path:
    models = sorted((REPO / "models").glob("*/*.tflite"))
    if not models:
        pytest.skip("no shipped .tflite under models/ yet")
    return models[0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.skipif(not SECCOMP, reason="python3-seccomp (Debian) is not installed")
@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="Debian's seccomp module is for 3.11")
def test_runtime_works_under_the_unit_seccomp_policy(tmp_path: Path, model: Path) -> None:
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps(syscall_groups()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(PROBE), str(groups), str(model)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["wx_refused"] is True
    assert report["outputs"] >= 1
    assert report["setaffinity"] == "EPERM"  # @resources is denied, and that is survivable
