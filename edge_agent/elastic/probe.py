"""Memory probe: what this machine and this process's own cgroup have left.

Reads ``/proc/meminfo``, ``/proc/self/cgroup``, the cgroup's memory files (v1 or
v2), PSI where the kernel has it, and ``/proc/self/status``. Every root path is
injectable so tests point the probe at fixture trees.

Budget (see :meth:`MemorySnapshot.free_bytes`): the memory still free for *new*
allocations, ``min(MemAvailable - reserve, cgroup limit - cgroup working set)``.
It does **not** count what the loaded model variants already hold: that memory
is in use, so it is missing from both terms. The sizing policy adds it back
explicitly (``PolicyInputs.held_bytes``), because the model set may use the free
memory *plus* what it already holds.
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from edge_agent.errors import EdgeAgentError

__all__ = ["MemoryProbe", "MemoryReader", "MemorySnapshot", "ProbeError"]

# cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit value
# (9223372036854771712); anything at or above 2^62 is treated as unlimited.
_V1_UNLIMITED = 1 << 62


class ProbeError(EdgeAgentError):
    """A memory file that must exist could not be read or parsed.

    Attributes:
        path: The file.
        reason: Human-readable explanation.
    """

    def __init__(self, reason: str, *, path: str) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True, slots=True)
class MemorySnapshot:
    """One reading of the memory state; all sizes in bytes.

    Attributes:
        mem_total: ``MemTotal``.
        mem_available: ``MemAvailable`` (the kernel's estimate, incl. reclaimable cache).
        cgroup_version: 1, 2, or None when no memory cgroup applies.
        cgroup_path: The process's own memory cgroup path, when known.
        cgroup_limit: The tightest memory limit over the cgroup and its ancestors,
            or None when unlimited.
        cgroup_usage: Raw usage of the cgroup holding that limit (or of the own
            cgroup when unlimited); includes page cache.
        cgroup_inactive_file: Inactive file cache of that cgroup; subtracted from
            the usage like ``docker stats`` does.
        events_high: v2 ``memory.events`` ``high`` count (None elsewhere).
        events_oom: v2 ``memory.events`` ``oom`` count.
        events_oom_kill: v2 ``oom_kill`` count (v1: ``memory.oom_control`` ``oom_kill``).
        psi_some_avg10: PSI ``some avg10`` (percent), None without PSI.
        psi_full_avg10: PSI ``full avg10`` (percent), None without PSI.
        psi_source: File the PSI figures came from.
        rss_anon: This process's ``RssAnon``.
        rss_file: This process's ``RssFile``.
    """

    mem_total: int
    mem_available: int
    cgroup_version: Literal[1, 2] | None = None
    cgroup_path: str | None = None
    cgroup_limit: int | None = None
    cgroup_usage: int | None = None
    cgroup_inactive_file: int = 0
    events_high: int | None = None
    events_oom: int | None = None
    events_oom_kill: int | None = None
    psi_some_avg10: float | None = None
    psi_full_avg10: float | None = None
    psi_source: str | None = None
    rss_anon: int | None = None
    rss_file: int | None = None

    @property
    def cgroup_working_set(self) -> int | None:
        """Cgroup usage minus inactive file cache (what the limit really presses on)."""
        if self.cgroup_usage is None:
            return None
        return max(0, self.cgroup_usage - self.cgroup_inactive_file)

    @property
    def cgroup_headroom(self) -> int | None:
        """``limit - working set``, or None when there is no limit."""
        ws = self.cgroup_working_set
        if self.cgroup_limit is None or ws is None:
            return None
        return self.cgroup_limit - ws

    def free_bytes(self, reserve_bytes: int, cgroup_reserve_bytes: int = 0) -> int:
        """Memory free for new allocations after keeping reserves back.

        ``min(MemAvailable - reserve, cgroup limit - working set - cgroup reserve)``;
        the cgroup term only where a limit exists. May be negative (already over).
        The cgroup reserve is working room inside our own limit (decode buffers,
        the Python heap): without it the loaded set would count as fitting right
        up to the moment the kernel's OOM killer ends the process.

        Args:
            reserve_bytes: Memory left for the OS and everything else.
            cgroup_reserve_bytes: Headroom kept free inside the cgroup limit.

        Returns:
            Free bytes, not counting what loaded models already hold.
        """
        free = self.mem_available - reserve_bytes
        headroom = self.cgroup_headroom
        return free if headroom is None else min(free, headroom - cgroup_reserve_bytes)


class MemoryReader(Protocol):
    """Anything that returns a :class:`MemorySnapshot` (the probe, or a test fake)."""

    def read(self) -> MemorySnapshot:
        """Take one reading."""
        ...


class MemoryProbe:
    """Reads memory state from ``/proc`` and the cgroup filesystem.

    Args:
        proc_root: Where procfs is mounted.
        cgroup_root: Where the cgroup filesystem is mounted.
    """

    __slots__ = ("cgroup_root", "proc_root")

    def __init__(
        self, proc_root: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
    ) -> None:
        self.proc_root = proc_root
        self.cgroup_root = cgroup_root

    def read(self) -> MemorySnapshot:
        """Take one reading.

        Raises:
            ProbeError: ``meminfo`` is missing or lacks ``MemTotal``.
        """
        meminfo_path = self.proc_root / "meminfo"
        meminfo = _kv_file(meminfo_path, kib=True)
        if meminfo is None or "MemTotal" not in meminfo:
            raise ProbeError("cannot read MemTotal", path=str(meminfo_path))
        total = meminfo["MemTotal"]
        available = meminfo.get("MemAvailable")
        if available is None:  # kernels before 3.14
            available = meminfo.get("MemFree", 0) + meminfo.get("Cached", 0)
        status = _kv_file(self.proc_root / "self" / "status", kib=True) or {}
        fields: dict[str, object] = {
            "mem_total": total,
            "mem_available": available,
            "rss_anon": status.get("RssAnon"),
            "rss_file": status.get("RssFile"),
        }
        fields.update(self._cgroup())
        if fields.get("psi_source") is None:
            fields.update(_psi(self.proc_root / "pressure" / "memory"))
        return MemorySnapshot(**fields)  # type: ignore[arg-type]

    def budget(self, reserve_bytes: int) -> int:
        """Free bytes for new allocations now; see :meth:`MemorySnapshot.free_bytes`.

        Args:
            reserve_bytes: Memory left for the OS and everything else.
        """
        return self.read().free_bytes(reserve_bytes)

    def _cgroup(self) -> dict[str, object]:
        text = _read(self.proc_root / "self" / "cgroup")
        if text is None:
            return {}
        v2_path: str | None = None
        for line in text.splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            hier, controllers, path = parts
            if "memory" in controllers.split(","):
                return self._v1(path)
            if hier == "0" and controllers == "":
                v2_path = path
        if v2_path is not None and (self.cgroup_root / "cgroup.controllers").is_file():
            return self._v2(v2_path)
        return {}

    def _v1(self, path: str) -> dict[str, object]:
        base = self.cgroup_root / "memory"
        d = _own_dir(base, path)
        if d is None:
            return {}
        limit = _int_file(d / "memory.limit_in_bytes")
        stat = _kv_file(d / "memory.stat", kib=False) or {}
        hier_limit = stat.get("hierarchical_memory_limit")
        limits = [x for x in (limit, hier_limit) if x is not None and x < _V1_UNLIMITED]
        oom = _kv_file(d / "memory.oom_control", kib=False) or {}
        return {
            "cgroup_version": 1,
            "cgroup_path": path,
            "cgroup_limit": min(limits) if limits else None,
            "cgroup_usage": _int_file(d / "memory.usage_in_bytes"),
            "cgroup_inactive_file": stat.get("total_inactive_file", stat.get("inactive_file", 0)),
            "events_oom_kill": oom.get("oom_kill"),
        }

    def _v2(self, path: str) -> dict[str, object]:
        own = _own_dir(self.cgroup_root, path)
        if own is None:
            return {"cgroup_version": 2, "cgroup_path": path}
        # The effective limit may sit on an ancestor: keep the level with the least headroom.
        best: tuple[int, int, int, int] | None = None  # headroom, limit, usage, inactive
        d = own
        while True:
            limit = _v2_max(d / "memory.max")
            usage = _int_file(d / "memory.current")
            if limit is not None and usage is not None:
                inactive = (_kv_file(d / "memory.stat", kib=False) or {}).get("inactive_file", 0)
                headroom = limit - max(0, usage - inactive)
                if best is None or headroom < best[0]:
                    best = (headroom, limit, usage, inactive)
            if d in (self.cgroup_root, d.parent):
                break
            d = d.parent
        if best is not None:
            _, limit_v, usage_v, inactive_v = best
            limit_o: int | None = limit_v
        else:
            limit_o = None
            usage_v = _int_file(own / "memory.current")  # type: ignore[assignment]
            stat = _kv_file(own / "memory.stat", kib=False) or {}
            inactive_v = stat.get("inactive_file", 0)
        events = _kv_file(own / "memory.events", kib=False) or {}
        fields: dict[str, object] = {
            "cgroup_version": 2,
            "cgroup_path": path,
            "cgroup_limit": limit_o,
            "cgroup_usage": usage_v,
            "cgroup_inactive_file": inactive_v,
            "events_high": events.get("high"),
            "events_oom": events.get("oom"),
            "events_oom_kill": events.get("oom_kill"),
        }
        fields.update(_psi(own / "memory.pressure"))
        return fields


def _own_dir(base: Path, path: str) -> Path | None:
    """The cgroup directory for ``path``, else the mount root itself.

    The fallback covers containers whose /proc/self/cgroup shows the host's path
    while the container's own cgroup is mounted at the root (no cgroup namespace).
    """
    if not base.is_dir():
        return None
    d = base / path.lstrip("/")
    return d if d.is_dir() else base


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        # Missing file, or PSI compiled in but disabled (EOPNOTSUPP on read).
        if exc.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.EACCES, errno.ENOTDIR, errno.EINVAL):
            return None
        raise


def _int_file(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _v2_max(path: Path) -> int | None:
    text = _read(path)
    if text is None or text.strip() == "max":
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _kv_file(path: Path, *, kib: bool) -> dict[str, int] | None:
    """Parse ``key value`` / ``Key: value kB`` lines; ``kib`` scales kB to bytes."""
    text = _read(path)
    if text is None:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.replace(":", " ", 1).split()
        if len(parts) < 2:
            continue
        try:
            value = int(parts[1])
        except ValueError:
            continue
        if kib and len(parts) > 2 and parts[2] == "kB":
            value *= 1024
        out[parts[0]] = value
    return out


def _psi(path: Path) -> dict[str, object]:
    """``some avg10`` and ``full avg10`` from a PSI file, or nothing without PSI."""
    text = _read(path)
    if text is None:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for item in rest.split():
            key, _, val = item.partition("=")
            if key == "avg10":
                with contextlib.suppress(ValueError):
                    values[kind] = float(val)
    if "some" not in values:
        return {}
    return {
        "psi_some_avg10": values["some"],
        "psi_full_avg10": values.get("full"),
        "psi_source": str(path),
    }
