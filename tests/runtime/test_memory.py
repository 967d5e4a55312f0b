"""Load memory measured the same way for every runtime."""

from __future__ import annotations

import gc
import mmap

from edge_agent.runtime.memory import measure_load


def _touched_map(size: int) -> mmap.mmap:
    """Fresh anonymous pages, written so they are resident.

    Own maps rather than numpy arrays: after earlier tests freed big arrays, glibc's
    raised mmap threshold serves a new array from heap pages that are already
    resident, and RSS would not grow at all (seen in full-suite runs).
    """
    # private: a shared anonymous map would count as shmem, not RssAnon
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for offset in range(0, size, mmap.PAGESIZE):
        area[offset] = 1
    return area


def test_measure_load_sees_kept_anonymous_memory_and_a_higher_peak() -> None:
    # what earlier tests left for the garbage collector must not be freed mid-measurement
    gc.collect()
    with measure_load() as m:
        transient = _touched_map(64 * 1024 * 1024)
        transient.close()
        kept = _touched_map(16 * 1024 * 1024)
    assert 12 * 1024 * 1024 <= m.anonymous <= 24 * 1024 * 1024
    assert m.peak >= 48 * 1024 * 1024
    assert kept[0] == 1
    kept.close()


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

