"""MemoryProbe against fixture /proc and cgroup trees, and once against the real /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.elastic.probe import MemoryProbe, ProbeError

GiB = 1024**3
MiB = 1024**2
V1_UNLIMITED = "9223372036854771712"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="ascii")


def _proc(
    root: Path, cgroup: str, *, psi: str | None = None, available_kb: int = 2_000_000
) -> Path:
    proc = root / "proc"
    _write(
        proc / "meminfo",
        f"MemTotal:        4000000 kB\nMemFree:  100 kB\n"
        f"MemAvailable:    {available_kb} kB\nCached: 5 kB\n",
    )
    _write(
        proc / "self" / "status",
        "Name:\tpython\nVmRSS:\t 3000 kB\nRssAnon:\t 1000 kB\n"
        "RssFile:\t 2000 kB\nRssShmem:\t 0 kB\n",
    )
    _write(proc / "self" / "cgroup", cgroup)
    if psi is not None:
        _write(proc / "pressure" / "memory", psi)
    return proc


PSI_TEXT = (
    "some avg10=12.50 avg60=3.00 avg300=1.00 total=100\n"
    "full avg10=4.25 avg60=1.00 avg300=0.50 total=50\n"
)


@pytest.fixture
def v1_tree(tmp_path: Path) -> MemoryProbe:
    proc = _proc(tmp_path, "5:pids:/\n4:memory:/svc/edge\n0::/\n", psi=PSI_TEXT)
    cg = tmp_path / "cgroup"
    d = cg / "memory" / "svc" / "edge"
    _write(d / "memory.limit_in_bytes", f"{512 * MiB}\n")
    _write(d / "memory.usage_in_bytes", f"{300 * MiB}\n")
    _write(
        d / "memory.stat",
        f"cache 1000\ninactive_file 1\ntotal_inactive_file {100 * MiB}\n"
        f"hierarchical_memory_limit {V1_UNLIMITED}\n",
    )
    _write(d / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    return MemoryProbe(proc_root=proc, cgroup_root=cg)


@pytest.fixture
def v2_tree(tmp_path: Path) -> MemoryProbe:
    proc = _proc(tmp_path, "0::/system.slice/edge.service\n", psi=PSI_TEXT)
    cg = tmp_path / "cgroup"
    _write(cg / "cgroup.controllers", "cpu memory pids\n")
    own = cg / "system.slice" / "edge.service"
    _write(own / "memory.max", f"{400 * MiB}\n")
    _write(own / "memory.current", f"{250 * MiB}\n")
    _write(own / "memory.stat", f"anon 1\nfile 2\ninactive_file {50 * MiB}\n")
    _write(own / "memory.events", "low 0\nhigh 7\nmax 1\noom 3\noom_kill 1\n")
    _write(
        own / "memory.pressure",
        "some avg10=1.50 avg60=0 avg300=0 total=1\nfull avg10=0.25 avg60=0 avg300=0 total=1\n",
    )
    _write(cg / "system.slice" / "memory.max", "max\n")
    _write(cg / "system.slice" / "memory.current", f"{900 * MiB}\n")
    return MemoryProbe(proc_root=proc, cgroup_root=cg)


def test_meminfo_and_rss_are_read_in_bytes(v1_tree: MemoryProbe) -> None:
    snap = v1_tree.read()
    assert (snap.mem_total, snap.mem_available) == (4_000_000 * 1024, 2_000_000 * 1024)
    assert (snap.rss_anon, snap.rss_file) == (1000 * 1024, 2000 * 1024)


def test_v1_limit_usage_and_inactive_file(v1_tree: MemoryProbe) -> None:
    snap = v1_tree.read()
    assert snap.cgroup_version == 1
    assert snap.cgroup_path == "/svc/edge"
    assert snap.cgroup_limit == 512 * MiB
    assert snap.cgroup_working_set == 200 * MiB  # usage minus total_inactive_file
    assert snap.cgroup_headroom == 312 * MiB
    assert snap.events_oom_kill == 2


def test_v1_uses_host_psi(v1_tree: MemoryProbe) -> None:
    snap = v1_tree.read()
    assert (snap.psi_some_avg10, snap.psi_full_avg10) == (12.5, 4.25)
    assert snap.psi_source is not None
    assert snap.psi_source.endswith("pressure/memory")


def test_v1_unlimited_means_no_limit(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "4:memory:/\n")
    d = tmp_path / "cgroup" / "memory"
    _write(d / "memory.limit_in_bytes", V1_UNLIMITED + "\n")
    _write(d / "memory.usage_in_bytes", f"{10 * MiB}\n")
    snap = MemoryProbe(proc, tmp_path / "cgroup").read()
    assert snap.cgroup_version == 1
    assert snap.cgroup_limit is None
    assert snap.free_bytes(0) == snap.mem_available


def test_v1_hierarchical_limit_of_a_parent_applies(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "4:memory:/a/b\n")
    d = tmp_path / "cgroup" / "memory" / "a" / "b"
    _write(d / "memory.limit_in_bytes", V1_UNLIMITED)
    _write(d / "memory.usage_in_bytes", f"{10 * MiB}")
    _write(d / "memory.stat", f"total_inactive_file 0\nhierarchical_memory_limit {64 * MiB}\n")
    assert MemoryProbe(proc, tmp_path / "cgroup").read().cgroup_limit == 64 * MiB


def test_v1_container_without_cgroupns_falls_back_to_mount_root(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "4:memory:/docker/abc123\n")
    d = tmp_path / "cgroup" / "memory"  # the container's own cgroup is the mount root
    _write(d / "memory.limit_in_bytes", f"{256 * MiB}")
    _write(d / "memory.usage_in_bytes", f"{56 * MiB}")
    assert MemoryProbe(proc, tmp_path / "cgroup").read().cgroup_headroom == 200 * MiB


def test_v2_limit_usage_events_and_own_pressure(v2_tree: MemoryProbe) -> None:
    snap = v2_tree.read()
    assert snap.cgroup_version == 2
    assert snap.cgroup_limit == 400 * MiB
    assert snap.cgroup_working_set == 200 * MiB  # current minus inactive_file
    assert (snap.events_high, snap.events_oom, snap.events_oom_kill) == (7, 3, 1)
    assert (snap.psi_some_avg10, snap.psi_full_avg10) == (1.5, 0.25)  # the cgroup's, not the host's
    assert snap.psi_source is not None
    assert snap.psi_source.endswith("memory.pressure")


def test_v2_tightest_ancestor_limit_wins(v2_tree: MemoryProbe, tmp_path: Path) -> None:
    slice_dir = tmp_path / "cgroup" / "system.slice"
    _write(slice_dir / "memory.max", f"{1000 * MiB}\n")  # 1000 - 900 = 100 MiB headroom < 200
    snap = v2_tree.read()
    assert snap.cgroup_limit == 1000 * MiB
    assert snap.cgroup_headroom == 100 * MiB


def test_v2_max_means_no_limit(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/user.slice\n")
    cg = tmp_path / "cgroup"
    _write(cg / "cgroup.controllers", "memory\n")
    _write(cg / "user.slice" / "memory.max", "max\n")
    _write(cg / "user.slice" / "memory.current", f"{MiB}\n")
    snap = MemoryProbe(proc, cg).read()
    assert snap.cgroup_version == 2
    assert snap.cgroup_limit is None
    assert snap.cgroup_usage == MiB


def test_no_cgroup_filesystem(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/\n", psi=PSI_TEXT)
    snap = MemoryProbe(proc, tmp_path / "absent").read()
    assert snap.cgroup_version is None
    assert snap.cgroup_limit is None
    assert snap.free_bytes(MiB) == snap.mem_available - MiB


def test_no_proc_self_cgroup(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "")
    (proc / "self" / "cgroup").unlink()
    assert MemoryProbe(proc, tmp_path / "cgroup").read().cgroup_version is None


def test_no_psi_anywhere_like_raspberry_pi_os(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/edge\n")  # no /proc/pressure
    cg = tmp_path / "cgroup"
    _write(cg / "cgroup.controllers", "memory\n")
    _write(cg / "edge" / "memory.max", f"{100 * MiB}")
    _write(cg / "edge" / "memory.current", f"{10 * MiB}")  # no memory.pressure either
    snap = MemoryProbe(proc, cg).read()
    assert (snap.psi_some_avg10, snap.psi_full_avg10, snap.psi_source) == (None, None, None)
    assert snap.cgroup_headroom == 90 * MiB


def test_free_bytes_is_the_smaller_of_host_and_cgroup(v1_tree: MemoryProbe) -> None:
    snap = v1_tree.read()  # host: ~1.9 GiB available; cgroup: 312 MiB headroom
    assert snap.free_bytes(64 * MiB) == 312 * MiB
    assert v1_tree.budget(64 * MiB) == 312 * MiB


def test_free_bytes_takes_reserve_from_host_memory(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/\n", available_kb=100 * 1024)
    snap = MemoryProbe(proc, tmp_path / "none").read()
    assert snap.free_bytes(30 * MiB) == 70 * MiB


def test_free_bytes_can_be_negative_when_over(v1_tree: MemoryProbe) -> None:
    assert v1_tree.read().free_bytes(3 * GiB) < 0


def test_missing_meminfo_raises_with_path(tmp_path: Path) -> None:
    with pytest.raises(ProbeError) as info:
        MemoryProbe(tmp_path / "noproc", tmp_path).read()
    assert info.value.path.endswith("meminfo")


def test_real_proc_of_this_machine() -> None:
    snap = MemoryProbe().read()
    assert 0 < snap.mem_available <= snap.mem_total
    assert snap.rss_anon is not None
    assert snap.rss_anon > 0
    assert snap.cgroup_version in {1, 2, None}
    if snap.cgroup_usage is not None:
        assert snap.cgroup_usage > 0
    if snap.psi_some_avg10 is not None:
        assert 0.0 <= snap.psi_some_avg10 <= 100.0
    assert snap.free_bytes(0) <= snap.mem_available
