"""End-to-end throughput and latency of a pipeline through mosquitto, against a bare
interpreter loop on the same decoded input in the same run.

    python benchmarks/e2e_throughput.py [--pipeline faces|objects] [--messages 300] [--window 8]

Prints a JSON line and a markdown table; the README quotes the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess, toml_dump

from edge_agent.config.loader import load_config
from edge_agent.elastic.swapper import choose_variant
from edge_agent.pipelines.factory import build_pipeline

SAMPLES = {
    "faces": (REPO / "tests" / "fixtures" / "images" / "face.jpg", "image/jpeg"),
    "objects": (REPO / "tests" / "fixtures" / "objects" / "person_cat_row.jpg", "image/jpeg"),
}
# objects is not a default pipeline: the benchmark adds it (and routes images to it).
FLAGS = {"pipelines.objects.kind": "objects"}


def _settings():  # type: ignore[no-untyped-def]
    return load_config([], device_id="bench", environ={}, flags=FLAGS).settings


def bare_loop(pipeline_name: str, variant: str, n: int) -> dict[str, float]:
    """Time set_tensor + invoke + get_tensor on the already-prepared input tensor."""
    settings = _settings()
    pipeline = build_pipeline(pipeline_name, settings, settings.pipelines[pipeline_name])
    package = pipeline.package
    from edge_agent.runtime.interpreter import TFLiteModel

    spec = package.variant(variant)
    model = TFLiteModel(package.variant_path(variant), sha256=spec.sha256)
    size = package.manifest.pipeline.get("variants", {}).get(variant, {}).get("input_size")
    if size is not None and model.inputs[0].shape[2:] != (size, size):
        model.resize_input(0, (1, 3, size, size))  # a dynamic-size file run at this variant's size
    rng = np.random.default_rng(0)
    inp = model.inputs[0]
    x = inp.quantize(rng.uniform(-1, 1, inp.shape).astype(np.float32))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        model.set_raw_input(0, x)
        model.invoke()
        for i in range(len(model.outputs)):
            model.raw_output(i)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": statistics.median(times),
        "p99_ms": float(np.percentile(times, 99)),
        "per_s": 1000 / statistics.mean(times),
    }


def end_to_end(pipeline_name: str, variant: str, n: int, window: int) -> dict[str, float]:
    """Publish n payloads with at most ``window`` unanswered; time publish → result."""
    path, content_type = SAMPLES[pipeline_name]
    payload = path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="ea-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.start()
        config = {
            "device_id": "bench",
            "cache_dir": str(root / "cache"),
            "broker": {"url": broker.unix_url},
            "log": {"format": "json", "level": "warning"},
            "elastic": {"pinned": {pipeline_name: variant}},
            "pipelines": {
                k: {"kind": k, "enabled": k == pipeline_name, "inbox_size": 1000}
                for k in ("faces", "text", "wakeword", "objects")
            },
            "routes": {"images": {"topic": "sensors/+/image", "pipeline": pipeline_name}},
        }
        cfg = root / "bench.toml"
        cfg.write_text(toml_dump(config))
        client = TestClient(broker.unix_url)
        client.subscribe("edge-agent/bench/#")
        daemon = DaemonProcess(cfg, root)
        daemon.start()
        daemon.wait_online(client, "edge-agent/bench/status")
        topic = f"edge-agent/bench/results/{pipeline_name}/s"
        sent: dict[str, float] = {}
        latencies: list[float] = []
        done = threading.Semaphore(window)
        lock = threading.Lock()

        original = client._on_message

        def on_message(c, u, msg):  # type: ignore[no-untyped-def]
            if msg.topic == topic:
                rid = json.loads(msg.payload)["request_id"]
                if rid in sent:
                    with lock:
                        latencies.append((time.perf_counter() - sent[rid]) * 1000)
                    done.release()
            original(c, u, msg)

        client.client.on_message = on_message
        # Warm up.
        client.publish("sensors/s/image", payload, content_type=content_type, correlation_data=b"w")
        client.on_topic(topic, timeout=60)
        latencies.clear()
        t0 = time.perf_counter()
        for i in range(n):
            done.acquire(timeout=60)
            rid = f"b{i}"
            sent[rid] = time.perf_counter()
            client.client.publish(
                "sensors/s/image", payload, qos=1, properties=_props(content_type, rid)
            )
        deadline = time.monotonic() + 120
        while len(latencies) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        daemon.terminate()
        client.close()
        broker.stop()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": float(np.percentile(latencies, 99)),
        "per_s": len(latencies) / elapsed,
        "answered": len(latencies),
    }


def _props(content_type: str, rid: str):  # type: ignore[no-untyped-def]
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = Properties(PacketTypes.PUBLISH)
    p.ContentType = content_type
    p.CorrelationData = rid.encode()
    return p


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", default="faces", choices=sorted(SAMPLES))
    parser.add_argument("--variant")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--window", type=int, default=4)
    args = parser.parse_args()
    settings = _settings()
    from edge_agent.runtime.manifest import load_package

    package = load_package(settings.models_dir / args.pipeline)
    variant = args.variant or choose_variant(settings, package)
    bare = bare_loop(args.pipeline, variant, args.messages)
    e2e = end_to_end(args.pipeline, variant, args.messages, args.window)
    out = {
        "pipeline": args.pipeline,
        "variant": variant,
        "messages": args.messages,
        "window": args.window,
        "bare": bare,
        "e2e": e2e,
        "throughput_ratio": e2e["per_s"] / bare["per_s"],
    }
    print(json.dumps(out))
    print()
    print("| path | p50 ms | p99 ms | messages/s |")
    print("|---|---|---|---|")
    row = "| {} | {:.2f} | {:.2f} | {:.0f} |"
    print(row.format(f"bare interpreter loop ({variant})", bare["p50_ms"], bare["p99_ms"],
                     bare["per_s"]))
    print(row.format("end to end via mosquitto (decode, prepare, infer, publish)",
                     e2e["p50_ms"], e2e["p99_ms"], e2e["per_s"]))
    print(f"\nend-to-end throughput = {out['throughput_ratio']:.2f} x bare interpreter loop")


if __name__ == "__main__":
    main()
