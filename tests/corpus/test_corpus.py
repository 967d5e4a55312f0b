"""The malformed-input corpus, end to end through mosquitto (see ``generate.py``).

Every case gets exactly its expected answer (a reason code, or a result); a good
message after every few bad ones is answered exactly once; no payload shows in
any log line or document; the daemon and all its workers are alive and healthy
at the end, inside the memory the README states.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cgroup import MiB, memory_cgroup, wrapper_into
from support.client import Received, TestClient
from support.daemon import DaemonProcess

HERE = Path(__file__).resolve().parent
ERRORS = "edge-agent/testdev/errors"
LIMIT_MIB = 128  # the README's figure for every shipped family (tests/daemon/test_memory_bounds)
GOOD_EVERY = 5
GOOD = {
    "image": ((HERE.parent / "fixtures/images/face.jpg").read_bytes(), "image/jpeg"),
    "audio": (
        (HERE.parent / "fixtures/wakeword/okay_nabu_flite_rms.wav").read_bytes(),
        "audio/wav",
    ),
    "text": (b"smoke in the hallway", "text/plain"),
}
PIPELINE = {"image": "faces", "audio": "wakeword", "text": "text"}


def _cases() -> list[dict[str, Any]]:
    # split("\n"), not splitlines(): a case holds U+2028, which splitlines() splits on.
    lines = (HERE / "cases.jsonl").read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line]


def test_corpus_file_is_current_and_large_enough() -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    cases = _cases()
    assert len(cases) >= 250
    kinds = Counter(c["id"].split("-")[0] for c in cases)
    assert set(kinds) >= {"img", "aud", "txt", "prop", "rt", "topic"}


def _request_id(corr: bytes) -> str:
    """The request id the daemon derives from correlation data (the README's rule)."""
    try:
        text = corr.decode("ascii")
    except UnicodeDecodeError:
        return corr.hex()[:64]
    return text if text.isprintable() and len(text) <= 128 else corr.hex()[:64]


def _answers(mqtt: TestClient, rid: str) -> list[Received]:
    return mqtt.matching(
        lambda m: (
            (m.topic == ERRORS or "/results/" in m.topic) and m.json().get("request_id") == rid
        )
    )


def _windows(data: bytes, width: int = 24) -> set[str]:
    """Distinctive 24-byte windows of a payload, raw (when text), hex and base64."""
    out: set[str] = set()
    if len(data) < width or len(set(data)) < 6:
        return out  # zeros or a few repeated bytes could match anything
    for start in range(0, len(data) - width + 1, max(width, len(data) // 8)):
        chunk = data[start : start + width]
        if len(set(chunk)) < 6:
            continue
        out.add(chunk.hex())
        out.add(base64.b64encode(chunk).decode()[:24])
        with contextlib.suppress(UnicodeDecodeError):
            out.add(chunk.decode("utf-8"))
    return out


@pytest.mark.slow
def test_every_case_gets_its_answer_and_nothing_breaks(  # noqa: PLR0915 - one scenario
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, tmp_path: Path
) -> None:
    cases = _cases()
    with memory_cgroup(LIMIT_MIB * MiB) as group:
        daemon = start_daemon(
            argv_prefix=[str(wrapper_into(group, tmp_path))],
            log={"format": "json", "level": "debug"},
            limits={"image": {"max_bytes": 20_000}, "text": {"max_chars": 1000}},
            pipelines={
                "faces": {"kind": "faces", "inbox_size": 300},
                "text": {"kind": "text", "inbox_size": 300},
                "wakeword": {"kind": "wakeword", "inbox_size": 300},
            },
            routes={
                "images": {"topic": "sensors/+/image", "pipeline": "faces"},
                "texts": {
                    "topic": "sensors/+/text",
                    "pipeline": "text",
                    "options": {
                        "labels": {"smoke": ["smoke or fire"], "light": ["lights on or off"]}
                    },
                },
                "audio": {
                    "topic": "sensors/+/audio",
                    "pipeline": "wakeword",
                    "options": {"mode": "clip"},
                },
            },
        )
        mqtt.subscribe("replies/#")
        goods: list[tuple[str, str]] = []
        for i, case in enumerate(cases):
            corr = (
                base64.b64decode(case["correlation_data"])
                if case["correlation_data"]
                else (case["id"].encode())
            )
            case["rid"] = _request_id(corr)
            mqtt.publish(
                case["topic"],
                base64.b64decode(case["payload"]),
                content_type=case["content_type"],
                response_topic=case["response_topic"],
                correlation_data=corr,
                user_properties=[tuple(p) for p in case["user_properties"]] or None,
            )
            if i % GOOD_EVERY == GOOD_EVERY - 1:
                modality = case["topic"].rsplit("/", 1)[-1]
                payload, ctype = GOOD[modality]
                rid = f"good-{i}"
                goods.append((rid, modality))
                mqtt.publish(
                    f"sensors/good/{modality}",
                    payload,
                    content_type=ctype,
                    correlation_data=rid.encode(),
                )
        deadline = time.monotonic() + 180
        pending = [c["rid"] for c in cases] + [rid for rid, _ in goods]
        while pending and time.monotonic() < deadline:
            pending = [rid for rid in pending if not _answers(mqtt, rid)]
            time.sleep(0.2)
        time.sleep(1.5)  # anything answered twice shows by now
        assert daemon.proc is not None
        assert daemon.proc.poll() is None, daemon.log()[-3000:]
        assert group.oom_kills() == 0
        peak = group.peak()
        details = mqtt.wait_for(lambda m: m.topic == "edge-agent/testdev/status/details")[-1]
        stats = mqtt.wait_for(lambda m: m.topic == "edge-agent/testdev/stats", timeout=30)[-1]
        log = daemon.log()

    wrong = []
    for case in cases:
        got = _answers(mqtt, case["rid"])
        on_result_topics = [m for m in got if m.topic != ERRORS]
        if case["expect"] == "result":
            ok = len(on_result_topics) == 1 and not [m for m in got if m.topic == ERRORS]
            if not ok:
                wrong.append((case["id"], "result", [m.json().get("reason") for m in got]))
            continue
        reasons = [m.json()["reason"] for m in got if m.topic == ERRORS]
        if reasons != [case["expect"]] or on_result_topics:
            wrong.append((case["id"], case["expect"], reasons))
    assert not wrong, wrong
    for rid, modality in goods:
        answers = _answers(mqtt, rid)
        assert len(answers) == 1, (rid, [m.topic for m in answers])
        assert answers[0].topic.startswith(f"edge-agent/testdev/results/{PIPELINE[modality]}/")

    # Nothing but the daemon's documents went anywhere: no reply to a refused topic.
    assert not mqtt.matching(lambda m: m.topic.startswith("rel/"))
    assert {m.payload for m in mqtt.matching(lambda m: m.topic == "edge-agent/testdev/status")} == {
        b"online"
    }
    # No payload bytes in the log or in any document.
    documents = "\n".join(m.payload.decode("utf-8", "replace") for m in mqtt.messages)
    for case in cases:
        for window in _windows(base64.b64decode(case["payload"])):
            assert window not in log, (case["id"], window)
            assert window not in documents, (case["id"], window)
    assert details.json()["healthy"] is True
    workers = stats.json()["pipelines"]
    assert all(p.get("worker_errors", 0) == 0 for p in workers.values()), workers
    assert "Traceback" not in log
    assert 0 < peak <= LIMIT_MIB * MiB
