"""Measure one ``.tflite`` file: memory after load and first invoke, and latency.

Usage::

    python benchmarks/measure_model.py FILE [--threads N] [--runs N] [--inputs random|zero]
                                           [--input-shape 1,3,320,320]

The measurement runs in a fresh subprocess (this script re-executes itself with
``--child``), so nothing loaded by the caller is counted. In the child:

1. the runtime is imported (``ai_edge_litert``, else ``tflite_runtime``) and
   ``/proc/self/smaps_rollup`` is read: the import is *not* counted;
2. the interpreter is built from the file path (memory-mapped), the first input
   is resized when ``--input-shape`` is given (models with a dynamic input size),
   tensors are allocated, inputs are filled (seeded random or zeros) and invoked once;
3. ``smaps_rollup`` is read again. ``hard_bytes`` is the growth of ``Anonymous``
   (memory that must really be available: arenas, XNNPACK-packed weights,
   workspace); ``soft_bytes`` is the growth of file-backed RSS (``Rss`` minus
   ``Anonymous``: pages the kernel can drop and re-read). Note it also counts
   runtime library code paged in by the first use of kernels (shared between
   models in one process); ``model_rss_bytes`` is the resident part of the
   model file's own mapping only;
4. a few warm-up invokes, then ``--runs`` timed invokes give ``p50_ms`` and
   ``p90_ms`` and ``p99_ms``.

Prints one JSON object: ``file``, ``file_bytes``, ``hard_bytes``, ``soft_bytes``,
``model_rss_bytes``, ``first_invoke_ms``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``threads``, ``runs``,
``runtime``.
Linux only (needs ``/proc/self/smaps_rollup``).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["measure", "measure_in_subprocess"]

_WARMUP_RUNS = 5
_SEED = 0


def _smaps_rollup() -> dict[str, int]:
    """Return the fields of ``/proc/self/smaps_rollup`` in bytes."""
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return fields


def _memory() -> tuple[int, int]:
    """Return ``(anonymous_bytes, file_backed_rss_bytes)`` of this process."""
    rollup = _smaps_rollup()
    anon = rollup["Anonymous"]
    return anon, rollup["Rss"] - anon


def _mapped_rss(path: Path) -> int:
    """Return the resident bytes of the mappings of ``path`` in this process."""
    target = str(path.resolve())
    total = 0
    inside = False
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            first = line.split(maxsplit=5)
            if first and "-" in first[0] and len(first) >= 5 and ":" in first[3]:
                inside = len(first) == 6 and first[5].strip() == target
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1]) * 1024
    return total


def _fill_inputs(interp: Any, mode: str) -> None:
    import numpy as np

    rng = np.random.default_rng(_SEED)
    for detail in interp.get_input_details():
        shape = tuple(int(d) for d in detail["shape"])
        dtype = np.dtype(detail["dtype"])
        if mode == "zero":
            value = np.zeros(shape, dtype=dtype)
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            value = rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
        elif dtype == np.bool_:
            value = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            value = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
        interp.set_tensor(detail["index"], value)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def measure(
    path: Path,
    *,
    threads: int = 1,
    runs: int = 50,
    inputs: str = "random",
    input_shape: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Measure ``path`` in *this* process (call it from a fresh one).

    Args:
        path: A ``.tflite`` file.
        threads: Interpreter threads.
        runs: Timed invokes after warm-up.
        inputs: ``"random"`` (seeded) or ``"zero"`` input values.
        input_shape: Shape to resize the first input to before allocating.

    Returns:
        The figures described in the module docstring.
    """
    from edge_agent.runtime.interpreter import load_interpreter_class

    interpreter_cls, runtime = load_interpreter_class()
    gc.collect()
    anon0, file0 = _memory()
    interp = interpreter_cls(model_path=str(path), num_threads=threads)
    if input_shape is not None:
        index = interp.get_input_details()[0]["index"]
        interp.resize_tensor_input(index, list(input_shape), strict=False)
    interp.allocate_tensors()
    _fill_inputs(interp, inputs)
    start = time.perf_counter()
    interp.invoke()
    first_ms = (time.perf_counter() - start) * 1000.0
    gc.collect()
    anon1, file1 = _memory()
    for _ in range(_WARMUP_RUNS):
        interp.invoke()
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - start) * 1000.0)
    return {
        "file": str(path),
        "file_bytes": path.stat().st_size,
        "hard_bytes": max(0, anon1 - anon0),
        "soft_bytes": max(0, file1 - file0),
        "model_rss_bytes": _mapped_rss(path),
        "first_invoke_ms": round(first_ms, 4),
        "p50_ms": round(_percentile(times, 0.5), 4),
        "p90_ms": round(_percentile(times, 0.9), 4),
        "p99_ms": round(_percentile(times, 0.99), 4),
        "threads": threads,
        "runs": runs,
        "runtime": runtime,
    }


def measure_in_subprocess(
    path: Path,
    *,
    threads: int = 1,
    runs: int = 50,
    inputs: str = "random",
    python: str | None = None,
    timeout_s: float = 600.0,
    input_shape: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Measure ``path`` in a fresh Python process and return its figures.

    Args:
        path: A ``.tflite`` file.
        threads: Interpreter threads.
        runs: Timed invokes.
        inputs: ``"random"`` or ``"zero"``.
        python: Interpreter to run (default: the current one).
        timeout_s: Give up after this many seconds.
        input_shape: Shape to resize the first input to (dynamic-size models).

    Returns:
        The figures described in the module docstring.

    Raises:
        RuntimeError: The child failed.
    """
    cmd = [
        python or sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(path),
        "--threads",
        str(threads),
        "--runs",
        str(runs),
        "--inputs",
        inputs,
    ]
    if input_shape is not None:
        cmd += ["--input-shape", ",".join(str(d) for d in input_shape)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring {path} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="the .tflite file")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    parser.add_argument("--runs", type=int, default=50, help="timed invokes (default 50)")
    parser.add_argument(
        "--inputs",
        choices=("random", "zero"),
        default="random",
        help="input values (default: seeded random)",
    )
    parser.add_argument(
        "--input-shape", default=None, help="resize the first input first, e.g. 1,3,320,320"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"no such file: {args.file}")
    shape = tuple(int(d) for d in args.input_shape.split(",")) if args.input_shape else None
    if args.child:
        result = measure(
            args.file, threads=args.threads, runs=args.runs, inputs=args.inputs, input_shape=shape
        )
    else:
        result = measure_in_subprocess(
            args.file,
            threads=args.threads,
            runs=args.runs,
            inputs=args.inputs,
            input_shape=shape,
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
