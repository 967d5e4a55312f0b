"""CPU saved by voice-activity gating on mostly-silent audio, and detections kept.

Usage (repo root)::

    nice -n 10 python benchmarks/wakeword_vad.py [--minutes 10] [--speech-share 0.05]

Builds one long stream per background level: a noise floor (white noise at
``-75``, ``-55`` dBFS RMS) with synthetic utterances (the four wake phrases and
other sentences, several voices) dropped in until ``--speech-share`` of the time
is speech. The same audio goes through ``WakewordPipeline.process`` in 20 ms
chunks with the route's ``vad`` off and on; the script reports CPU time per audio
second for both, how often the models ran with the gate on, and whether the
events (wake word and offset) are identical. It also streams every wake phrase
in every synthetic voice after 3 s of quiet noise, gate off and on, and counts
the clips whose events are identical.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from wakeword_synth import PHRASES, available_voices, synthesize

from edge_agent.pipelines.base import AudioSample, RequestContext
from edge_agent.pipelines.wakeword import (
    WakewordOptions,
    WakewordPipeline,
    WakewordRouteOptions,
)
from edge_agent.runtime.manifest import load_package

OTHER = [
    "please turn off the kitchen lights",
    "what time is it in tokyo",
    "the meeting starts at nine tomorrow morning",
]


def _stream_audio(
    minutes: float, share: float, floor_dbfs: float, seed: int
) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * 16000)
    rms = 32768 * 10 ** (floor_dbfs / 20)
    out = rng.normal(0, rms, n)
    voices = available_voices()
    texts = list(PHRASES.values()) + OTHER
    speech, k = 0, 0
    positions = np.sort(rng.uniform(0, n - 5 * 16000, 10_000)).astype(int)
    last_end = 0
    for pos in positions:
        if speech >= share * n:
            break
        if pos < last_end + 3 * 16000:
            continue
        clip = synthesize(voices[k % len(voices)], texts[k % len(texts)], lead_s=0.0, tail_s=0.0)
        out[pos : pos + len(clip)] += clip
        speech += len(clip)
        last_end = pos + len(clip)
        k += 1
    return np.clip(out, -32768, 32767).astype(np.int16)


def _run(
    pipe: WakewordPipeline, pcm: npt.NDArray[np.int16], vad: bool, sensor: str
) -> tuple[float, list[tuple[str, float]], Any]:
    route = WakewordRouteOptions(vad=vad)
    events: list[tuple[str, float]] = []
    cpu = time.process_time()
    for i in range(0, len(pcm), 320):
        ctx = RequestContext(
            topic="s", sensor=sensor, route="audio", request_id="r", route_options=route
        )
        for e in pipe.process(AudioSample(pcm[i : i + 320], 16000, 16000, 1, "audio/L16"), ctx):
            events.append((e["wake_word"], e["offset_s"]))
    cpu = time.process_time() - cpu
    return cpu, events, pipe._streams[("audio", sensor)]


def _positives(pipe: WakewordPipeline) -> dict[str, Any]:
    """Every phrase x voice after 3 s of quiet noise: same events with the gate on?"""
    rng = np.random.default_rng(1)
    same, total, detected = 0, 0, 0
    for voice in available_voices(speeds=(130, 175)):
        for text in PHRASES.values():
            clip = synthesize(voice, text, lead_s=0.0, tail_s=1.0).astype(np.float64)
            lead = rng.normal(0, 32768 * 10 ** (-75 / 20), 3 * 16000)
            pcm = np.clip(np.concatenate([lead, clip]), -32768, 32767).astype(np.int16)
            _, off, _ = _run(pipe, pcm, False, f"p-off-{total}")
            _, on, _ = _run(pipe, pcm, True, f"p-on-{total}")
            pipe.reset(f"p-off-{total}")
            pipe.reset(f"p-on-{total}")
            total += 1
            same += off == on
            detected += bool(off)
    return {"clips": total, "clips_with_events": detected, "identical_events": same}


def main() -> int:
    """Entry point."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--speech-share", type=float, default=0.05)
    args = parser.parse_args()
    pipe = WakewordPipeline(
        "wakeword", load_package(ROOT / "models" / "wakeword"), WakewordOptions(idle_reset_s=3600)
    )
    pipe.load("all-int8")
    report: dict[str, Any] = {
        "minutes": args.minutes,
        "speech_share": args.speech_share,
        "energy_floor_dbfs": pipe._opts.vad_energy_floor_dbfs,
        "conditions": [],
    }
    for floor in (-75.0, -55.0):
        pcm = _stream_audio(args.minutes, args.speech_share, floor, seed=int(-floor))
        seconds = len(pcm) / 16000
        cpu_off, ev_off, st_off = _run(pipe, pcm, False, f"off{floor}")
        cpu_on, ev_on, st_on = _run(pipe, pcm, True, f"on{floor}")
        report["conditions"].append(
            {
                "noise_floor_dbfs": floor,
                "cpu_ms_per_audio_s_without_vad": round(cpu_off / seconds * 1e3, 3),
                "cpu_ms_per_audio_s_with_vad": round(cpu_on / seconds * 1e3, 3),
                "cpu_saved_share": round(1 - cpu_on / cpu_off, 3),
                "model_frame_share_with_vad": round(
                    st_on.model_frames / max(1, st_off.model_frames), 3
                ),
                "vad_network_hop_share": round(st_on.vad.vad_hops / (seconds * 100), 3),
                "events_without_vad": len(ev_off),
                "events_with_vad": len(ev_on),
                "events_identical": ev_off == ev_on,
            }
        )
    report["positives"] = _positives(pipe)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
