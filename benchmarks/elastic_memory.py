"""Elastic sizing figures for the README.

    python benchmarks/elastic_memory.py [--skip-cgroup]

1. Swap time: with the daemon streaming text messages, one sizing decision is
   applied by hand; time from the decision to the first answer from the new variant.
2. Anonymous memory (RssAnon) of the whole daemon process per variant of each
   family, each family alone, pinned to that variant, after it answered a message.
3. The smallest cgroup limit (v1 or v2, as root) in which the daemon with all
   shipped families still answers one message on every route (binary search to
   8 MiB, ``--repeats`` times; every start after the first finds its variants
   already prepared on disk, as a restarted device does). The result moves with
   the page cache's state by tens of MiB between searches, so all are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess, toml_dump

from edge_agent.runtime.manifest import load_package

MiB = 1024 * 1024
FAMILIES = ("faces", "text", "wakeword")
SAMPLES = {
    "faces": (
        "sensors/b/image",
        (REPO / "tests/fixtures/images/face.jpg").read_bytes(),
        "image/jpeg",
    ),
    "text": ("sensors/b/text", b"the basement floor is wet near the boiler", "text/plain"),
    "wakeword": (
        "sensors/b/clip",
        (REPO / "tests/fixtures/wakeword/okay_nabu_flite_rms.wav").read_bytes(),
        "audio/wav",
    ),
}


def _config(
    root: Path, url: str, enabled: set[str], pinned: dict[str, str] | None = None, **extra: Any
) -> Path:
    config: dict[str, Any] = {
        "device_id": "bench",
        "cache_dir": str(root / "cache"),
        "broker": {"url": url},
        "log": {"format": "json", "level": "info"},
        "stats": {"interval_s": 60.0},
        "pipelines": {k: {"kind": k, "enabled": k in enabled} for k in FAMILIES},
        "routes": {
            "clip": {
                "topic": "sensors/+/clip",
                "pipeline": "wakeword",
                "options": {"mode": "clip"},
                "enabled": "wakeword" in enabled,
            }
        },
        **extra,
    }
    if pinned:
        config["elastic"] = {"pinned": pinned, **config.get("elastic", {})}
    path = root / f"cfg-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(toml_dump(config))
    return path


def _ask(client: TestClient, family: str, timeout: float = 60) -> dict[str, Any]:
    topic, payload, ctype = SAMPLES[family]
    rid = uuid.uuid4().hex
    client.publish(topic, payload, content_type=ctype, correlation_data=rid.encode())
    found = client.wait_for(
        lambda m: "/results/" in m.topic and m.json().get("request_id") == rid, timeout=timeout
    )
    return found[0].json()


def rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def memory_per_variant(root: Path, broker: Broker, client: TestClient) -> list[dict[str, Any]]:
    rows = []
    for family in FAMILIES:
        package = load_package(REPO / "models" / family)
        for variant in package.manifest.variants:
            cfg = _config(root, broker.unix_url, {family}, {family: variant.id})
            daemon = DaemonProcess(cfg, root)
            daemon.start()
            daemon.wait_online(client, "edge-agent/bench/status")
            doc = _ask(client, family)
            assert doc["model"]["variant"] == variant.id, doc["model"]
            time.sleep(0.5)
            pid = daemon.proc.pid  # type: ignore[union-attr]
            rows.append(
                {
                    "family": family,
                    "variant": variant.id,
                    "daemon_rss_anon": rss(pid, "RssAnon"),
                    "daemon_rss_file": rss(pid, "RssFile"),
                }
            )
            daemon.terminate()
    return rows


def swap_time(root: Path, broker: Broker, client: TestClient) -> dict[str, Any]:
    """In-process daemon; apply one decision by hand while messages stream."""
    from edge_agent.config.loader import load_config
    from edge_agent.daemon import Daemon
    from edge_agent.elastic.decision import Decision, SizingReason
    from edge_agent.logs import configure_logging

    configure_logging("warning", "json")
    cfg = _config(root, broker.unix_url, {"text"}, elastic={"check_interval_s": 3600.0})
    daemon = Daemon(load_config([cfg], environ={}).settings)
    daemon.start()
    stop = threading.Event()
    topic = "edge-agent/bench/results/text/b"

    def pump() -> None:
        while not stop.is_set():
            client.publish(*SAMPLES["text"][:2], content_type="text/plain")
            time.sleep(0.01)

    seen = len(client.messages)
    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    time.sleep(1.0)
    out = {}
    assert daemon.sizing is not None
    for to in ("s", "xl"):
        current = daemon.sizing.controller.current()["text"]
        decision = Decision(
            "text",
            current,
            to,
            SizingReason.OVER_BUDGET if to == "s" else SizingReason.STEP_UP,
            0,
            0,
            0,
            transient_fits=True,
        )
        t0 = time.monotonic()
        daemon.sizing.apply("text", to, decision)
        applied = time.monotonic() - t0
        while True:
            new = [
                m
                for m in client.messages[seen:]
                if m.topic == topic and m.json()["model"]["variant"] == to
            ]
            if new:
                break
            time.sleep(0.005)
        first_answer = time.monotonic() - t0
        seen = len(client.messages)
        out[f"{current}->{to}"] = {
            "apply_s": round(applied, 3),
            "decision_to_first_answer_s": round(first_answer, 3),
        }
    stop.set()
    thread.join(5)
    daemon.stop()
    return out


def _cgroup(limit: int) -> Path:
    v1 = Path("/sys/fs/cgroup/memory")
    base = v1 if v1.is_dir() else Path("/sys/fs/cgroup")
    path = base / f"edge-agent-bench-{uuid.uuid4().hex[:6]}"
    path.mkdir()
    (path / ("memory.limit_in_bytes" if base == v1 else "memory.max")).write_text(str(limit))
    return path


def fits_in(root: Path, broker: Broker, client: TestClient, limit: int) -> bool:
    group = _cgroup(limit)
    wrapper = root / "in-cgroup.sh"
    wrapper.write_text(f'#!/bin/sh\necho $$ > {group / "cgroup.procs"}\nexec "$@"\n')
    wrapper.chmod(0o755)
    cfg = _config(root, broker.unix_url, set(FAMILIES))
    daemon = DaemonProcess(cfg, root, argv_prefix=[str(wrapper)])
    daemon.start()
    ok = False
    try:
        daemon.wait_online(client, "edge-agent/bench/status", timeout=90)
        ok = all(_ask(client, f, timeout=30)["result"] is not None for f in FAMILIES)
        ok = ok and daemon.proc is not None and daemon.proc.poll() is None
    except (TimeoutError, RuntimeError):
        ok = False
    finally:
        daemon.terminate()
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    return ok


def smallest_limit(root: Path, broker: Broker, client: TestClient) -> int:
    lo, hi = 32 * MiB, 512 * MiB
    if not fits_in(root, broker, client, hi):
        raise RuntimeError("does not run in 512 MiB")
    while hi - lo > 8 * MiB:
        mid = (lo + hi) // 2
        if fits_in(root, broker, client, mid):
            hi = mid
        else:
            lo = mid
    return hi


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cgroup", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="binary searches for the limit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ea-el-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.start()
        client = TestClient(broker.unix_url)
        client.subscribe("edge-agent/bench/#")
        try:
            out: dict[str, Any] = {"swap": swap_time(root, broker, client)}
            out["memory"] = memory_per_variant(root, broker, client)
            if not args.skip_cgroup and os.geteuid() == 0:
                out["smallest_cgroup_limit_bytes"] = [
                    smallest_limit(root, broker, client) for _ in range(args.repeats)
                ]
        finally:
            client.close()
            broker.stop()
    print(json.dumps(out))
    print("\n| family | variant | daemon RssAnon (MiB) | daemon RssFile (MiB) |\n|---|---|---|---|")
    for row in out["memory"]:
        print(
            f"| {row['family']} | {row['variant']} | {row['daemon_rss_anon'] / MiB:.1f} "
            f"| {row['daemon_rss_file'] / MiB:.1f} |"
        )
    print("\n| swap | decision → first answer from the new variant (s) |\n|---|---|")
    for name, fig in out["swap"].items():
        print(f"| {name} | {fig['decision_to_first_answer_s']:.3f} |")
    if "smallest_cgroup_limit_bytes" in out:
        found = out["smallest_cgroup_limit_bytes"]
        each = ", ".join(f"{x / MiB:.0f}" for x in found)
        print(
            f"\nsmallest cgroup limit answering every route: {max(found) / MiB:.0f} MiB "
            f"(searches: {each} MiB)"
        )


if __name__ == "__main__":
    main()
