"""Word error rate of each speech variant on the eval set (the manifest's ``quality``).

Usage (repo root, the ``speech`` extra installed)::

    nice -n 10 python benchmarks/speech_wer.py --variant tiny-en [--voices held_out]
        [--threads 2] [--min-window-s 10] [--beam-size 5] [--write-manifest]

Speaks every sentence of ``models/speech/eval/sentences.txt`` with
``--per-sentence`` (1) voices of ``models/speech/eval/voices.toml`` (``held_out`` by
default; ``dev`` or ``all``), assigned round-robin: sentence ``i`` by voice
``i mod 6``, so each of the 6 held-out voices says about 20 of the 122 sentences
(0: every voice says every sentence; the shared 2-core box made 732 clips per
variant too slow),
through ``benchmarks/wakeword_synth.py`` (espeak-ng / flite / festival, cached,
deterministic; 0.3 s of silence either side), transcribes each clip as the
pipeline's clip mode does, and scores it with
:mod:`edge_agent.pipelines.speech.wer`. Prints one JSON object (overall and
per-voice WER, real-time factor of the decoding, the worst sentences); with
``--write-manifest`` sets the variant's ``quality`` = 1 - WER (held-out voices).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

EVAL = ROOT / "models" / "speech" / "eval"


def sentences() -> list[str]:
    lines = (EVAL / "sentences.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def voices(which: str) -> list[Any]:
    from wakeword_synth import Voice

    table = tomllib.loads((EVAL / "voices.toml").read_text(encoding="utf-8"))
    groups = ["dev", "held_out"] if which == "all" else [which]
    return [Voice(v["engine"], v["name"], v.get("speed", 160)) for g in groups for v in table[g]]


def pipeline(variant: str, threads: int, **options: Any) -> Any:
    from edge_agent.pipelines.speech import SpeechOptions, SpeechPipeline
    from edge_agent.runtime.manifest import load_package

    pipe = SpeechPipeline(
        "speech",
        load_package(ROOT / "models" / "speech"),
        SpeechOptions(**options),
        num_threads=threads,
        cache_dir=ROOT / "cache" / "speech",
        models_dir=ROOT / "models",
    )
    pipe.load(variant)
    return pipe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="tiny-en")
    parser.add_argument("--voices", choices=["held_out", "dev", "all"], default="held_out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-window-s", type=float, default=10.0)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="first N sentences only")
    parser.add_argument(
        "--per-sentence",
        type=int,
        default=1,
        help="voices speaking each sentence, assigned round-robin (0: every voice)",
    )
    parser.add_argument("--write-manifest", action="store_true")
    args = parser.parse_args()

    import numpy as np
    from wakeword_synth import synthesize

    from edge_agent.pipelines.speech.wer import WerCount, edit_distance, normalize

    texts = sentences()[: args.limit or None]
    pipe = pipeline(
        args.variant, args.threads, min_window_s=args.min_window_s, beam_size=args.beam_size
    )
    transcriber = pipe._transcriber
    per_voice: dict[str, WerCount] = {}
    worst: list[dict[str, Any]] = []
    audio_s = decode_s = 0.0
    clips = 0
    chosen = voices(args.voices)
    per = args.per_sentence or len(chosen)
    for v, voice in enumerate(chosen):
        count = WerCount(0, 0)
        mine = [
            t
            for i, t in enumerate(texts)
            if any((i * per + k) % len(chosen) == v for k in range(per))
        ]
        for text in mine:
            pcm = synthesize(voice, text, lead_s=0.3, tail_s=0.3)
            audio = pcm.astype(np.float32) / 32768.0
            start = time.perf_counter()
            hyp = transcriber.transcribe(audio).text
            decode_s += time.perf_counter() - start
            audio_s += audio.size / 16000
            clips += 1
            ref_tokens, hyp_tokens = normalize(text), normalize(hyp)
            errors = edit_distance(ref_tokens, hyp_tokens)
            count += WerCount(errors, len(ref_tokens))
            if errors:
                worst.append({"voice": voice.label, "ref": text, "hyp": hyp, "errors": errors})
        per_voice[voice.label] = count
        print(f"{voice.label}: WER {count.wer:.3f} ({count.errors}/{count.words})", file=sys.stderr)
    total = sum(per_voice.values(), WerCount(0, 0))
    out = {
        "variant": args.variant,
        "voices": args.voices,
        "sentences": len(texts),
        "voices_per_sentence": per,
        "clips": clips,
        "threads": args.threads,
        "min_window_s": args.min_window_s,
        "beam_size": args.beam_size,
        "wer": round(total.wer, 4),
        "errors": total.errors,
        "words": total.words,
        "per_voice": {k: round(v.wer, 4) for k, v in per_voice.items()},
        "real_time_factor": round(decode_s / audio_s, 4),
        "worst": sorted(worst, key=lambda w: -w["errors"])[:15],
    }
    print(json.dumps(out, indent=2))
    if args.write_manifest:
        defaults = (args.min_window_s, args.beam_size, args.per_sentence) == (10.0, 5, 1)
        if args.voices != "held_out" or args.limit or not defaults:
            raise SystemExit("quality is measured on all sentences, held-out voices, defaults")
        from speech_manifest import update_variant

        update_variant(args.variant, {"quality": round(1.0 - total.wer, 4)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
