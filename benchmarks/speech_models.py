"""Speech family figures: memory, real-time factor, stream and chain latency per variant.

Usage (repo root, the ``speech`` extra installed)::

    python benchmarks/speech_models.py [--variants tiny-en base] [--clips 6]
        [--no-chain] [--write-manifest]

Per variant, in a fresh subprocess each (so nothing loaded before is counted):

* **memory** of ``SpeechPipeline.load`` (verify, load, warm up) measured with
  :func:`edge_agent.runtime.memory.measure_load`: anonymous, file-backed, peak
  (``hard_bytes``, ``soft_bytes``, ``peak_bytes`` of the manifest);
* **real-time factor** (decoding time / audio time) and the p50 time to transcribe
  one command (``latency_ms`` of the manifest: 1 thread) on 1 and 2 threads, over
  ``--clips`` sentences of the eval spoken by the dev voice flite ``slt``, and on 2
  threads with Whisper's full 30 s window (``min_window_s = 30``) side by side;
* **stream latency**: the same sentences, with -55 dBFS of white noise over the
  stream (a quiet room: the VAD decides, not the energy floor), fed in 100 ms
  chunks *at real-time pace*;
  from the moment the chunk holding the true end of speech (known from the
  synthesis) was processed to the transcript (VAD lag + ``end_silence_s`` +
  decoding), and the pipeline's own ``end_of_speech_to_transcript``.

Then (unless ``--no-chain``) **chain latency** through mosquitto and the daemon:
"okay nabu" + a command streamed in real time to a route with
``after_wake_word = ["okay_nabu"]`` that forwards to a ``text`` route of zero-shot
intents; from publishing the chunk that holds the end of the command to the
``voice_command`` event and to the forwarded intent result.

Prints one JSON object. ``--write-manifest`` writes memory, ``latency_ms`` and
``parameters`` (model.bin bytes / 2: float16 weights) into the manifest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

CHUNK = 1600  # 100 ms
NOISE_RMS = 58.0  # about -55 dBFS: a quiet room, so the VAD (not the energy floor) decides


def _noisy(pcm: Any, seed: int) -> Any:
    import numpy as np

    noise = np.random.default_rng(seed).normal(0.0, NOISE_RMS, pcm.size)
    return np.clip(pcm.astype(np.float64) + noise, -32768, 32767).astype(np.int16)


def _clips(n: int) -> list[tuple[str, Any]]:
    from speech_wer import sentences
    from support.speech import speak

    texts = sentences()[:: max(1, len(sentences()) // n)][:n]
    return [(t, speak(t, lead_s=0.3, tail_s=0.0)) for t in texts]


def _pipeline(variant: str | None, threads: int, **options: Any) -> Any:
    from support.speech import make_pipeline

    from edge_agent.runtime.manifest import load_package

    package = load_package(ROOT / "models" / "speech")
    pipe = make_pipeline(package, ROOT / "cache" / "speech", **options)
    pipe.num_threads = threads
    if variant is not None:
        pipe.load(variant)
    return pipe


def _decoding(pipe: Any, spoken: list[tuple[str, Any]]) -> dict[str, float]:
    """Real-time factor and p50 time of transcribing each clip as a clip."""
    import numpy as np

    times, seconds = [], 0.0
    for _, pcm in spoken:
        start = time.perf_counter()
        pipe._transcriber.transcribe(pcm.astype(np.float32) / 32768.0)
        times.append(time.perf_counter() - start)
        seconds += pcm.size / 16000
    return {
        "real_time_factor": round(sum(times) / seconds, 3),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "mean_audio_s": round(seconds / len(spoken), 2),
    }


def child(variant: str, clips: int) -> dict[str, Any]:
    import numpy as np
    from support.speech import audio, ctx, silence

    from edge_agent.runtime.memory import measure_load

    spoken = _clips(clips)
    pipe = _pipeline(None, 1)
    pipe.prepare([variant])  # a join (base) is preparation, not loading
    import ctranslate2  # noqa: F401  - the runtime's import is not the model's memory

    with measure_load() as mem:
        pipe.load(variant)
    out: dict[str, Any] = {
        "variant": variant,
        "hard_bytes": mem.anonymous,
        "soft_bytes": mem.file,
        "peak_bytes": mem.peak,
    }
    for threads in (1, 2):
        pipe.num_threads = threads
        pipe.load(variant)
        out[f"threads_{threads}"] = _decoding(pipe, spoken)
    # Whisper's own 30 s window, side by side: what min_window_s = 10 saves
    full = _pipeline(variant, 2, min_window_s=30.0)
    out["threads_2_window_30s"] = _decoding(full, spoken)
    full.unload()
    # stream mode, 2 threads, fed at real-time pace
    true_latency, own = [], []
    for i, (_, pcm) in enumerate(spoken):
        stream = _noisy(np.concatenate([pcm, silence(2.0)]), i)
        end_sample = pcm.size
        end_seen = None
        for seq, at in enumerate(range(0, stream.size, CHUNK)):
            t0 = time.monotonic()
            c = ctx(f"b{i}", {"stream": str(i), "seq": str(seq)})
            results = pipe.process(audio(stream[at : at + CHUNK]), c)
            if end_seen is None and at + CHUNK >= end_sample:
                end_seen = t0
            if results:
                true_latency.append((time.monotonic() - end_seen) * 1000)
                own.append(results[0]["latency_ms"]["end_of_speech_to_transcript"])
                break
            time.sleep(max(0.0, CHUNK / 16000 - (time.monotonic() - t0)))
    out["stream_2_threads"] = {
        "utterances": len(true_latency),
        "end_of_speech_to_transcript_p50_ms": round(statistics.median(true_latency), 1),
        "pipeline_reported_p50_ms": round(statistics.median(own), 1),
        "end_silence_s": pipe._opts.end_silence_s,
    }
    pipe.unload()
    return out


def chain(variant: str, rounds: int) -> dict[str, Any]:
    import numpy as np
    from support.broker import Broker
    from support.client import TestClient
    from support.daemon import DaemonProcess, toml_dump
    from support.speech import l16_chunks, silence, speak

    commands = ["turn off the kitchen lights", "set the thermostat to twenty one degrees"]
    labels = {
        "lighting": ["turn lights on or off, dim or change the lamp colour"],
        "climate": ["temperature, heating, cooling or the thermostat"],
        "media": ["play, pause or skip music, or change the volume"],
    }
    with tempfile.TemporaryDirectory(prefix="ea-speech-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.start()
        config = {
            "device_id": "bench",
            "cache_dir": str(root / "cache"),
            "broker": {"url": broker.unix_url},
            "log": {"format": "json", "level": "warning"},
            "elastic": {"pinned": {"speech": variant}},
            "pipelines": {
                "speech": {"kind": "speech", "threads": 2, "inbox_size": 1000},
                "text": {"kind": "text"},
            },
            "routes": {
                "voice": {
                    "topic": "sensors/+/voice",
                    "pipeline": "speech",
                    "options": {"after_wake_word": ["okay_nabu"]},
                    "forward": "intents",
                },
                "intents": {"pipeline": "text", "options": {"labels": labels}},
            },
        }
        cfg = root / "bench.toml"
        cfg.write_text(toml_dump(config))
        client = TestClient(broker.unix_url)
        stamps: list[tuple[str, float]] = []
        original = client._on_message

        def on_message(c: Any, u: Any, msg: Any) -> None:
            stamps.append((msg.topic, time.monotonic()))
            original(c, u, msg)

        client.client.on_message = on_message
        client.subscribe("edge-agent/bench/#")
        daemon = DaemonProcess(cfg, root)
        daemon.start()
        try:
            daemon.wait_online(client, "edge-agent/bench/status")
            to_event, to_intent, labels_seen = [], [], []
            for r in range(rounds):
                command = commands[r % len(commands)]
                speech = speak(command, lead_s=0.0, tail_s=0.0)
                head = np.concatenate([silence(0.5), speak("okay nabu"), silence(0.2)])
                pcm = _noisy(np.concatenate([head, speech, silence(2.0)]), r)
                end_chunk = (head.size + speech.size) // CHUNK
                sent_end = 0.0
                seen = len(stamps)
                for seq, chunk in enumerate(l16_chunks(pcm, [CHUNK] * 1000)):
                    t0 = time.monotonic()
                    client.publish(
                        "sensors/hall/voice",
                        chunk,
                        content_type="audio/L16;rate=16000;channels=1",
                        user_properties=[("stream", f"r{r}"), ("seq", str(seq))],
                    )
                    if seq == end_chunk:
                        sent_end = t0
                    time.sleep(max(0.0, CHUNK / 16000 - (time.monotonic() - t0)))
                intent = client.wait_for(
                    lambda m: m.topic == "edge-agent/bench/results/text/hall",
                    count=r + 1,
                    timeout=60,
                )[-1]
                arrived = dict(stamps[seen:])
                to_event.append((arrived["edge-agent/bench/events/speech/hall"] - sent_end) * 1000)
                to_intent.append((arrived["edge-agent/bench/results/text/hall"] - sent_end) * 1000)
                labels_seen.append(intent.json()["result"]["label"])
        finally:
            daemon.terminate()
            client.close()
            broker.stop()
    return {
        "variant": variant,
        "rounds": rounds,
        "labels": labels_seen,
        "end_of_command_to_voice_command_p50_ms": round(statistics.median(to_event), 1),
        "end_of_command_to_intent_p50_ms": round(statistics.median(to_intent), 1),
        "note": "real-time streaming; includes the VAD lag and end_silence_s",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=["tiny-en", "base"])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--chain-rounds", type=int, default=4)
    parser.add_argument("--no-chain", action="store_true")
    parser.add_argument("--write-manifest", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.clips)))
        return 0
    out: dict[str, Any] = {"variants": {}}
    for variant in args.variants:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--clips", str(args.clips)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        out["variants"][variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not args.no_chain:
        out["chain"] = {v: chain(v, args.chain_rounds) for v in args.variants}
    print(json.dumps(out, indent=2))
    if args.write_manifest:
        from speech_manifest import update_variant

        from edge_agent.runtime.manifest import installed_path, load_package

        package = load_package(ROOT / "models" / "speech")
        for variant, fig in out["variants"].items():
            spec = package.variant(variant).installed
            assert spec is not None
            weights = sum(
                installed_path(spec, f).stat().st_size
                for f in spec.files
                if Path(f.path).name.startswith("model.bin")
            )
            update_variant(
                variant,
                {
                    "parameters": weights // 2,
                    "hard_bytes": fig["hard_bytes"],
                    "soft_bytes": fig["soft_bytes"],
                    "peak_bytes": fig["peak_bytes"],
                    "latency_ms": fig["threads_1"]["p50_ms"],
                },
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
