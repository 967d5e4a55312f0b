"""edge-agent against the script a user would write, and against the bare model loop.

For faces and text, in the same run, interleaved, ``--repeats`` rounds:

- **bare**: ``set_tensor / invoke / get_tensor`` on one prepared input, one thread;
- **edge-agent**: the daemon through mosquitto (unix socket), pinned to the variant;
- **peer**: ``benchmarks/peer_script.py`` through the same mosquitto, same model file.

Throughput is answers per second with ``--window`` requests in flight; latency is
publish → answer at one in flight. Prints min and median over the rounds and the
ratios the README quotes.

    python benchmarks/e2e_throughput.py [--pipelines faces text] [--messages 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from harness import FACE, REPO, Broker, TestClient, minor_faults, props, running

TEXTS = [
    b"the smoke alarm in the kitchen is beeping",
    b"water is leaking under the sink",
    b"please turn off the porch light",
    b"a parcel was left at the front door",
]
VARIANT = {"faces": "full-float", "text": "xl", "objects": "int8-416"}
TOPIC = {"faces": "sensors/s/image", "text": "sensors/s/text", "objects": "sensors/s/image"}
CTYPE = {"faces": "image/jpeg", "text": "text/plain", "objects": "image/jpeg"}
NO_PEER = {"objects"}  # the peer covers faces and text; objects runs against the bare loop
OBJECTS = REPO / "tests" / "fixtures" / "objects" / "person_cat_row.jpg"


def _payloads(pipeline: str) -> list[bytes]:
    if pipeline == "objects":
        return [OBJECTS.read_bytes()]
    return [FACE.read_bytes()] if pipeline == "faces" else TEXTS


def _input_shape(pipeline: str) -> list[int] | None:
    """The input a variant runs at when its file takes several sizes (objects)."""
    if pipeline != "objects":
        return None
    from edge_agent.runtime.manifest import load_package

    table = load_package(REPO / "models" / "objects").manifest.pipeline.get("variants", {})
    size = table.get(VARIANT[pipeline], {}).get("input_size")
    return [1, 3, size, size] if size else None


def _model_file(pipeline: str, cache: Path) -> Path:
    from edge_agent.runtime.manifest import load_package

    package = load_package(REPO / "models" / pipeline)
    spec = package.variant(VARIANT[pipeline])
    if spec.slice is None:
        return package.variant_path(spec.id)
    from edge_agent.runtime.slicing import materialise

    return materialise(
        package.root / spec.slice.base,
        spec.slice.widths,
        cache,
        base_sha256=spec.sha256,
        allowed=[192, 384, 768, 1536],
    )


def bare_loop(pipeline: str, model_path: Path, n: int) -> float:
    """Invocations per second of the model alone on a prepared input."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path))
    inputs = interp.get_input_details()
    if pipeline == "text":
        interp.resize_tensor_input(inputs[0]["index"], [12, 384])
        interp.resize_tensor_input(inputs[1]["index"], [12])
    shape = _input_shape(pipeline)
    if shape is not None:
        interp.resize_tensor_input(inputs[0]["index"], shape)
    interp.allocate_tensors()
    rng = np.random.default_rng(0)
    values = [
        rng.standard_normal(interp.get_input_details()[i]["shape"]).astype(np.float32)
        for i in range(len(inputs))
    ]
    outs = [d["index"] for d in interp.get_output_details()]
    t0 = time.perf_counter()
    for _ in range(n):
        for d, v in zip(inputs, values, strict=True):
            interp.set_tensor(d["index"], v)
        interp.invoke()
        for o in outs:
            interp.get_tensor(o)
    return n / (time.perf_counter() - t0)


class Driver:
    """Keeps ``window`` requests in flight and times each answer."""

    def __init__(self, client: TestClient, result_prefix: str) -> None:
        self.client = client
        self.prefix = result_prefix
        self.sent: dict[str, float] = {}
        self.latency: list[float] = []
        self.slots = threading.Semaphore(0)
        self.lock = threading.Lock()
        client.client.on_message = self._on_message
        client.subscribe(result_prefix + "#")

    def _on_message(self, c: object, u: object, msg: object) -> None:
        topic = msg.topic  # type: ignore[attr-defined]
        if not topic.startswith(self.prefix):
            return
        rid = json.loads(msg.payload)["request_id"]  # type: ignore[attr-defined]
        with self.lock:
            t0 = self.sent.pop(rid, None)
            if t0 is not None:
                self.latency.append((time.perf_counter() - t0) * 1000)
        if t0 is not None:
            self.slots.release()

    def run(self, pipeline: str, n: int, window: int, tag: str) -> tuple[float, list[float]]:
        payloads = _payloads(pipeline)
        self.latency.clear()
        self.slots = threading.Semaphore(window)
        t0 = time.perf_counter()
        for i in range(n):
            if not self.slots.acquire(timeout=60):
                raise TimeoutError(f"{tag}: no answer within 60 s")
            rid = f"{tag}-{i}"
            with self.lock:
                self.sent[rid] = time.perf_counter()
            self.client.client.publish(
                TOPIC[pipeline],
                payloads[i % len(payloads)],
                qos=1,
                properties=props(CTYPE[pipeline], rid),
            )
        deadline = time.monotonic() + 60
        while len(self.latency) < n and time.monotonic() < deadline:
            time.sleep(0.002)
        return len(self.latency) / (time.perf_counter() - t0), list(self.latency)


@contextmanager
def _peer(pipeline: str, model: Path) -> Iterator[tuple[TestClient, int]]:
    with tempfile.TemporaryDirectory(prefix="ea-peer-") as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        args = [
            sys.executable,
            str(REPO / "benchmarks/peer_script.py"),
            pipeline,
            "--socket",
            str(broker.socket_path),
            "--model",
            str(model),
            "--range",
            "full",
            "--family",
            str(REPO / "models/text"),
        ]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = TestClient(broker.unix_url)
        try:
            client.subscribe("peer/status")
            client.on_topic("peer/status", timeout=60)
            yield client, proc.pid
        finally:
            proc.terminate()
            proc.wait(10)
            client.close()
            broker.stop()


def _daemon(pipeline: str, shards: int, tuned: bool = True) -> Callable[[], object]:
    # The default route's name, so the benchmark's route replaces it instead of overlapping it.
    name = {"faces": "images", "text": "texts"}.get(pipeline, "r")
    routes = {name: {"topic": TOPIC[pipeline], "pipeline": pipeline}}
    if pipeline == "text":
        routes[name]["options"] = {
            "labels": {
                "alarm": ["a smoke or fire alarm"],
                "water": ["a water leak"],
                "light": ["turn the lights on or off"],
                "parcel": ["a parcel was delivered"],
            }
        }
    spec = {"kind": pipeline, "inbox_size": 1000, "shards": shards}
    extra: dict[str, Any] = {"elastic": {"pinned": {pipeline: VARIANT[pipeline]}}}
    if not tuned:
        extra["malloc_tuning"] = False
    return lambda: running({pipeline: spec}, routes=routes, extra=extra)


PATHS = ("bare", "edge-agent", "edge-agent, glibc defaults", "peer")


def measure(
    pipeline: str, n: int, window: int, repeats: int, *, shards: int, compare_malloc: bool
) -> dict[str, dict[str, list[float]]]:
    cache = Path(tempfile.mkdtemp(prefix="ea-e2e-"))
    model = _model_file(pipeline, cache)
    out: dict[str, dict[str, list[float]]] = {
        k: {"per_s": [], "p50_ms": [], "faults": []} for k in PATHS
    }
    if pipeline in NO_PEER:
        del out["peer"]
    if not compare_malloc:
        del out["edge-agent, glibc defaults"]
    for r in range(repeats):
        order = [k for k in PATHS if k in out]
        order = order[r % len(order) :] + order[: r % len(order)]
        for who in order:
            if who == "bare":
                out[who]["per_s"].append(bare_loop(pipeline, model, n))
                continue
            if who == "peer":
                ctx: Any = _peer(pipeline, model)
            else:
                ctx = _daemon(pipeline, shards, tuned=who == "edge-agent")()
            with ctx as bench:
                if who == "peer":
                    client, pid = bench
                    prefix = "peer/results/"
                else:
                    client, pid, prefix = bench.client, bench.pid, "edge-agent/bench/results/"
                driver = Driver(client, prefix)
                driver.run(pipeline, 20, 4, f"{who}-warm{r}")
                faults = minor_faults(pid)
                per_s, _ = driver.run(pipeline, n, window, f"{who}-t{r}")
                out[who]["faults"].append((minor_faults(pid) - faults) / n)
                _, lat = driver.run(pipeline, max(50, n // 3), 1, f"{who}-l{r}")
                out[who]["per_s"].append(per_s)
                out[who]["p50_ms"].append(statistics.median(lat))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipelines", nargs="+", default=["faces", "text"])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shards", type=int, default=1, help="pipelines.<name>.shards")
    parser.add_argument(
        "--compare-malloc",
        action="store_true",
        help="also run the daemon with glibc's default malloc settings",
    )
    args = parser.parse_args()
    for pipeline in args.pipelines:
        m = measure(
            pipeline,
            args.messages,
            args.window,
            args.repeats,
            shards=args.shards,
            compare_malloc=args.compare_malloc,
        )
        med = {k: statistics.median(v["per_s"]) for k, v in m.items()}
        print(
            f"\n{pipeline} ({VARIANT[pipeline]}), {args.messages} messages, {args.window} in "
            f"flight, {args.repeats} interleaved rounds, edge-agent with {args.shards} shard(s)"
        )
        print(
            "| path | answers/s min | answers/s median | p50 ms at 1 in flight (median) "
            "| minor page faults per message |"
        )
        print("|---|---|---|---|---|")
        for who, v in m.items():
            p50 = f"{statistics.median(v['p50_ms']):.2f}" if v["p50_ms"] else "-"
            faults = f"{statistics.median(v['faults']):.0f}" if v["faults"] else "-"
            print(f"| {who} | {min(v['per_s']):.0f} | {med[who]:.0f} | {p50} | {faults} |")
        if "peer" in med:
            print(f"edge-agent / peer: {med['edge-agent'] / med['peer']:.2f} x (median)")
        print(f"edge-agent / bare loop: {med['edge-agent'] / med['bare']:.2f} x (median)")
        print("json:", json.dumps({"pipeline": pipeline, **m}))


if __name__ == "__main__":
    main()
