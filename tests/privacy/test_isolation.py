"""Privacy proofs: no network needed, no socket but the broker's, no payload in any log."""

from __future__ import annotations

import base64
import itertools
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from support.broker import Broker
from support.client import TestClient
from support.daemon import DaemonProcess

from edge_agent.pipelines.speech.wer import normalize

REPO = Path(__file__).resolve().parents[2]
FACE = REPO / "tests" / "fixtures" / "images" / "face.jpg"
WAKE = REPO / "tests" / "fixtures" / "wakeword" / "okay_nabu_flite_rms.wav"
SECRET_TEXT = "water is leaking under the sink says quokka-zebra-7731"
SECRET_WORDS = ["quokka", "zebra-7731", "leaking under"]

ALL_PIPELINES = {
    "faces": {"kind": "faces"},
    "text": {"kind": "text"},
    "wakeword": {"kind": "wakeword"},
}


def _exercise(mqtt: TestClient) -> None:
    """One message per modality; wait for each answer."""
    mqtt.publish("sensors/cam1/image", FACE.read_bytes(), content_type="image/jpeg")
    mqtt.publish("sensors/hub/text", SECRET_TEXT.encode(), content_type="text/plain")
    mqtt.publish("sensors/mic1/audio", WAKE.read_bytes(), content_type="audio/wav")
    mqtt.on_topic("edge-agent/testdev/results/faces/cam1", timeout=60)
    mqtt.on_topic("edge-agent/testdev/results/text/hub", timeout=60)
    mqtt.on_topic("edge-agent/testdev/results/wakeword/mic1", timeout=60)


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace (CI runs as root)")


def test_daemon_serves_every_modality_without_any_network(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    _needs_root()
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) missing")
    daemon = start_daemon(pipelines=ALL_PIPELINES, argv_prefix=["unshare", "-n"])
    _exercise(mqtt)
    # Inside the namespace there is only a loopback interface, and it is down.
    net = Path(f"/proc/{daemon.proc.pid}/net/dev").read_text()  # type: ignore[union-attr]
    interfaces = {line.split(":")[0].strip() for line in net.splitlines()[2:]}
    assert interfaces == {"lo"}


def test_daemon_opens_no_socket_but_the_brokers(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker, tmp_path: Path
) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace missing (scripts/system-deps.sh installs it)")
    trace = tmp_path / "strace.txt"
    daemon = start_daemon(
        pipelines=ALL_PIPELINES,
        argv_prefix=["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace)],
    )
    _exercise(mqtt)
    daemon.terminate()
    calls = trace.read_text().splitlines()
    sockets = [c for c in calls if " socket(" in c and "= -1" not in c]
    connects = [c for c in calls if " connect(" in c]
    assert sockets, "strace saw no socket() at all: the trace is not working"
    families = {re.search(r"socket\((AF_\w+)", c).group(1) for c in sockets}  # type: ignore[union-attr]
    assert families == {"AF_UNIX"}, sockets
    targets = {
        re.search(r'sun_path="([^"]*)"', c).group(1)
        for c in connects  # type: ignore[union-attr]
        if "sun_path" in c
    }
    assert targets == {str(broker.socket_path)}, connects
    assert all("sun_path" in c for c in connects), connects


def test_no_payload_text_or_bytes_in_any_log_line(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    daemon = start_daemon(pipelines=ALL_PIPELINES, log={"format": "json", "level": "debug"})
    _exercise(mqtt)
    # A bad payload too: error paths must not leak either.
    mqtt.publish("sensors/hub/text", b"\xff\xfe" + SECRET_TEXT.encode()[:20])
    mqtt.on_topic("edge-agent/testdev/errors", timeout=30)
    daemon.terminate()
    log = daemon.log()
    assert "message_answered" in log, "the daemon logged nothing useful: the check is vacuous"
    lowered = log.lower()
    for word in SECRET_WORDS:
        assert word not in lowered
    for payload in (FACE.read_bytes(), WAKE.read_bytes()[44:]):
        for start in range(0, len(payload) - 24, max(1, len(payload) // 50)):
            window = payload[start : start + 24]
            assert window.hex() not in log
            assert base64.b64encode(window).decode()[4:28] not in log
            assert repr(window)[2:30] not in log


SPOKEN_SECRET = "water is leaking under the sink in the basement"


def test_no_transcript_in_any_log_line(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    """Transcripts are derived data: on the local broker only, never in a log line."""
    from support.speech import l16_chunks, silence, speak, synth_module, wav_bytes

    from edge_agent.runtime.manifest import load_package

    if synth_module().missing_tools():
        pytest.skip("speech synthesisers missing (scripts/system-deps.sh installs them)")
    why = load_package(REPO / "models" / "speech").unavailable_reason("tiny-en")
    if why is not None:
        pytest.skip(f"speech weights unavailable: {why}")
    daemon = start_daemon(
        pipelines={"faces": {"kind": "faces", "enabled": False}, "speech": {"kind": "speech"}},
        routes={
            "clips": {"topic": "sensors/+/clip", "pipeline": "speech", "options": {"mode": "clip"}},
            "voice": {"topic": "sensors/+/voice", "pipeline": "speech"},
        },
        elastic={"pinned": {"speech": "tiny-en"}},
        log={"format": "json", "level": "debug"},
    )
    spoken = speak(SPOKEN_SECRET)
    mqtt.publish("sensors/mic1/clip", wav_bytes(spoken), content_type="audio/wav")
    pcm = np.concatenate([silence(0.3), spoken, silence(1.5)])
    for seq, chunk in enumerate(l16_chunks(pcm, [3200] * 100)):
        mqtt.publish(
            "sensors/mic2/voice",
            chunk,
            content_type="audio/L16;rate=16000;channels=1",
            user_properties=[("stream", "p"), ("seq", str(seq))],
        )
    texts = [
        mqtt.on_topic(f"edge-agent/testdev/results/speech/{mic}", timeout=60)[0].json()["result"][
            "text"
        ]
        for mic in ("mic1", "mic2")
    ]
    daemon.terminate()
    log = daemon.log().lower()
    assert "speech_transcribed" in log, "the daemon logged no transcription: the check is vacuous"
    for text in texts:
        words = normalize(text)
        assert len(words) >= 6, text  # a real transcript, so the check below means something
        for a, b in itertools.pairwise(words):
            assert f"{a} {b}" not in log, (a, b)
        assert text.lower() not in log
