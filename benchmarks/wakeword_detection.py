"""Detection rate, false accepts per hour and latency of the ``wakeword`` pipeline.

Usage (repo root)::

    nice -n 10 python benchmarks/wakeword_detection.py [--negative-minutes 30] [--json out.json]

* Detection rate: each wake phrase spoken by every voice of
  :func:`wakeword_synth.available_voices` at two espeak-ng speeds (espeak-ng,
  flite, festival), 0.5 s lead and 1.0 s tail of silence, streamed in 20 ms chunks
  on a fresh stream; a hit is an event for that wake word.
* False accepts per hour: English sentences (from the Python docs shipped with the
  interpreter, ``pydoc_data.topics``) spoken in turn by every voice, joined into one
  continuous stream per voice with 0.3 s pauses until ``--negative-minutes`` of
  audio; every event counts (refractory/re-arm as configured by default).
* Latency: stream time of the event minus the end of the phrase (the synthesiser's
  audio is trimmed of silence, so the end is known), plus the measured compute
  time of the chunk that carried it is reported separately (p50 per 20 ms chunk).

Clips are cached under /work/cache/wakeword (see ``wakeword_synth``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from wakeword_synth import PHRASES, Voice, available_voices, synthesize

from edge_agent.pipelines.wakeword import WakewordOptions, WakewordPipeline
from edge_agent.pipelines.wakeword.stream import StreamState
from edge_agent.runtime.manifest import load_package

CHUNK = 320  # 20 ms
LEAD_S, TAIL_S = 0.5, 1.0


def _sentences() -> list[str]:
    from pydoc_data.topics import topics

    text = " ".join(topics.values())
    out = []
    for raw in re.split(r"(?<=[.!?])\s+", text):
        words = re.sub(r"[^A-Za-z' ]+", " ", raw).split()
        alpha = [w for w in words if w.isalpha() and len(w) > 1]
        if 6 <= len(words) <= 22 and len(alpha) >= 0.9 * len(words):
            out.append(" ".join(words).lower())
    return sorted(set(out))


def _run(state: StreamState, pcm: npt.NDArray[np.int16]) -> tuple[list[Any], list[float]]:
    events, costs = [], []
    data = pcm.tobytes()
    for i in range(0, len(data), CHUNK * 2):
        t = time.perf_counter()
        events += state.feed(data[i : i + CHUNK * 2])
        costs.append(time.perf_counter() - t)
    return events, costs


def positives(pipe: WakewordPipeline, voices: list[Voice]) -> dict[str, Any]:
    """Detection rate and latency per wake word."""
    per: dict[str, dict[str, Any]] = {}
    costs: list[float] = []
    for word, text in PHRASES.items():
        hits, lat, missed = 0, [], []
        for voice in voices:
            pcm = synthesize(voice, text, lead_s=LEAD_S, tail_s=TAIL_S)
            state = pipe._make_state(tuple(pipe._specs.values()), vad=False)
            events, c = _run(state, pcm)
            costs += c
            state.close()
            mine = [e for e in events if e.wake_word == word]
            if mine:
                hits += 1
                lat.append(mine[0].offset_s - (len(pcm) / 16000 - TAIL_S))
            else:
                missed.append(voice.label)
        per[word] = {
            "detection_rate": hits / len(voices),
            "detected": hits,
            "clips": len(voices),
            "latency_s_p50": round(statistics.median(lat), 3) if lat else None,
            "latency_s_max": round(max(lat), 3) if lat else None,
            "missed": missed,
        }
    return {
        "per_word": per,
        "chunk_compute_ms_p50": round(statistics.median(costs) * 1e3, 3),
        "chunk_compute_ms_p99": round(float(np.percentile(costs, 99)) * 1e3, 3),
    }


def negatives(pipe: WakewordPipeline, voices: list[Voice], minutes: float) -> dict[str, Any]:
    """False accepts per hour on continuous synthetic speech."""
    sentences = _sentences()
    pause = np.zeros(int(0.3 * 16000), np.int16)
    target = minutes * 60 * 16000
    streams: dict[str, list[npt.NDArray[np.int16]]] = {v.label: [] for v in voices}
    total, k = 0, 0
    while total < target:
        voice = voices[k % len(voices)]
        pcm = synthesize(voice, sentences[k % len(sentences)], lead_s=0.0, tail_s=0.0)
        streams[voice.label] += [pcm, pause]
        total += len(pcm) + len(pause)
        k += 1
    fa = dict.fromkeys(PHRASES, 0)
    accepts = []
    for label, parts in streams.items():
        if not parts:
            continue
        state = pipe._make_state(tuple(pipe._specs.values()), vad=False)
        events, _ = _run(state, np.concatenate(parts))
        state.close()
        for e in events:
            fa[e.wake_word] += 1
            accepts.append(
                {
                    "voice": label,
                    "wake_word": e.wake_word,
                    "offset_s": round(e.offset_s, 2),
                    "probability": round(e.probability, 3),
                }
            )
    hours = total / 16000 / 3600
    return {
        "minutes": round(total / 16000 / 60, 1),
        "sentences": k,
        "distinct_sentences": len(sentences),
        "false_accepts": fa,
        "false_accepts_per_hour": {w: round(n / hours, 2) for w, n in fa.items()},
        "accepts": accepts,
    }


def main() -> int:
    """Entry point."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--negative-minutes", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    package = load_package(ROOT / "models" / "wakeword")
    pipe = WakewordPipeline("wakeword", package, WakewordOptions())
    pipe.load("all-int8")
    voices = available_voices(speeds=(130, 175))
    found = positives(pipe, voices)
    report: dict[str, Any] = {
        "voices": [v.label for v in voices],
        "positives": found,
        "negatives": negatives(pipe, available_voices(), args.negative_minutes),
    }
    rates = [w["detection_rate"] for w in found["per_word"].values()]
    report["quality_mean_detection_rate"] = round(sum(rates) / len(rates), 4)
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
