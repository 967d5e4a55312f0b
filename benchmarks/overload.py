"""Overload: camera frames at F times what the daemon can answer, texts probing beside them.

First the faces pipeline's capacity is measured (frames answered per second with
a deep backlog). Then frames are sent at ``--factor`` times that for
``--seconds``, while a second pipeline (text) gets a probe every 0.5 s. Reported:
frames processed per second, how many were dropped (``inbox_full``, from the
aggregated reports' counts), published vs acknowledged (every frame the broker
handed over is answered or counted as dropped: nothing vanishes), and the
latency of the text probes (one busy pipeline must not starve another).

    python benchmarks/overload.py --factor 5 [--seconds 20]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

from harness import FACE, Bench, percentile, running


def _capacity(bench: Bench, face: bytes) -> float:
    """Frames per second answered from a burst that fits the inbox (no drops)."""
    c = bench.collector
    for i in range(10):
        bench.publish("sensors/cam/image", face, "image/jpeg", f"w{i}", timed=False)
    _wait(lambda: c.results.get("faces", 0) >= 10, 60)
    t0 = time.monotonic()
    for i in range(30):
        bench.publish("sensors/cam/image", face, "image/jpeg", f"c{i}", timed=False)
    _wait(lambda: c.results.get("faces", 0) >= 40, 60)
    capacity = 30 / (time.monotonic() - t0)
    time.sleep(1.5)  # nothing of the warm-up is still on its way
    with c.lock:
        c.latency.clear()
        c.results.clear()
        c.dropped = 0
        c.errors.clear()
    return capacity


def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


def _overload(bench: Bench, face: bytes, rate: float, seconds: float) -> tuple[int, float, int]:
    """Frames at ``rate`` for ``seconds`` with a text probe every 0.5 s; (sent, s, probes)."""
    stop = threading.Event()
    probes: list[str] = []

    def probe() -> None:
        i = 0
        while not stop.wait(0.5):
            rid = f"p{i}"
            probes.append(rid)
            bench.publish("sensors/hub/text", b"the smoke alarm is beeping", "text/plain", rid)
            i += 1

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        bench.publish("sensors/cam/image", face, "image/jpeg", f"o{sent}", timed=False)
        sent += 1
        wait = start + sent / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    elapsed = time.monotonic() - start
    stop.set()
    prober.join(5)
    return sent, elapsed, len(probes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factor", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    face = FACE.read_bytes()
    with running(
        {"faces": {"kind": "faces"}, "text": {"kind": "text"}},
        routes={
            "images": {"topic": "sensors/+/image", "pipeline": "faces"},
            "texts": {
                "topic": "sensors/+/text",
                "pipeline": "text",
                "options": {"labels": {"alarm": ["an alarm"], "other": ["something"]}},
            },
        },
        extra={"elastic": {"pinned": {"faces": "full-float"}}},
    ) as bench:
        c = bench.collector
        capacity = _capacity(bench, face)
        sent, elapsed, probes = _overload(bench, face, capacity * args.factor, args.seconds)
        _wait(lambda: c.results.get("faces", 0) + c.dropped >= sent, 60)
        time.sleep(2.5)  # the last drop window closes, the last stats arrive
        stats = c.stats[-1]
    faces = stats["pipelines"]["faces"]
    answered, dropped = c.results.get("faces", 0), c.dropped
    text_lat = c.latency.get("text", [])
    print(
        f"overload x{args.factor:g}: capacity {capacity:.1f} frames/s, sent {sent} frames at "
        f"{sent / elapsed:.1f}/s for {elapsed:.0f} s, text probes every 0.5 s"
    )
    rows = [
        ("frames processed per second", f"{faces['processed'] / elapsed:.1f}"),
        ("frames answered (results)", answered),
        ("frames dropped (inbox_full counts)", dropped),
        ("answered + dropped vs sent", f"{answered + dropped} / {sent}"),
        ("inbox_full error documents", c.errors.get("inbox_full", 0)),
        ("broker-side drops ($SYS)", stats["broker"].get("broker_dropped")),
        (
            "publish failures / back-pressure waits",
            f"{stats['broker']['publish_failures']} / {stats['broker']['backpressure_waits']}",
        ),
        ("text probes answered", f"{len(text_lat)} / {probes}"),
        (
            "text probe latency p50 / p95 / max (ms)",
            f"{percentile(text_lat, 50):.0f} / {percentile(text_lat, 95):.0f} / "
            f"{max(text_lat, default=0):.0f}",
        ),
    ]
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
