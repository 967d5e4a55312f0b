"""Hand a model file's cached pages back to the kernel when the model is dropped.

Model files are mapped, not read: their pages sit in the page cache and are
charged to our memory cgroup. After a model is unloaded the kernel keeps those
pages on its *active* list until reclaim gets round to them, so for a while the
cgroup's working set (usage minus inactive file) still counts the old model on
top of the new one. Sizing reads that working set; without this the step after a
swap sees a budget short by the old model's size and steps down again, to nothing
(seen live under a cgroup limit: xl -> mnm -> none within 60 ms).

``POSIX_FADV_DONTNEED`` drops the clean, unmapped pages of a file at once. Pages
another mapping still uses stay, so advising a shared file is safe. Dirty pages
cannot be dropped, hence ``sync`` for files we have just written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["drop_page_cache"]


def drop_page_cache(paths: Iterable[Path], *, sync: bool = False) -> int:
    """Ask the kernel to drop the cached pages of ``paths``.

    Best effort: a missing file, a platform without ``posix_fadvise`` or a file
    system that ignores the advice are not errors (the pages then age out as usual).

    Args:
        paths: Files whose model was just closed (or that were just written).
        sync: Write dirty pages first (for files written moments ago).

    Returns:
        How many files the advice was given for.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:
        return 0
    done = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if sync:
                os.fdatasync(fd)
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            done += 1
        except OSError:
            continue
        finally:
            os.close(fd)
    return done
