"""Start-up time: process start to the retained ``online`` status, with every shipped family.

Each round starts ``python -m edge_agent run`` against a private mosquitto and times
the first ``online`` (not retained: the one published after the families are loaded
and the subscriptions made). Families load as they do by default: speech and generate
on their first message, so they add their imports and config, not their load. The
first round warms the cache dir (sliced variants, XNNPACK weight caches) and the page
cache; the figure is the later rounds. The daemon's own log gives where the time went
(first three rounds' milestones printed).
Byte-compiled modules are part of a warm start: run it with the environment an
installed daemon has (``PYTHONDONTWRITEBYTECODE`` unset).

    python benchmarks/startup.py [--rounds 6] [--families faces text wakeword objects]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import REPO, Broker, TestClient, toml_dump

ROUTES: dict[str, dict[str, Any]] = {
    "faces": {"topic": "sensors/+/image", "pipeline": "faces"},
    "objects": {"topic": "sensors/+/snapshot", "pipeline": "objects"},
    "text": {
        "topic": "sensors/+/text",
        "pipeline": "text",
        "options": {"labels": {"alarm": ["an alarm"], "other": ["something else"]}},
    },
    "wakeword": {"topic": "sensors/+/audio", "pipeline": "wakeword"},
    "speech": {"topic": "sensors/+/voice", "pipeline": "speech", "options": {"mode": "clip"}},
    "generate": {"topic": "sensors/+/prompt", "pipeline": "generate"},
}


def _milestones(log: Path, started_wall: float) -> list[str]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        if doc.get("event") in ("native_log", None):
            continue
        at = datetime.datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00")).timestamp()
        what = doc.get("variant") or doc.get("to") or ""
        out.append(f"{at - started_wall:6.2f} s  {doc['event']} {what}".rstrip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--families", nargs="+", default=["faces", "text", "wakeword", "objects"], choices=ROUTES
    )
    parser.add_argument("--show", type=int, default=2, help="rounds whose milestones to print")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "edge_agent")], check=True)
    with tempfile.TemporaryDirectory(prefix="ea-startup-") as tmp:
        root = Path(tmp)
        broker = Broker(root)
        broker.start()
        pipelines: dict[str, Any] = {
            k: {"kind": k, "enabled": False} for k in ("faces", "text", "wakeword")
        }
        for fam in args.families:
            # each family's default loading: speech and generate load on their first message
            pipelines[fam] = {"kind": fam}
        config = {
            "device_id": "st",
            "cache_dir": str(root / "cache"),
            "broker": {"url": broker.unix_url},
            "log": {"format": "json", "level": "info"},
            "pipelines": pipelines,
            "routes": {f: ROUTES[f] for f in args.families},
        }
        cfg = root / "config.toml"
        cfg.write_text(toml_dump(config))
        client = TestClient(broker.unix_url)
        client.subscribe("edge-agent/st/status")
        times = []
        try:
            for i in range(args.rounds):
                client.messages.clear()
                log = root / f"round{i}.log"
                t0, wall0 = time.monotonic(), time.time()
                with log.open("w") as err:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "edge_agent", "run", "-c", str(cfg)],
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        env=env,
                        cwd=REPO,
                    )
                    while time.monotonic() - t0 < 120 and not any(
                        m.payload == b"online" and not m.retain for m in client.messages
                    ):
                        time.sleep(0.002)
                    took = time.monotonic() - t0
                    proc.terminate()
                    proc.wait(30)
                label = "warm-up (fills the cache dir)" if i == 0 else "warm"
                print(f"round {i}: online after {took:.2f} s  [{label}]", flush=True)
                if i > 0:
                    times.append(took)
                if 0 < i <= args.show:
                    for line in _milestones(log, wall0):
                        print("    " + line)
        finally:
            client.close()
            broker.stop()
    if times:
        print(
            f"\nfamilies {', '.join(args.families)}: warm start to online "
            f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
            f"max {max(times):.2f} s over {len(times)} rounds"
        )


if __name__ == "__main__":
    main()
