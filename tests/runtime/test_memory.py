"""Load memory measured the same way for every runtime."""

from __future__ import annotations

import numpy as np

from edge_agent.elastic.swapper import release_memory
from edge_agent.runtime.memory import measure_load


def test_measure_load_sees_kept_anonymous_memory_and_a_higher_peak() -> None:
    # Free heap left resident by earlier tests in this process would serve the
    # allocations below without any RSS growth: hand it back first.
    release_memory()
    with measure_load() as m:
        transient = np.ones(64 * 1024 * 1024 // 8)
        del transient
        kept = np.ones(16 * 1024 * 1024 // 8)
    assert 12 * 1024 * 1024 <= m.anonymous <= 24 * 1024 * 1024
    assert m.peak >= 48 * 1024 * 1024
    assert kept.sum() > 0


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
