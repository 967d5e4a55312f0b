"""The smallest memory cgroup in which sets of families still answer, and heavy-family swaps.

For each set — wake words only; + faces and objects; + speech (tiny-en); + generation
(SmolLM2) — a binary search over real cgroup limits (v1 or v2, as root) finds the
smallest limit in which the daemon starts and every family of the set answers one
message, ``--repeats`` times (the result moves with the page cache's state). Then,
for each heavy family, the time of its on-demand load (first message → answer,
and the swap the daemon reports) and of its idle unload.

    sudo python benchmarks/family_sets.py [--repeats 3] [--sets all] [--resolution-mib 8]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import FACE, REPO, WAKE, Broker, TestClient
from support.cgroup import MemoryCgroup, MiB, wrapper_into
from support.daemon import DaemonProcess, toml_dump

SNAPSHOT = REPO / "tests/fixtures/objects/horse_cat_row.jpg"
SETS: dict[str, list[str]] = {
    "wake words": ["wakeword"],
    "+ faces, objects": ["wakeword", "faces", "objects"],
    "+ speech tiny-en": ["wakeword", "faces", "objects", "speech"],
    "+ generation": ["wakeword", "faces", "objects", "speech", "generate"],
}
ROUTES = {
    "wakeword": {"topic": "sensors/+/clip", "pipeline": "wakeword", "options": {"mode": "clip"}},
    "faces": {"topic": "sensors/+/image", "pipeline": "faces"},
    "objects": {"topic": "sensors/+/snapshot", "pipeline": "objects"},
    "speech": {"topic": "sensors/+/voice", "pipeline": "speech", "options": {"mode": "clip"}},
    "generate": {"topic": "sensors/+/prompt", "pipeline": "generate"},
}


def _samples() -> dict[str, tuple[str, bytes, str]]:
    from support.speech import speak, wav_bytes

    return {
        "wakeword": ("sensors/b/clip", WAKE.read_bytes(), "audio/wav"),
        "faces": ("sensors/b/image", FACE.read_bytes(), "image/jpeg"),
        "objects": ("sensors/b/snapshot", SNAPSHOT.read_bytes(), "image/jpeg"),
        "speech": ("sensors/b/voice", wav_bytes(speak("turn off the kitchen lights")), "audio/wav"),
        "generate": ("sensors/b/prompt", b"Say hello in three words.", "text/plain"),
    }


def _config(root: Path, url: str, families: list[str], **extra: Any) -> Path:
    pipelines: dict[str, Any] = {
        k: {"kind": k, "enabled": False} for k in ("faces", "text", "wakeword")
    }
    for fam in families:
        pipelines[fam] = {"kind": fam, "shards": 1, "load": "at_start"}
    elastic: dict[str, Any] = {"pinned": {"speech": "tiny-en"}} if "speech" in families else {}
    elastic.update(extra.pop("elastic", {}))
    config = {
        "device_id": "bench",
        "cache_dir": str(REPO / "cache" / "bench-sets"),
        "broker": {"url": url},
        "log": {"format": "json", "level": "info"},
        "stats": {"interval_s": 60.0},
        "pipelines": pipelines,
        "routes": {f: ROUTES[f] for f in families},
        "elastic": elastic,
        **extra,
    }
    path = root / f"cfg-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(toml_dump(config))
    return path


def _ask(client: TestClient, sample: tuple[str, bytes, str], timeout: float) -> dict[str, Any]:
    topic, payload, ctype = sample
    rid = uuid.uuid4().hex
    client.publish(topic, payload, content_type=ctype, correlation_data=rid.encode())
    found = client.wait_for(
        lambda m: (
            (
                ("/results/" in m.topic and not m.topic.endswith("/partial"))
                or m.topic.endswith("/errors")
            )
            and m.json().get("request_id") == rid
        ),
        timeout=timeout,
    )
    return found[0].json()


@dataclass(frozen=True)
class Rig:
    """The broker, the client and the samples every run shares."""

    root: Path
    broker: Broker
    client: TestClient
    samples: dict[str, tuple[str, bytes, str]]


def fits_in(rig: Rig, families: list[str], limit: int) -> bool:
    group = MemoryCgroup()
    group.set_limit(limit)
    daemon = DaemonProcess(
        _config(rig.root, rig.broker.unix_url, families),
        rig.root,
        argv_prefix=[str(wrapper_into(group, rig.root))],
    )
    daemon.start()
    ok = False
    try:
        daemon.wait_online(rig.client, "edge-agent/bench/status", timeout=180)
        ok = all("result" in _ask(rig.client, rig.samples[f], 120) for f in families)
        ok = ok and daemon.proc is not None and daemon.proc.poll() is None
        ok = ok and group.oom_kills() == 0
    except (TimeoutError, RuntimeError):
        ok = False
    finally:
        daemon.terminate()
        group.remove()
    return ok


def smallest(rig: Rig, families: list[str], step: int) -> int:
    lo, hi = 16 * MiB, 3072 * MiB
    if not fits_in(rig, families, hi):
        raise RuntimeError(f"{families} do not answer in {hi // MiB} MiB")
    while hi - lo > step:
        mid = (lo + hi) // 2 // MiB * MiB
        if fits_in(rig, families, mid):
            hi = mid
        else:
            lo = mid
    return hi


def load_times(rig: Rig, family: str) -> dict[str, float]:
    """On-demand load (first message -> answer; the daemon's swap) and idle unload."""
    root, client = rig.root, rig.client
    cfg = _config(
        root, rig.broker.unix_url, [family], elastic={"check_interval_s": 0.2, "idle_unload_s": 3.0}
    )
    # The family's own idle time (generate keeps its engine 300 s) gives way to 3 s here.
    text = cfg.read_text().replace('load = "at_start"', 'load = "on_demand"\nidle_unload_s = 3.0')
    cfg.write_text(text)
    daemon = DaemonProcess(cfg, root)
    daemon.start()
    try:
        daemon.wait_online(client, "edge-agent/bench/status", timeout=120)
        t0 = time.monotonic()
        _ask(client, rig.samples[family], 300)
        first = time.monotonic() - t0
        deadline = time.monotonic() + 60
        swaps: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            docs = [
                m.json() for m in client.messages if m.topic == "edge-agent/bench/status/details"
            ]
            swaps = (docs[-1].get("sizing") or {}).get("swaps", []) if docs else []
            if any(s["to"] is None for s in swaps):
                break
            time.sleep(0.2)
        load = next((s["seconds"] for s in swaps if s["to"] is not None), float("nan"))
        unload = next((s["seconds"] for s in swaps if s["to"] is None), float("nan"))
    finally:
        daemon.terminate()
    return {"first_answer_s": round(first, 2), "load_s": load, "unload_s": unload}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--resolution-mib", type=int, default=8)
    parser.add_argument("--skip-limits", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root for memory cgroups")
    samples = _samples()
    out: dict[str, Any] = {"limits": {}, "swaps": {}}
    with tempfile.TemporaryDirectory(prefix="ea-sets-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.start()
        client = TestClient(broker.unix_url)
        client.subscribe("edge-agent/bench/#")
        rig = Rig(root, broker, client, samples)
        try:
            if not args.skip_limits:
                for name in args.sets:
                    found = [
                        smallest(rig, SETS[name], args.resolution_mib * MiB)
                        for _ in range(args.repeats)
                    ]
                    out["limits"][name] = found
                    print(f"{name}: {', '.join(f'{x // MiB}' for x in found)} MiB", flush=True)
            for family in ("speech", "generate"):
                if any(family in SETS[n] for n in args.sets):
                    out["swaps"][family] = load_times(rig, family)
        finally:
            client.close()
            broker.stop()
    print(json.dumps(out))
    if out["limits"]:
        print("\n| families | smallest cgroup limit (MiB), each search | largest |\n|---|---|---|")
        for name, found in out["limits"].items():
            print(f"| {name} | {', '.join(str(x // MiB) for x in found)} | {max(found) // MiB} |")
    if out["swaps"]:
        print(
            "\n| family | first message → answer (s) | load (s) | idle unload (s) |"
            "\n|---|---|---|---|"
        )
        for family, t in out["swaps"].items():
            print(f"| {family} | {t['first_answer_s']} | {t['load_s']} | {t['unload_s']} |")


if __name__ == "__main__":
    main()
