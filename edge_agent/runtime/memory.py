"""Memory a model load takes, measured the same way for every runtime.

Anonymous and file-backed RSS are read before and after the load; the peak is
the process's high-water mark (``VmHWM``) over the load, after resetting it
through ``/proc/self/clear_refs`` (``5``, Linux >= 4.0) so an earlier peak does
not hide this one. Runtimes that unpack weights (CTranslate2, LiteRT-LM) peak
well above what they keep; sizing must leave room for the peak.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge_agent.health.stats import process_memory

__all__ = ["LoadMemory", "measure_load", "reset_peak"]


@dataclass(slots=True)
class LoadMemory:
    """What one load took (bytes; filled in when the ``with`` block ends).

    Attributes:
        anonymous: Growth of anonymous RSS.
        file: Growth of file-backed RSS.
        peak: Peak RSS during the load above RSS before it (0 when unknown).
    """

    anonymous: int = 0
    file: int = 0
    peak: int = 0


def reset_peak(clear_refs: Path = Path("/proc/self/clear_refs")) -> bool:
    """Reset the process's peak RSS (``VmHWM``); False where the kernel refuses."""
    try:
        clear_refs.write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def measure_load(
    read: Callable[[], dict[str, int]] = process_memory,
) -> Iterator[LoadMemory]:
    """Measure the memory the body of a ``with`` block takes.

    Yields:
        A :class:`LoadMemory` filled in on exit.
    """
    out = LoadMemory()
    peak_known = reset_peak()
    before = read()
    try:
        yield out
    finally:
        after = read()
        out.anonymous = after.get("rssanon", 0) - before.get("rssanon", 0)
        out.file = after.get("rssfile", 0) - before.get("rssfile", 0)
        if peak_known and "vmhwm" in after:
            out.peak = max(0, after["vmhwm"] - before.get("vmrss", after["vmhwm"]))
