"""Wake-word streams end to end through mosquitto: how many the daemon keeps up with.

``--streams`` sensors each send a real-time 16 kHz stream in ``--chunk-ms`` chunks
(QoS 0, ``audio/L16``, with ``stream``/``seq`` properties) for ``--seconds``,
from a separate publisher process paced by the wall clock. Audio is synthetic
speech with the four wake phrases mixed into noise, different per stream. The
daemon runs the wake-word pipeline (all four words, reference kernels, sharded
over the cores as ``shards = "auto"`` does). Reported: chunks sent / processed /
dropped (``inbox_full`` counts), wake words detected, the daemon's CPU per
stream-second (and the broker's), the deepest inbox seen. Passing means 0 dropped
and every chunk processed.

    python benchmarks/wakeword_e2e.py --streams 60 --seconds 60 [--chunk-ms 20]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from harness import SHIPPED_INFLIGHT, cpu_seconds, running

HERE = Path(__file__).resolve().parent
# What deploy/mosquitto/edge-agent.conf.in sets: a daemon that falls behind finds at
# most a thousand chunks queued for it (the test broker queues 100,000).
SHIPPED_QUEUES = SHIPPED_INFLIGHT + "max_queued_messages 1000\n"


def _publisher(socket: str, streams: int, seconds: float, chunk_ms: int) -> None:
    """Child process: paced real-time chunks of every stream, round-robin."""
    import paho.mqtt.client as mqtt
    from harness import props
    from paho.mqtt.enums import CallbackAPIVersion
    from wakeword_streams import _audio

    step = 16 * chunk_ms
    audio = [_audio(seconds + 1, seed) for seed in range(streams)]
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="ww-pub", protocol=mqtt.MQTTv5, transport="unix"
    )
    client.max_queued_messages_set(0)
    client.connect(socket)
    client.loop_start()
    ctype = "audio/L16;rate=16000;channels=1"
    rounds = int(seconds * 1000 / chunk_ms)
    start = time.monotonic()
    for k in range(rounds):
        wait = start + k * chunk_ms / 1000 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        for s in range(streams):
            chunk = audio[s][k * step : (k + 1) * step]
            p = props(ctype, None)
            p.UserProperty = [("stream", f"st{s}"), ("seq", str(k))]
            client.publish(
                f"sensors/mic{s}/audio", chunk.astype(">i2").tobytes(), qos=0, properties=p
            )
    late = time.monotonic() - start - rounds * chunk_ms / 1000
    time.sleep(0.5)
    client.loop_stop()
    print(f"published {rounds * streams} chunks, finished {late:+.2f} s after the audio clock")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--shards", default="auto")
    parser.add_argument("--publisher", nargs=1, metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        _publisher(args.publisher[0], args.streams, args.seconds, args.chunk_ms)
        return
    shards = args.shards if args.shards == "auto" else int(args.shards)
    spec = {
        "kind": "wakeword",
        "shards": shards,
        "inbox_size": 256,
        "options": {"max_streams": args.streams + 8},
    }
    with running(
        {"wakeword": spec},
        routes={"audio": {"topic": "sensors/+/audio", "pipeline": "wakeword"}},
        broker_conf=SHIPPED_QUEUES,
    ) as bench:
        sent = args.streams * int(args.seconds * 1000 / args.chunk_ms)
        cpu0, broker0 = cpu_seconds(bench.pid), cpu_seconds(bench.broker.proc.pid)  # type: ignore[union-attr]
        t0 = time.monotonic()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        pub = subprocess.run(
            [
                sys.executable,
                str(HERE / "wakeword_e2e.py"),
                "--publisher",
                str(bench.broker.socket_path),
                "--streams",
                str(args.streams),
                "--seconds",
                str(args.seconds),
                "--chunk-ms",
                str(args.chunk_ms),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The daemon and the broker are still running: the children reaped are the publisher.
        pub_cpu = (children1.ru_utime + children1.ru_stime) - (
            children0.ru_utime + children0.ru_stime
        )
        deadline = time.monotonic() + 30
        processed = 0
        while time.monotonic() < deadline:
            stats = bench.collector.stats[-1]["pipelines"].get("wakeword", {})
            processed = stats.get("processed", 0)
            if processed + bench.collector.dropped >= sent:
                break
            time.sleep(0.2)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(bench.pid) - cpu0
        broker_cpu = cpu_seconds(bench.broker.proc.pid) - broker0  # type: ignore[union-attr]
        deepest = max(
            (
                d["pipelines"].get("wakeword", {}).get("inbox", {}).get("waiting", 0)
                for d in bench.collector.stats
            ),
            default=0,
        )
        shards_used = bench.collector.stats[-1]["pipelines"]["wakeword"].get("shards")
        detections = bench.collector.results.get("wakeword", 0)
        dropped = bench.collector.dropped
    stream_s = args.streams * args.seconds
    print(pub.stdout.strip())
    print(
        f"{args.streams} streams x {args.seconds:g} s in {args.chunk_ms} ms chunks, "
        f"{shards_used} shard(s), wall {wall:.0f} s"
    )
    print("| measure | value |\n|---|---|")
    print(f"| chunks sent / processed / dropped | {sent} / {processed} / {dropped} |")
    print(f"| wake words detected | {detections} |")
    print(f"| daemon CPU per stream-second | {cpu / stream_s * 1000:.1f} ms |")
    print(f"| broker CPU per stream-second | {broker_cpu / stream_s * 1000:.1f} ms |")
    print(f"| publisher CPU (cores, while it ran) | {pub_cpu / args.seconds:.2f} |")
    print(f"| deepest inbox (sum over shards) | {deepest} |")
    verdict = "kept up" if dropped == 0 and processed >= sent else "fell behind"
    print(
        f"\n{verdict}: {args.streams} real-time streams "
        f"({np.round(cpu / wall, 2)} of the 2 cores used by the daemon)"
    )


if __name__ == "__main__":
    main()
