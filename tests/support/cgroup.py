"""A real memory cgroup (v1 or v2) for tests that run the daemon under a limit."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["MemoryCgroup", "memory_cgroup", "wrapper_into"]

MiB = 1024 * 1024


class MemoryCgroup:
    """A memory cgroup we create, limit and remove (v1 or v2)."""

    def __init__(self) -> None:
        name = f"edge-agent-test-{uuid.uuid4().hex[:8]}"
        v1 = Path("/sys/fs/cgroup/memory")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "memory.limit_in_bytes").exists() or (v1 / "cgroup.procs").exists():
            self.path, self.version = v1 / name, 1
        elif "memory" in (v2 / "cgroup.subtree_control").read_text(errors="ignore"):
            self.path, self.version = v2 / name, 2
        else:
            raise OSError("no writable memory controller")
        self.path.mkdir()

    def set_limit(self, limit: int) -> None:
        name = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
        (self.path / name).write_text(str(limit))

    def working_set(self) -> int:
        usage_file = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        usage = int((self.path / usage_file).read_text())
        stat = dict(line.split() for line in (self.path / "memory.stat").read_text().splitlines())
        inactive = int(stat.get("total_inactive_file", stat.get("inactive_file", 0)))
        return usage - inactive

    def peak(self) -> int:
        """Highest usage since creation (v1 max_usage_in_bytes, v2 memory.peak; 0 if absent)."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        path = self.path / name
        return int(path.read_text()) if path.exists() else 0

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def remove(self) -> None:
        root = self.path.parent
        for pid in self.procs.read_text().split():
            with contextlib.suppress(OSError):
                (root / "cgroup.procs").write_text(pid)
        for _ in range(50):
            try:
                self.path.rmdir()
            except OSError:
                time.sleep(0.1)
            else:
                return


@contextlib.contextmanager
def memory_cgroup(limit: int = 2048 * MiB) -> Iterator[MemoryCgroup]:
    """A fresh memory cgroup with ``limit``; skips the test where none can be made."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a memory cgroup (CI runs as root)")
    try:
        group = MemoryCgroup()
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup here: {exc}")
    group.set_limit(limit)
    try:
        yield group
    finally:
        group.remove()


def wrapper_into(group: MemoryCgroup, folder: Path) -> Path:
    """A shell wrapper that moves itself into ``group`` and then execs its arguments."""
    wrapper = folder / "in-cgroup.sh"
    wrapper.write_text(f'#!/bin/sh\necho $$ > {group.procs}\nexec "$@"\n')
    wrapper.chmod(0o755)
    return wrapper
