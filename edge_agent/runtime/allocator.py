"""glibc malloc tuning, once at start: keep the per-message buffers instead of re-faulting them.

glibc adapts its mmap threshold at run time: after the first large buffer is
freed it raises the threshold, and from then on large transient buffers (a
decoded frame, a letterboxed tensor) come from the heap, whose top is trimmed
back to the OS whenever more than 128 KiB is free at the end. The next message
faults the same pages in again: ~710 minor page faults per camera image on the
worker thread (a hand-written script without threads: 59), ~2 ms of its 5 ms
decode. Fixing the thresholds keeps those pages mapped between messages, and
limiting the arenas keeps the stage threads from each holding their own.
Memory is still handed back explicitly after a model swap
(:func:`edge_agent.elastic.swapper.release_memory`), where it matters.
"""

from __future__ import annotations

import ctypes

import structlog

__all__ = ["ALLOCATOR_SETTINGS", "tune_allocator"]

log = structlog.get_logger("edge_agent.runtime")

# mallopt parameter numbers from <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

ALLOCATOR_SETTINGS: dict[str, int] = {
    # Buffers below this come from the heap and are reused; larger ones (a 36 Mpx
    # frame decoded at full size) are mmapped and given back as soon as freed.
    "mmap_threshold": 16 << 20,
    # Free memory kept at the top of a heap before trimming.
    "trim_threshold": 32 << 20,
    "top_pad": 1 << 20,
    # Arenas for the whole process: stage threads share them instead of one each.
    "arena_max": 4,
}


def tune_allocator() -> bool:
    """Apply :data:`ALLOCATOR_SETTINGS` with ``mallopt``; False where glibc is absent."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    params = {
        "mmap_threshold": _M_MMAP_THRESHOLD,
        "trim_threshold": _M_TRIM_THRESHOLD,
        "top_pad": _M_TOP_PAD,
        "arena_max": _M_ARENA_MAX,
    }
    ok = all(mallopt(params[name], value) == 1 for name, value in ALLOCATOR_SETTINGS.items())
    log.debug("allocator_tuned", ok=ok, **ALLOCATOR_SETTINGS)
    return ok
