"""The ``wakeword`` pipeline end to end: real mosquitto, real daemon, real models.

Fixture ``okay_nabu_flite_rms.wav`` (see ``test_wakeword.py``) is streamed as raw
``audio/L16`` chunks (big-endian, RFC 2586) and sent whole as a WAV clip.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from support.client import TestClient
from support.daemon import DaemonProcess

pytest.importorskip("pymicro_features", reason="pymicro-features is a runtime dependency")

FIXTURE = Path(__file__).parents[1] / "fixtures" / "wakeword" / "okay_nabu_flite_rms.wav"
RESULT = "edge-agent/testdev/results/wakeword/mic1"
L16 = "audio/L16;rate=16000;channels=1"


def _start(start_daemon: Callable[..., DaemonProcess]) -> DaemonProcess:
    return start_daemon(
        pipelines={
            "faces": {"kind": "faces", "enabled": False},
            "wakeword": {"kind": "wakeword", "enabled": True},
        },
        routes={
            "audio": {"topic": "sensors/+/audio", "pipeline": "wakeword"},
            "clips": {
                "topic": "sensors/+/clip",
                "pipeline": "wakeword",
                "options": {"mode": "clip"},
            },
        },
    )


def _l16() -> bytes:
    with wave.open(str(FIXTURE), "rb") as wf:
        little = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2")
    return little.astype(">i2").tobytes()


def test_streamed_phrase_publishes_one_wake_word_event(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    _start(start_daemon)
    pcm = _l16()
    chunk = 3200  # 100 ms
    for seq, i in enumerate(range(0, len(pcm), chunk)):
        mqtt.publish(
            "sensors/mic1/audio",
            pcm[i : i + chunk],
            content_type=L16,
            user_properties=[("stream", "s1"), ("seq", str(seq))],
        )
    doc = mqtt.on_topic(RESULT)[0].json()
    assert doc["result"]["event"] == "wake_word"
    assert doc["result"]["wake_word"] == "okay_nabu"
    assert doc["result"]["stream"] == "s1"


def test_wav_clip_gets_one_result_with_detections(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    _start(start_daemon)
    mqtt.publish("sensors/mic1/clip", FIXTURE.read_bytes(), content_type="audio/wav")
    doc = mqtt.on_topic(RESULT)[0].json()
    assert [d["wake_word"] for d in doc["result"]["detections"]] == ["okay_nabu"]
    assert doc["result"]["duration_s"] > 1.0
