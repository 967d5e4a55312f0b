"""Load memory measured the same way for every runtime."""

from __future__ import annotations

import json
import subprocess
import sys

from edge_agent.runtime.memory import measure_load

_PROBE = """
import json, numpy as np
from edge_agent.runtime.memory import measure_load
with measure_load() as m:
    transient = np.ones(64 * 1024 * 1024 // 8)
    del transient
    kept = np.ones(16 * 1024 * 1024 // 8)
print(json.dumps({"anonymous": m.anonymous, "peak": m.peak, "kept": float(kept.sum())}))
"""


def test_measure_load_sees_kept_anonymous_memory_and_a_higher_peak() -> None:
    # A fresh process: in a long-lived one, freed heap from earlier work is reused and
    # RSS grows by less than what is allocated (true of the daemon too, which is why
    # sizing corrects needs from a family's first load).
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    m = json.loads(out.stdout)
    assert 12 * 1024 * 1024 <= m["anonymous"] <= 24 * 1024 * 1024
    assert m["peak"] >= 48 * 1024 * 1024


def test_measure_load_with_a_fake_reader_computes_deltas() -> None:
    readings = iter(
        [
            {"rssanon": 100, "rssfile": 10, "vmrss": 110},
            {"rssanon": 150, "rssfile": 40, "vmhwm": 400, "vmrss": 190},
        ]
    )
    with measure_load(lambda: next(readings)) as m:
        pass
    assert (m.anonymous, m.file) == (50, 30)
