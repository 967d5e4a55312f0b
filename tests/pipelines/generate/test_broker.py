"""The generate pipeline end to end: real mosquitto, the real daemon, the real ``.litertlm``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.client import Received, TestClient
from support.daemon import DaemonProcess

from edge_agent.runtime.manifest import ModelPackage

RESULT = "edge-agent/testdev/results/generate/s1"
PARTIAL = RESULT + "/partial"
ERRORS = "edge-agent/testdev/errors"
INTENTS = {"lights_on": {"room": "string"}, "lights_off": {"room": "string"}}


@pytest.fixture(autouse=True)
def _built(generate_package: ModelPackage) -> None:
    """Every test here needs the built artifact (built once when missing)."""


def _start(start_daemon: Callable[..., DaemonProcess], **extra: Any) -> DaemonProcess:
    # Pinned: the tests build only this variant, and with both built quality-first would
    # pick kv512 (same measured quality, smaller need).
    return start_daemon(
        elastic={"pinned": {"generate": "smollm2-135m-kv1024"}},
        pipelines={
            "faces": {"kind": "faces", "enabled": False},
            "generate": {"kind": "generate", "threads": 2, "inbox_size": 4},
        },
        routes={
            "ask": {"topic": "sensors/+/prompt", "pipeline": "generate"},
            "command": {"topic": "sensors/+/command", "pipeline": "generate", "forward": "intents"},
            "intents": {
                "pipeline": "generate",
                "options": {"structured": {"intents": INTENTS}, "stream": False},
            },
        },
        **extra,
    )


def _ask(mqtt: TestClient, prompt: str, corr: bytes, **fields: Any) -> None:
    mqtt.publish(
        "sensors/s1/prompt",
        json.dumps({"prompt": prompt, **fields}).encode(),
        content_type="application/json",
        correlation_data=corr,
        response_topic="clients/c1/inbox",
    )


def _for(corr: bytes) -> Callable[[Received], bool]:
    return lambda m: m.correlation_data == corr


def test_answer_streams_partials_and_lands_on_the_response_topic(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    _start(start_daemon)
    mqtt.subscribe("clients/c1/inbox")
    _ask(mqtt, "Name two planets.", b"q1", max_tokens=24)
    [result] = mqtt.wait_for(lambda m: m.topic == RESULT and m.correlation_data == b"q1")
    doc = result.json()
    partials = [m.json() for m in mqtt.matching(lambda m: m.topic == PARTIAL)]
    replies = mqtt.wait_for(lambda m: m.topic == "clients/c1/inbox", count=len(partials) + 1)
    assert doc["model"] == {
        "family": "generate",
        "variant": "smollm2-135m-kv1024",
        "task": "text-generation",
    }
    assert doc["result"]["finish_reason"] in ("stop", "length")
    assert [p["seq"] for p in partials] == list(range(len(partials)))
    assert "".join(p["partial"]["text"] for p in partials) == doc["result"]["text"]
    assert all(r.correlation_data == b"q1" for r in replies)
    assert replies[-1].json()["schema"] == "edge-agent/result/1"


def test_too_long_prompt_is_a_reason_coded_error(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    _start(start_daemon)
    _ask(mqtt, "lamp " * 800, b"long")  # under limits.text.max_chars (4096)
    [err] = mqtt.wait_for(lambda m: m.topic == ERRORS and m.correlation_data == b"long")
    assert err.json()["reason"] == "prompt_too_long"
    assert "lamp" not in err.payload.decode()


def test_a_forwarded_command_gets_a_structured_intent(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    """A route fed only by `forward` answers with the parsed intent (the voice chain's end)."""
    _start(start_daemon)
    mqtt.publish(
        "sensors/s1/command",
        b"Repeat exactly: turn on the lights in the kitchen",
        content_type="text/plain",
        correlation_data=b"cmd",
    )
    docs = mqtt.wait_for(
        lambda m: m.topic == RESULT and m.correlation_data == b"cmd", count=2, timeout=60
    )
    chained = next(d.json() for d in docs if "chain" in d.json())
    assert chained["route"] == "intents"
    assert chained["chain"]["route"] == "command"
    assert chained["result"]["json"]["intent"] in INTENTS


def test_sigterm_during_a_generation_hands_it_back_and_it_is_answered_once(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    daemon = _start(start_daemon)
    _ask(mqtt, "Write a long story about a lighthouse keeper and the sea.", b"cut", max_tokens=250)
    mqtt.wait_for(lambda m: m.topic == PARTIAL and m.correlation_data == b"cut", timeout=60)
    started = time.monotonic()
    assert daemon.terminate() == 0
    assert time.monotonic() - started < 10
    assert not mqtt.matching(lambda m: m.topic == RESULT and m.correlation_data == b"cut")
    assert "message_cancelled" in daemon.log()
    _start(start_daemon)
    mqtt.wait_for(lambda m: m.topic == RESULT and m.correlation_data == b"cut", timeout=90)
    time.sleep(1.0)  # a second answer would show up by now
    answers = mqtt.matching(lambda m: m.topic == RESULT and m.correlation_data == b"cut")
    assert len(answers) == 1
