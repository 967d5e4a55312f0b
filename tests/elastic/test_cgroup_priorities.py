"""The live proof of sizing across families: a memory hog beside the daemon in a real cgroup.

Every shipped family serves a mixed stream while a hog in the same memory cgroup
takes memory in steps and then gives it back. Families must step down and unload
in priority order (lowest first) before anything is OOM-killed, every message is
answered exactly once (a result, or model_unavailable while its family is held
off), and when the hog leaves the families come back, highest priority first.

cgroup v1 here, v2 on Raspberry Pi OS; needs root (skips with the reason otherwise).
Heavy families (speech, generate) join when their extras and artifacts are present.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cgroup import MemoryCgroup, MiB, memory_cgroup, wrapper_into
from support.client import TestClient
from support.daemon import DaemonProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DETAILS = "edge-agent/testdev/status/details"
ERRORS = "edge-agent/testdev/errors"
SHIPPED = {"wakeword": 90, "faces": 80, "objects": 80, "text": 70}
HEAVY = {"speech": 50, "generate": 30}  # the families' default priorities


def _heavy_present() -> dict[str, int]:
    """The heavy families whose runtime and weights are on this machine."""
    import importlib.util

    from edge_agent.config.models import default_models_dir
    from edge_agent.runtime.manifest import load_package

    present = {}
    for family, module in (("speech", "ctranslate2"), ("generate", "litert_lm")):
        if importlib.util.find_spec(module) is None:
            continue
        package = load_package(default_models_dir() / family)
        if package.available_variants():
            present[family] = HEAVY[family]
    return present


PRIORITY = {**SHIPPED, **_heavy_present()}
HOG = """
import sys
held = []
for line in sys.stdin:
    step = int(line)
    if step > 0:
        block = bytearray(step << 20)
        block[::4096] = b"x" * len(block[::4096])  # resident, not just reserved
        held.append(block)
    elif held:
        held.pop()
    print(len(held), flush=True)
"""


HEAVY_ROUTES: dict[str, Any] = {
    name: route
    for name, route in (
        # speech waits for its family to come back (up to wait_s), generate is refused at once
        (
            "voice",
            {
                "topic": "sensors/+/voice",
                "pipeline": "speech",
                "options": {"mode": "clip"},
                "when_unloaded": "wait",
                "wait_s": 2.0,
            },
        ),
        ("prompts", {"topic": "sensors/+/prompt", "pipeline": "generate"}),
    )
    if route["pipeline"] in PRIORITY
}


class Hog:
    """A process in the cgroup that takes and gives back memory in MiB steps."""

    def __init__(self, group: MemoryCgroup, folder: Path) -> None:
        self.proc = subprocess.Popen(
            [str(wrapper_into(group, folder)), sys.executable, "-c", HOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def step(self, mib: int) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{mib}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def _variants(mqtt: TestClient) -> dict[str, str | None]:
    docs = [m.json() for m in mqtt.messages if m.topic == DETAILS]
    return {k: v["variant"] for k, v in docs[-1]["pipelines"].items()} if docs else {}


def _history(mqtt: TestClient) -> list[dict[str, str | None]]:
    return [
        {k: v["variant"] for k, v in m.json()["pipelines"].items()}
        for m in mqtt.messages
        if m.topic == DETAILS
    ]


class Traffic:
    """A steady mixed stream on every route; remembers every request it sent."""

    def __init__(self, mqtt: TestClient) -> None:
        self.mqtt = mqtt
        self.sent: dict[str, str] = {}  # request id -> pipeline
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        face = (FIXTURES / "images/face.jpg").read_bytes()
        snapshot = (FIXTURES / "objects/horse_cat_row.jpg").read_bytes()
        wav = (FIXTURES / "wakeword/okay_nabu_flite_rms.wav").read_bytes()
        self.kinds = [
            ("faces", "sensors/door/image", face, "image/jpeg"),
            ("objects", "sensors/drive/snapshot", snapshot, "image/jpeg"),
            ("text", "sensors/hub/text", b"the smoke alarm is beeping", "text/plain"),
            ("wakeword", "sensors/mic/audio", wav, "audio/wav"),
        ]
        if "speech" in PRIORITY:
            from support.speech import speak, wav_bytes

            command = wav_bytes(speak("turn off the kitchen lights"))
            self.kinds.append(("speech", "sensors/mic/voice", command, "audio/wav"))
        if "generate" in PRIORITY:
            prompt = b'{"text": "Say hello in three words.", "max_tokens": 8}'
            self.kinds.append(("generate", "sensors/hub/prompt", prompt, "application/json"))

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(0.25):
            pipeline, topic, payload, ctype = self.kinds[i % len(self.kinds)]
            rid = f"{pipeline}-{i}"
            self.sent[rid] = pipeline
            self.mqtt.publish(topic, payload, content_type=ctype, correlation_data=rid.encode())
            i += 1

    def answers(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {rid: [] for rid in self.sent}
        for m in self.mqtt.messages:
            if m.topic == ERRORS or ("/results/" in m.topic and not m.topic.endswith("/partial")):
                doc = m.json()
                if doc.get("request_id") in out:
                    out[doc["request_id"]].append(doc)
        return out


def _settled_working_set(group: MemoryCgroup) -> int:
    """The cgroup's working set once it stops growing (a fresh load touches pages for a while)."""
    deadline, seen = time.monotonic() + 20, -1
    while time.monotonic() < deadline:
        now = group.working_set()
        if abs(now - seen) < 4 * MiB:
            return now
        seen = now
        time.sleep(1.0)
    return group.working_set()


def _variants_of(details: dict[str, Any]) -> dict[str, str | None]:
    return {k: v["variant"] for k, v in details["pipelines"].items()}


def _decision(details: dict[str, Any], family: str) -> dict[str, Any]:
    decisions = (details.get("sizing") or {}).get("decisions", [])
    return next(d for d in decisions if d["family"] == family)


@pytest.mark.slow
def test_families_give_way_in_priority_order_and_come_back(  # noqa: PLR0915 - one scenario
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, tmp_path: Path
) -> None:
    with memory_cgroup(2048 * MiB) as group:
        reserve = 24 * MiB
        daemon = start_daemon(
            argv_prefix=[str(wrapper_into(group, tmp_path))],
            pipelines={
                "faces": {"kind": "faces"},
                "objects": {"kind": "objects"},
                "text": {"kind": "text"},
                "wakeword": {"kind": "wakeword", "shards": 1},
                **{f: {"kind": f, "idle_unload_s": 3600.0} for f in HEAVY if f in PRIORITY},
            },
            routes={
                **HEAVY_ROUTES,
                "images": {"topic": "sensors/+/image", "pipeline": "faces"},
                "snapshots": {"topic": "sensors/+/snapshot", "pipeline": "objects"},
                "texts": {
                    "topic": "sensors/+/text",
                    "pipeline": "text",
                    "options": {"labels": {"alarm": ["an alarm"], "other": ["else"]}},
                },
                "audio": {
                    "topic": "sensors/+/audio",
                    "pipeline": "wakeword",
                    "options": {"mode": "clip"},
                },
            },
            elastic={
                "check_interval_s": 0.3,
                "hold_s": 2.0,
                "cgroup_reserve_bytes": reserve,
                "idle_unload_s": 3600.0,
            },
        )
        traffic = Traffic(mqtt)
        traffic.thread.start()
        deadline = time.monotonic() + 60  # the heavy families load on their first message
        while time.monotonic() < deadline and any(_variants(mqtt).get(f) is None for f in PRIORITY):
            time.sleep(0.2)
        top = _variants(mqtt)
        assert all(top[f] is not None for f in PRIORITY), top
        # Room for the hog to squeeze every family out, never the kernel's limit: the
        # hog steps only while the cgroup has room for the step and a margin (as the
        # daemon unloads, its working set shrinks and the hog may take more).
        limit = _settled_working_set(group) + reserve + 120 * MiB
        group.set_limit(limit)
        hog = Hog(group, tmp_path)
        taken = 0
        step = 16 if "generate" in PRIORITY else 8  # a few hundred MiB more to squeeze out
        try:
            while group.working_set() + 24 * MiB < limit and (
                _variants(mqtt).get("wakeword") is not None
            ):
                hog.step(step)
                taken += step
                time.sleep(1.0)
            squeezed = _variants(mqtt)
            assert taken > 0, (group.working_set() // MiB, limit // MiB)
            assert daemon.proc is not None
            assert daemon.proc.poll() is None
            assert group.oom_kills() == 0
        finally:
            hog.stop()  # all of it back at once: every family may return in the same check
        group.set_limit(2048 * MiB)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_variants(mqtt)[f] is None for f in PRIORITY):
            time.sleep(0.2)
        back = _variants(mqtt)
        traffic.stop.set()
        traffic.thread.join(10)
        time.sleep(3.0)  # the last answers arrive
        history = _history(mqtt)
        details = [m.json() for m in mqtt.messages if m.topic == DETAILS]
        # From the moment every family was loaded (on-demand ones load after the start).
        history = history[next(i for i, h in enumerate(history) if None not in h.values()) :]
        answers = traffic.answers()
        assert group.oom_kills() == 0

    assert all(back[f] is not None for f in PRIORITY), back
    lowest = min(PRIORITY, key=PRIORITY.__getitem__)
    assert squeezed[lowest] is None, squeezed  # the lowest priority gave way completely
    # Order of giving way: a family of higher priority changed while a lower one was
    # still loaded only when it could not keep its variant even with the lower ones'
    # memory (the budget counts what they hold), and the lowest went first.
    squeeze = [d for d in details if None not in _variants_of(d).values()][:1]
    start = details.index(squeeze[0])
    for before, after in zip(details[start:], details[start + 1 :], strict=False):
        old_v, new_v = _variants_of(before), _variants_of(after)
        for high, rank in PRIORITY.items():
            if old_v[high] is None or new_v[high] == old_v[high]:
                continue
            lower_loaded = [f for f, r in PRIORITY.items() if r < rank and new_v[f] is not None]
            if not lower_loaded:
                continue
            kept_need = _decision(before, high)["need_bytes"]
            available = _decision(after, high)["available_bytes"]
            assert available < kept_need, (high, lower_loaded, old_v, new_v)
    gone = {f: next((i for i, h in enumerate(history) if h[f] is None), None) for f in PRIORITY}
    assert gone[lowest] is not None
    assert all(g is None or gone[lowest] <= g for g in gone.values()), gone
    # Coming back: every family's first load after the squeeze, highest priority first.
    bottom = max(i for i, h in enumerate(history) if h[lowest] is None)
    reloads = {
        f: next((i for i, h in enumerate(history[bottom:]) if h[f] is not None), 0)
        for f in PRIORITY
    }
    for high, rank in PRIORITY.items():
        for low, r in PRIORITY.items():
            if r < rank:
                assert reloads[high] <= reloads[low], (high, low, reloads)
    # Every request answered exactly once: a result, or model_unavailable while held off.
    wrong = {
        rid: [d.get("reason", "result") for d in docs]
        for rid, docs in answers.items()
        if len(docs) != 1
    }
    assert not wrong, wrong
    reasons = {d.get("reason") for docs in answers.values() for d in docs if "reason" in d}
    assert reasons <= {"model_unavailable"}, reasons
    assert "model_unavailable" in reasons  # the squeeze did hold families off
