"""The ``speech`` pipeline end to end: real mosquitto, the real daemon, real Whisper weights.

Speech is synthesized by the eval's dev voice (flite ``slt``) and streamed as raw
``audio/L16`` chunks (big-endian, RFC 2586) of uneven sizes, or sent as WAV clips.
tiny-en is pinned so the tests do not depend on the box's free memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from support.client import TestClient
from support.daemon import DaemonProcess
from support.speech import l16_chunks, silence, speak, wav_bytes

from edge_agent.pipelines.speech.wer import word_error_rate

pytestmark = pytest.mark.usefixtures("speech_package", "synth_ok")

L16 = "audio/L16;rate=16000;channels=1"
PREFIX = "edge-agent/testdev"
SPEECH: dict[str, Any] = {"kind": "speech", "threads": 2, "inbox_size": 2000}


def _start(start_daemon: Callable[..., DaemonProcess], **extra: Any) -> DaemonProcess:
    routes = {
        "voice": {"topic": "sensors/+/voice", "pipeline": "speech"},
        "clips": {"topic": "sensors/+/clip", "pipeline": "speech", "options": {"mode": "clip"}},
    }
    routes.update(extra.pop("routes", {}))
    return start_daemon(
        pipelines={
            "faces": {"kind": "faces", "enabled": False},
            "speech": SPEECH,
            **extra.pop("pipelines", {}),
        },
        routes=routes,
        elastic={"pinned": {"speech": "tiny-en"}},
        **extra,
    )


def _stream(mqtt: TestClient, streams: dict[str, np.ndarray], topic: str = "voice") -> None:
    """Publish every sensor's audio in uneven chunks, the sensors interleaved."""
    rng = np.random.default_rng(11)
    chunks = {
        s: l16_chunks(pcm, [int(n) for n in rng.integers(80, 4000, size=400)])
        for s, pcm in streams.items()
    }
    for i in range(max(len(c) for c in chunks.values())):
        for sensor, parts in chunks.items():
            if i < len(parts):
                mqtt.publish(
                    f"sensors/{sensor}/{topic}",
                    parts[i],
                    content_type=L16,
                    user_properties=[("stream", f"{sensor}-1"), ("seq", str(i))],
                )


def test_two_interleaved_sensors_get_their_own_transcripts(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    _start(start_daemon)
    texts = {"mic1": "turn off the kitchen lights", "mic2": "lock the front door"}
    streams = {
        "mic1": np.concatenate([silence(0.3), speak(texts["mic1"]), silence(1.5)]),
        "mic2": np.concatenate([silence(1.0), speak(texts["mic2"]), silence(1.5)]),
    }
    _stream(mqtt, streams)
    for sensor, text in texts.items():
        (msg,) = mqtt.on_topic(f"{PREFIX}/results/speech/{sensor}", timeout=60)
        doc = msg.json()
        assert doc["model"]["variant"] == "tiny-en"
        assert doc["result"]["stream"] == f"{sensor}-1"
        assert word_error_rate([(text, doc["result"]["text"])]).errors == 0


def test_the_voice_chain_forwards_the_command_to_intents(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    labels = {
        "lighting": ["turn lights on or off, dim or change the lamp colour"],
        "climate": ["temperature, heating, cooling or the thermostat"],
        "media": ["play, pause or skip music, or change the volume"],
        "security": ["lock or unlock a door, arm the alarm"],
    }
    _start(
        start_daemon,
        pipelines={"text": {"kind": "text"}},
        routes={
            "voice": {
                "topic": "sensors/+/voice",
                "pipeline": "speech",
                "options": {"after_wake_word": ["okay_nabu"]},
                "forward": "intents",
            },
            "intents": {"pipeline": "text", "options": {"labels": labels}},
        },
    )
    command = "turn off the kitchen lights"
    pcm = np.concatenate(
        [silence(0.5), speak("okay nabu"), silence(0.2), speak(command), silence(1.5)]
    )
    _stream(mqtt, {"kitchen": pcm})
    (event,) = mqtt.on_topic(f"{PREFIX}/events/speech/kitchen", timeout=60)
    voice = event.json()
    assert voice["event_type"] == "voice_command"
    assert voice["wake_word"] == "okay_nabu"
    assert word_error_rate([(command, voice["text"])]).errors == 0
    (speech,) = mqtt.on_topic(f"{PREFIX}/results/speech/kitchen", timeout=30)
    (intent,) = mqtt.on_topic(f"{PREFIX}/results/text/kitchen", timeout=30)
    speech_doc, intent_doc = speech.json(), intent.json()
    assert intent_doc["result"]["label"] == "lighting"
    assert intent_doc["chain"]["pipeline"] == "speech"
    assert intent_doc["request_id"] == speech_doc["request_id"] == voice["request_id"]


def test_bad_audio_is_reported_and_the_next_clip_answered(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    _start(start_daemon, limits={"audio": {"max_seconds": 5.0}})
    good = wav_bytes(speak("lock the front door"))
    bad = {
        b"trunc": (good[:30], "audio/wav"),
        b"long": (wav_bytes(silence(6.0)), "audio/wav"),
        b"odd": (b"\x00\x01\x02", L16),
        b"image": (b"\xff\xd8\xff\xe0" + bytes(64), "image/jpeg"),
    }
    for corr, (payload, content_type) in bad.items():
        mqtt.publish("sensors/mic9/clip", payload, content_type=content_type, correlation_data=corr)
    mqtt.publish("sensors/mic9/clip", good, content_type="audio/wav", correlation_data=b"good")
    errors = mqtt.on_topic(f"{PREFIX}/errors", count=len(bad), timeout=60)
    reasons = {e.json()["request_id"]: e.json()["reason"] for e in errors}
    assert reasons == {
        "trunc": "malformed_audio",
        "long": "audio_too_long",
        "odd": "malformed_audio",
        "image": "wrong_modality",
    }
    (result,) = mqtt.on_topic(f"{PREFIX}/results/speech/mic9", timeout=60)
    doc = result.json()
    assert doc["request_id"] == "good"
    assert word_error_rate([("lock the front door", doc["result"]["text"])]).errors == 0
