"""Soak: mixed traffic for N minutes, the daemon's RSS every 10 s, and its growth.

Every shipped family serves: camera frames (faces), texts (text), a live 16 kHz
audio stream in 20 ms chunks (wake words), and now and then a bad payload of each
kind. RSS is sampled every 10 s; growth is fitted (least squares) from minute 2
on, after warm-up, and reported in MiB per hour.

    python benchmarks/soak.py --minutes 10 [--images-per-s 5] [--texts-per-s 5]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from harness import FACE, WAKE, rss_of, running

MiB = 1024 * 1024


def _audio_chunks(seconds: float) -> list[bytes]:
    """A 16 kHz stream: the wake phrase, then quiet noise, in 20 ms chunks."""
    import io
    import wave

    with wave.open(io.BytesIO(WAKE.read_bytes())) as w:
        phrase = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 60, int(16000 * seconds))).astype(np.int16)
    stream = np.concatenate([phrase, noise])
    step = 320
    return [stream[i : i + step].tobytes() for i in range(0, len(stream) - step, step)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--images-per-s", type=float, default=5.0)
    parser.add_argument("--texts-per-s", type=float, default=5.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    args = parser.parse_args()
    face = FACE.read_bytes()
    chunks = _audio_chunks(8.0)
    stop = threading.Event()
    texts = [
        "the smoke alarm in the kitchen is beeping",
        "turn the porch light off",
        "water under the dishwasher",
        "the parcel was left at the door",
    ]
    bad = [
        ("sensors/cam/image", face[:300], "image/jpeg"),
        ("sensors/hub/text", b"\xff\xfe bad", None),
        ("sensors/mic/audio", b"RIFF\x00\x00", "audio/wav"),
    ]
    with running(
        {
            "faces": {"kind": "faces"},
            "text": {"kind": "text"},
            "wakeword": {"kind": "wakeword"},
        },
        routes={
            "images": {"topic": "sensors/+/image", "pipeline": "faces"},
            "texts": {
                "topic": "sensors/+/text",
                "pipeline": "text",
                "options": {
                    "labels": {
                        "alarm": ["an alarm"],
                        "light": ["lights"],
                        "water": ["water leak"],
                        "parcel": ["a parcel"],
                    }
                },
            },
            "audio": {"topic": "sensors/+/audio", "pipeline": "wakeword"},
        },
    ) as bench:

        def paced(rate: float, send: object) -> None:
            i = 0
            start = time.monotonic()
            while not stop.is_set():
                send(i)  # type: ignore[operator]
                i += 1
                wait = start + i / rate - time.monotonic()
                if wait > 0:
                    stop.wait(wait)

        senders = [
            lambda i: bench.publish("sensors/cam/image", face, "image/jpeg", f"i{i}"),
            lambda i: bench.publish(
                "sensors/hub/text", texts[i % 4].encode(), "text/plain", f"t{i}"
            ),
            lambda i: bench.publish(
                "sensors/mic/audio",
                chunks[i % len(chunks)],
                "audio/L16;rate=16000;channels=1",
                f"a{i}",
                timed=False,
                qos=0,
            ),
            lambda i: bench.publish(*bad[i % 3], rid=f"b{i}", timed=False),
        ]
        rates = [args.images_per_s, args.texts_per_s, 50.0, 0.5]
        threads = [
            threading.Thread(target=paced, args=(r, s), daemon=True)
            for r, s in zip(rates, senders, strict=True)
        ]
        for t in threads:
            t.start()
        samples: list[tuple[float, int]] = []
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            samples.append((time.monotonic() - t0, rss_of(bench.pid)["VmRSS"]))
            time.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
        samples.append((time.monotonic() - t0, rss_of(bench.pid)["VmRSS"]))
        stop.set()
        for t in threads:
            t.join(5)
        time.sleep(2)
        collected = bench.collector
        alive = bench.daemon.proc is not None and bench.daemon.proc.poll() is None
    times = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples]) / MiB
    after = times >= 120.0
    slope = float(np.polyfit(times[after] / 3600, rss[after], 1)[0]) if after.sum() >= 3 else 0.0
    print(
        f"soak {args.minutes:g} min: images {args.images_per_s:g}/s, texts "
        f"{args.texts_per_s:g}/s, one 50 chunks/s audio stream, a bad payload every 2 s"
    )
    print("| t (s) | RSS (MiB) |\n|---|---|")
    for t, r in zip(times, rss, strict=True):
        print(f"| {t:.0f} | {r:.1f} |")
    print(
        f"\nRSS {rss[0]:.1f} -> {rss[-1]:.1f} MiB; fitted growth from minute 2: "
        f"{slope:+.2f} MiB/h ({after.sum()} samples)"
    )
    print(
        f"answered: {collected.results}; errors by reason: {collected.errors}; "
        f"daemon alive at the end: {alive}"
    )


if __name__ == "__main__":
    main()
