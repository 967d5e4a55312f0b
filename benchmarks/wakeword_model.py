"""Manifest figures of the ``wakeword`` variants: memory, latency, parameters.

Usage (repo root)::

    nice -n 10 python benchmarks/wakeword_model.py [--variant all-int8] [--streams 50]

Runs in a fresh subprocess (re-executes itself with ``--child``) so nothing the
caller loaded is counted. After importing the runtime and the audio frontend it
reads ``/proc/self/smaps_rollup``, loads the pipeline (verifies and warms the
variant), opens one stream and feeds it 1 s of audio, reads smaps again
(``hard_bytes`` = growth of anonymous memory, ``soft_bytes`` = growth of
file-backed RSS), then opens ``--streams`` - 1 more streams to get the memory
cost per extra stream (anonymous, and file-backed: each interpreter maps the
model files again; those pages are shared in the page cache). ``latency_ms`` is
the p50 time to process 30 ms of audio
(three 10 ms frontend hops and one invocation of every wake word's model) on one
stream; ``parameters`` counts the weights in the models' constant buffers.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _smaps() -> dict[str, int]:
    out: dict[str, int] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def _parameters(paths: list[Path]) -> int:
    from ai_edge_litert import schema_py_generated as schema

    total = 0
    for path in paths:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))
        for sub in model.subgraphs:
            for tensor in sub.tensors:
                buf = model.buffers[tensor.buffer]
                if buf.data is not None and len(buf.data) and tensor.shape is not None:
                    n = 1
                    for d in tensor.shape:
                        n *= int(d)
                    total += n
    return total


def _child(variant: str, streams: int, kernels: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pymicro_features  # noqa: F401

    from edge_agent.pipelines.wakeword import WakewordOptions, WakewordPipeline
    from edge_agent.runtime.interpreter import load_interpreter_class
    from edge_agent.runtime.manifest import load_package

    load_interpreter_class()
    audio = (np.random.default_rng(0).normal(0, 1000, 16000)).astype(np.int16).tobytes()
    before = _smaps()
    pipe = WakewordPipeline(
        "wakeword",
        load_package(ROOT / "models" / "wakeword"),
        WakewordOptions(kernels=kernels),
    )
    pipe.load(variant)
    specs = tuple(pipe._specs.values())
    first = pipe._make_state(specs, vad=False)
    first.feed(audio)
    after = _smaps()
    more = [pipe._make_state(specs, vad=False) for _ in range(streams - 1)]
    for s in more:
        s.feed(audio)
    after_many = _smaps()
    hop = 960  # 30 ms of int16
    times = []
    for i in range(3000):
        t = time.perf_counter()
        first.feed(audio[(i * hop) % (len(audio) - hop) :][:hop])
        times.append(time.perf_counter() - t)
    times.sort()
    return {
        "variant": variant,
        "kernels": kernels,
        "wake_words": [s.name for s in specs],
        "parameters": _parameters([s.path for s in specs]),
        "file_bytes": sum(s.path.stat().st_size for s in specs),
        "hard_bytes": after["Anonymous"] - before["Anonymous"],
        "soft_bytes": (after["Rss"] - after["Anonymous"]) - (before["Rss"] - before["Anonymous"]),
        "per_extra_stream_anon_bytes": int(
            (after_many["Anonymous"] - after["Anonymous"]) / max(1, streams - 1)
        ),
        "per_extra_stream_file_bytes": int(
            ((after_many["Rss"] - after_many["Anonymous"]) - (after["Rss"] - after["Anonymous"]))
            / max(1, streams - 1)
        ),
        "latency_ms": round(times[len(times) // 2] * 1e3, 4),
        "latency_p90_ms": round(times[int(len(times) * 0.9)] * 1e3, 4),
    }


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--variant", default="all-int8")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--kernels", default="reference", choices=["reference", "xnnpack"])
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.variant, args.streams, args.kernels)))
        return 0
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--variant",
        args.variant,
        "--streams",
        str(args.streams),
        "--kernels",
        args.kernels,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print(proc.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
