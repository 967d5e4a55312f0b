"""Run the runtime's hot path under the unit's seccomp policy, without systemd.

This machine has no running systemd, so ``systemd-run`` cannot apply the unit.
This script rebuilds the two seccomp filters that systemd derives from
``systemd/edge-agent.service`` (the ``SystemCallFilter=`` allow list with
``SystemCallErrorNumber=EPERM``, and ``MemoryDenyWriteExecute=yes``) with
libseccomp, installs them in this process, then imports LiteRT, loads a
``.tflite`` model, invokes it with XNNPACK and opens a unix socket.

Usage: ``python sandbox_probe.py GROUPS_JSON MODEL`` where GROUPS_JSON maps
each syscall group to its members (from ``systemd-analyze syscall-filter``).
Prints one JSON line with what happened; exit 0 when the workload ran.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import socket
import sys
from pathlib import Path
from typing import Any

ALLOW_GROUPS = ("@system-service",)
DENY_GROUPS = ("@privileged", "@resources")


def expand(groups: dict[str, list[str]], names: tuple[str, ...]) -> set[str]:
    """Expand group names (recursively) into syscall names.

    Args:
        groups: Group name to members, as printed by systemd-analyze.
        names: Groups or syscalls to expand.

    Returns:
        The syscall names.
    """
    out: set[str] = set()
    for name in names:
        if name.startswith("@"):
            out |= expand(groups, tuple(groups.get(name, [])))
        else:
            out.add(name)
    return out


def install_filters(groups: dict[str, list[str]]) -> int:
    """Install the allow-list filter and the W^X filter; return rules added."""
    sys.path.append("/usr/lib/python3/dist-packages")
    import seccomp  # type: ignore[import-not-found]

    sys.path.pop()
    allowed = expand(groups, ALLOW_GROUPS) - expand(groups, DENY_GROUPS)
    allow_list = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    added = 0
    for name in sorted(allowed):
        try:
            allow_list.add_rule(seccomp.ALLOW, name)
            added += 1
        except (RuntimeError, ValueError):  # not a syscall on this arch
            continue
    wx = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    both = mmap.PROT_WRITE | mmap.PROT_EXEC
    wx.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, both, both))
    for name in ("mprotect", "pkey_mprotect"):
        wx.add_rule(
            seccomp.ERRNO(errno.EPERM),
            name,
            seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC),
        )
    shm_exec = 0o100000
    wx.add_rule(
        seccomp.ERRNO(errno.EPERM), "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, shm_exec, shm_exec)
    )
    # W^X first: the allow list does not contain seccomp(2) itself.
    wx.load()
    allow_list.load()
    return added


def workload(model: Path) -> dict[str, Any]:
    """Import the runtime, run one inference and open a unix socket."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    report: dict[str, Any] = {}
    interp = Interpreter(model_path=str(model), num_threads=2)
    interp.allocate_tensors()
    for detail in interp.get_input_details():
        shape = [int(d) for d in detail["shape"]]
        interp.set_tensor(detail["index"], np.zeros(shape, dtype=detail["dtype"]))
    interp.invoke()
    report["outputs"] = len(interp.get_output_details())
    # W+X must really be refused, or the probe proves nothing.
    try:
        mm = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        mm.close()
        report["wx_refused"] = False
    except OSError as exc:
        report["wx_refused"] = exc.errno == errno.EPERM
    try:
        os.sched_setaffinity(0, {0})
        report["setaffinity"] = "allowed"
    except OSError as exc:
        report["setaffinity"] = errno.errorcode.get(exc.errno or 0, "?")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.close()
    report["unix_socket"] = True
    return report


def main() -> int:
    """Entry point; see the module docstring."""
    groups = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    model = Path(sys.argv[2])
    rules = install_filters(groups)
    report = workload(model)
    report["allowed_syscalls"] = rules
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
