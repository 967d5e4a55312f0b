"""deploy/config/every-family.toml: valid, and planned in priority order on small boards."""

from __future__ import annotations

import subprocess
import sys

from deploy_support import REPO

from edge_agent.config.loader import load_config

EXAMPLE = REPO / "deploy/config/every-family.toml"


def test_serves_all_six_families() -> None:
    settings = load_config([EXAMPLE], device_id="dev", environ={}).settings
    kinds = {p.kind for p in settings.pipelines.values() if p.enabled}
    assert kinds == {"faces", "text", "wakeword", "objects", "speech", "generate"}


def _plan(profile: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "plan", "-c", str(EXAMPLE), "--profile", profile],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return proc.stdout


def test_a_pi_zero_keeps_the_high_priority_families_and_says_what_comes_next() -> None:
    lines = {
        ln.split(" ", 1)[0]: ln for ln in _plan("pi-zero-2w").splitlines() if "(priority" in ln
    }
    for family in ("wakeword", "faces", "objects", "text"):
        assert "not loaded" not in lines[family], lines[family]
    assert "not loaded" in lines["generate"], lines["generate"]
