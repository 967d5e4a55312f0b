"""The ``wakeword`` pipeline end to end: real mosquitto, real daemon, real models.

Fixture ``okay_nabu_flite_rms.wav`` (see ``test_pipeline.py``) is streamed as raw
``audio/L16`` chunks (big-endian, RFC 2586) and sent whole as a WAV clip.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from support.client import TestClient
from support.daemon import DaemonProcess

pytest.importorskip("pymicro_features", reason="pymicro-features is a runtime dependency")

FIXTURE = Path(__file__).parents[2] / "fixtures" / "wakeword" / "okay_nabu_flite_rms.wav"
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


def test_two_sensors_interleaved_get_their_own_detections(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    """Uneven chunks of two streams, interleaved on the broker: each keeps its own state."""
    _start(start_daemon)
    silence = b"\0\0" * 8000  # 0.5 s
    streams = {"mic1": _l16(), "mic2": silence + _l16()}
    rng = np.random.default_rng(7)
    cursors = {"mic1": 0, "mic2": 0}
    seqs = {"mic1": 0, "mic2": 0}
    while any(cursors[s] < len(pcm) for s, pcm in streams.items()):
        for sensor, pcm in streams.items():
            if cursors[sensor] >= len(pcm):
                continue
            size = int(rng.integers(80, 4000)) * 2  # uneven, sample-aligned
            mqtt.publish(
                f"sensors/{sensor}/audio",
                pcm[cursors[sensor] : cursors[sensor] + size],
                content_type=L16,
                user_properties=[("stream", sensor), ("seq", str(seqs[sensor]))],
            )
            cursors[sensor] += size
            seqs[sensor] += 1
    for sensor in streams:
        mqtt.on_topic(f"edge-agent/testdev/results/wakeword/{sensor}", timeout=30)
    time.sleep(1.0)  # a second (wrong) event would arrive by now
    events = {
        sensor: [
            m.json()["result"]
            for m in mqtt.matching(
                lambda m, s=sensor: m.topic == f"edge-agent/testdev/results/wakeword/{s}"
            )
        ]
        for sensor in streams
    }
    assert [e["wake_word"] for e in events["mic1"]] == ["okay_nabu"]
    assert [e["wake_word"] for e in events["mic2"]] == ["okay_nabu"]
    # The same phrase, 0.5 s later in mic2's own stream.
    assert events["mic2"][0]["offset_s"] - events["mic1"][0]["offset_s"] == pytest.approx(
        0.5, abs=0.05
    )
