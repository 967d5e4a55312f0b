"""How far the XNNPACK kernels drift from the reference (builtin TFLite) kernels.

Usage (repo root)::

    nice -n 10 python benchmarks/wakeword_kernels.py

Streams every wake phrase in every synthetic voice (two espeak-ng speeds, flite,
festival) through a pipeline with ``kernels="reference"`` and one with
``kernels="xnnpack"`` and compares, per clip and wake word, the highest windowed
probability and the decision (probability above the cutoff).
Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from wakeword_synth import PHRASES, available_voices, synthesize

from edge_agent.pipelines.wakeword import WakewordOptions, WakewordPipeline
from edge_agent.runtime.manifest import load_package


def main() -> int:
    """Entry point."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    package = load_package(ROOT / "models" / "wakeword")
    pipes = {
        k: WakewordPipeline("wakeword", package, WakewordOptions(kernels=k))
        for k in ("reference", "xnnpack")
    }
    for pipe in pipes.values():
        pipe.load("all-int8")
    worst, flips, comparisons = 0.0, 0, 0
    for voice in available_voices(speeds=(130, 175)):
        for text in PHRASES.values():
            pcm = synthesize(voice, text, lead_s=0.5, tail_s=1.0).tobytes()
            best = {}
            for kernels, pipe in pipes.items():
                state = pipe._make_state(tuple(pipe._specs.values()), vad=False)
                state.feed(pcm)
                best[kernels] = {
                    d.spec.name: (d.max_probability, d.spec.cutoff) for d in state.detectors
                }
                state.close()
            for name, (ref, cutoff) in best["reference"].items():
                fast = best["xnnpack"][name][0]
                comparisons += 1
                worst = max(worst, abs(ref - fast))
                flips += (ref > cutoff) != (fast > cutoff)
    print(
        json.dumps(
            {
                "comparisons": comparisons,
                "max_abs_probability_diff": round(worst, 5),
                "decision_flips": flips,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
