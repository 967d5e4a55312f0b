"""How many real-time 16 kHz streams (all four wake words each) one worker sustains.

Usage (repo root)::

    nice -n 10 python benchmarks/wakeword_streams.py [--streams 50] [--seconds 20] [--chunk-ms 20]

The daemon runs a pipeline in one worker thread, so this runs in one thread too:
``--streams`` sensors each send ``--chunk-ms`` chunks through
``WakewordPipeline.process`` (the full per-message path: stream lookup, reset
checks, frontend, four models), round-robin, for ``--seconds`` of audio each,
paced in real time: round k may start no earlier than k x chunk. Audio is speech
(synthetic, cached) mixed with noise, different per stream. Falling behind means
the backlog (wall clock minus audio clock) grows; it is reported at the end along
with CPU time per audio second, from which the number of streams one fully
available core sustains is derived (``capacity_streams_per_core`` = streams /
CPU share). On a shared machine the paced run can fall behind only because the
process gets less than a core: compare ``cpu_share`` with ``wall_s``.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from wakeword_synth import PHRASES, available_voices, missing_tools, synthesize

from edge_agent.pipelines.base import AudioSample, RequestContext
from edge_agent.pipelines.wakeword import (
    WakewordOptions,
    WakewordPipeline,
    WakewordRouteOptions,
)
from edge_agent.runtime.manifest import load_package


def _audio(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    out = rng.normal(0, 300, n)
    if not missing_tools():
        voices = available_voices()
        pos = int(rng.integers(0, 16000))
        k = seed
        while pos < n:
            clip = synthesize(voices[k % len(voices)], list(PHRASES.values())[k % 4])
            end = min(n, pos + len(clip))
            out[pos:end] += clip[: end - pos]
            pos = end + int(rng.integers(8000, 48000))
            k += 1
    return np.clip(out, -32768, 32767).astype(np.int16)


def main() -> int:
    """Entry point."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--vad", action="store_true")
    parser.add_argument("--kernels", default="reference", choices=["reference", "xnnpack"])
    args = parser.parse_args()
    pipe = WakewordPipeline(
        "wakeword",
        load_package(ROOT / "models" / "wakeword"),
        WakewordOptions(max_streams=args.streams, kernels=args.kernels),
    )
    pipe.load("all-int8")
    chunk = 16 * args.chunk_ms
    audio = [_audio(args.seconds, s) for s in range(args.streams)]
    route = WakewordRouteOptions(vad=args.vad)
    rounds = int(len(audio[0]) // chunk)
    events = 0
    max_backlog = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    busy = 0.0
    for r in range(rounds):
        due = wall0 + r * args.chunk_ms / 1000
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        else:
            max_backlog = max(max_backlog, now - due)
        t = time.perf_counter()
        for s in range(args.streams):
            pcm = audio[s][r * chunk : (r + 1) * chunk]
            ctx = RequestContext(
                topic=f"sensors/m{s}/audio",
                sensor=f"m{s}",
                route="audio",
                request_id=f"{s}-{r}",
                route_options=route,
                user_properties={"seq": str(r)},
            )
            events += len(pipe.process(AudioSample(pcm, 16000, 16000, 1, "audio/L16"), ctx))
        busy += time.perf_counter() - t
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    audio_s = rounds * args.chunk_ms / 1000
    final_backlog = max(0.0, wall - audio_s)
    print(
        json.dumps(
            {
                "streams": args.streams,
                "audio_seconds": audio_s,
                "chunk_ms": args.chunk_ms,
                "vad": args.vad,
                "kernels": args.kernels,
                "events": events,
                "cpu_s": round(cpu, 3),
                "busy_s": round(busy, 3),
                "wall_s": round(wall, 3),
                "cpu_share": round(cpu / audio_s, 3),
                "cpu_ms_per_stream_second": round(cpu / audio_s / args.streams * 1e3, 3),
                "max_backlog_s": round(max_backlog, 3),
                "final_backlog_s": round(final_backlog, 3),
                "kept_up": final_backlog < 0.1,
                "capacity_streams_per_core": int(args.streams / (cpu / audio_s)),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
