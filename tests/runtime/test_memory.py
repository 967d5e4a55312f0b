"""Load memory measured the same way for every runtime."""

from __future__ import annotations

import mmap

import numpy as np

from edge_agent.elastic.swapper import release_memory
from edge_agent.runtime.memory import measure_load


def _anonymous(size: int) -> mmap.mmap:
    """``size`` bytes of anonymous memory, every page touched (resident).

    Straight from the kernel: a numpy allocation may reuse heap pages that are
    already resident (glibc raises its mmap threshold after a large free, e.g.
    an interpreter's arena in an earlier test), and then RSS does not grow.
    """
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    np.frombuffer(region, dtype=np.uint8)[:: mmap.PAGESIZE] = 1
    return region


def test_measure_load_sees_kept_anonymous_memory_and_a_higher_peak() -> None:
    # Free heap left resident by earlier tests in this process would serve the
    # allocations below without any RSS growth: hand it back first.
    release_memory()
    with measure_load() as m:
        transient = _anonymous(64 * 1024 * 1024)
        transient.close()
        kept = _anonymous(16 * 1024 * 1024)
    assert 12 * 1024 * 1024 <= m.anonymous <= 24 * 1024 * 1024
    assert m.peak >= 48 * 1024 * 1024
    assert kept[0] == 1


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
