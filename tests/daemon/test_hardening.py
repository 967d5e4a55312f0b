"""Regressions of the adversarial run (issue 10), each through a real mosquitto.

Every test sends what the run sent, checks the reason-coded answer, and then
checks that the same pipeline still answers a good message (nothing stopped).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.broker import Broker
from support.client import Received, TestClient
from support.daemon import DaemonProcess

ERRORS = "edge-agent/testdev/errors"
TEXT_RESULT = "edge-agent/testdev/results/text/x"
STATUS = "edge-agent/testdev/status"

TEXT_ONLY = {
    "pipelines": {
        "faces": {"kind": "faces", "enabled": False},
        "text": {"kind": "text"},
        "wakeword": {"kind": "wakeword", "enabled": False},
    }
}


def _errors(mqtt: TestClient, reason: str) -> list[Received]:
    return mqtt.matching(lambda m: m.topic == ERRORS and m.json()["reason"] == reason)


def _good_text_is_answered(mqtt: TestClient, request_id: str) -> None:
    body = b"the smoke alarm is beeping"
    mqtt.publish("sensors/x/text", body, correlation_data=request_id.encode())
    mqtt.wait_for(
        lambda m: m.topic == TEXT_RESULT and m.json()["request_id"] == request_id, timeout=30
    )


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto-clients missing")
def test_wildcard_response_topic_is_refused_and_the_pipeline_keeps_answering(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    daemon = start_daemon(**TEXT_ONLY)
    mqtt.subscribe("rel/#")
    # The adversarial run's command line, verbatim (but for the port).
    subprocess.run(
        [
            "mosquitto_pub",
            "-V",
            "mqttv5",
            "-q",
            "1",
            "-p",
            str(broker.port),
            "-t",
            "sensors/x/text",
            "-m",
            "smoke",
            "-D",
            "publish",
            "response-topic",
            "rel/+/x",
        ],
        check=True,
        timeout=10,
    )
    error = mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)[0].json()
    assert error["reason"] == "bad_response_topic"
    assert "wildcard" in error["detail"]
    for i in range(5):
        _good_text_is_answered(mqtt, f"after-{i}")
    assert not mqtt.matching(lambda m: m.topic.startswith("rel/"))
    assert not mqtt.matching(lambda m: m.topic == TEXT_RESULT and m.json()["request_id"] == "")
    assert "Exception in thread" not in daemon.log()


@pytest.mark.parametrize(
    "response_topic",
    ["edge-agent/testdev/status", "edge-agent/testdev/errors", "edge-agent", "$SYS/x"],
)
def test_response_topic_under_own_prefix_or_special_is_refused(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, response_topic: str
) -> None:
    start_daemon(**TEXT_ONLY)
    mqtt.publish("sensors/x/text", b"hello", response_topic=response_topic, correlation_data=b"r1")
    errors = mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)
    assert errors[0].json()["reason"] == "bad_response_topic"
    _good_text_is_answered(mqtt, "next")
    time.sleep(0.3)
    # Exactly one error document (not duplicated onto errors via the response topic),
    # and nothing but online/offline ever on the status topic.
    assert len(mqtt.matching(lambda m: m.topic == ERRORS)) == 1
    assert {m.payload for m in mqtt.matching(lambda m: m.topic == STATUS)} <= {b"online"}
    assert not mqtt.matching(lambda m: m.topic == TEXT_RESULT and m.json()["request_id"] == "r1")


@pytest.mark.parametrize("seq", ["--1", "²", "9" * 5000, "", "1e3"])
def test_bad_seq_property_is_bad_property_not_inference_failed(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, seq: str
) -> None:
    daemon = start_daemon(
        pipelines={
            "faces": {"kind": "faces", "enabled": False},
            "text": {"kind": "text", "enabled": False},
            "wakeword": {"kind": "wakeword", "shards": 1},
        }
    )
    chunk = b"\x00\x01" * 320
    mqtt.publish(
        "sensors/mic/audio",
        chunk,
        content_type="audio/L16;rate=16000;channels=1",
        user_properties=[("stream", "s1"), ("seq", seq)],
        correlation_data=b"bad-seq",
    )
    error = mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)[0].json()
    assert error["reason"] == "bad_property"
    assert error["request_id"] == "bad-seq"
    assert "inference_failed" not in daemon.log()
    if len(seq) > 10:
        assert seq not in daemon.log()  # the property is never echoed


def test_sensor_id_making_the_result_topic_too_long_is_refused_before_the_model(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    daemon = start_daemon(**TEXT_ONLY)
    sensor = "s" * 65_500  # the input topic fits MQTT's 65,535 bytes; the result topic not
    mqtt.publish(f"sensors/{sensor}/text", b"hello", correlation_data=b"long")
    error = mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)[0].json()
    assert error["reason"] == "topic_too_long"
    assert len(error["topic"]) < 400  # documents stay bounded
    assert len(error["sensor"]) < 400
    _good_text_is_answered(mqtt, "short")
    assert '"inference_failed"' not in daemon.log()


def test_invalid_utf8_without_content_type_is_invalid_utf8(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(**TEXT_ONLY)
    mqtt.publish("sensors/x/text", b"caf\xe9 \xff\xfe\xfd", correlation_data=b"u")
    assert mqtt.wait_for(lambda m: m.topic == ERRORS, timeout=30)[0].json()["reason"] == (
        "invalid_utf8"
    )


def test_json_after_much_whitespace_is_read_as_json(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(**TEXT_ONLY)
    envelope = {"text": "water on the floor", "labels": ["water_leak"]}
    body = b" " * 200 + json.dumps(envelope).encode()
    mqtt.publish("sensors/x/text", body, correlation_data=b"j")
    result = mqtt.wait_for(lambda m: m.topic == TEXT_RESULT, timeout=30)[0].json()
    # The envelope's `labels` restricted the answer: it was parsed as JSON, not as text.
    assert [t["label"] for t in result["result"]["top"]] == ["water_leak"]


def test_retained_input_is_answered_once_across_broker_restarts(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    start_daemon(**TEXT_ONLY)
    mqtt.publish("sensors/x/text", b"the door is open", retain=True, correlation_data=b"ret")
    mqtt.wait_for(lambda m: m.topic == TEXT_RESULT and m.json()["request_id"] == "ret")
    rounds = 3
    for i in range(rounds):
        broker.restart()
        client = TestClient(broker.tcp_url)
        try:
            client.subscribe("edge-agent/#")
            _good_text_is_answered(client, f"live-{i}")
            last = i == rounds - 1
            if last:
                # The daemon's own count: the retained text plus one live text per round.
                stats = client.wait_for(
                    lambda m: (
                        m.topic == "edge-agent/testdev/stats"
                        and m.json()["pipelines"].get("text", {}).get("processed") == 1 + rounds
                    ),
                    timeout=30,
                )[-1].json()
                assert stats["pipelines"]["text"]["published"] == 1 + rounds
                time.sleep(1.5)
                later = client.matching(lambda m: m.topic == "edge-agent/testdev/stats")[-1].json()
                assert later["pipelines"]["text"]["processed"] == 1 + rounds
        finally:
            client.close()


def test_retained_input_is_ignored_when_the_route_says_so(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, broker: Broker
) -> None:
    mqtt.publish("sensors/x/text", b"stale retained text", retain=True, correlation_data=b"old")
    start_daemon(
        **TEXT_ONLY,
        routes={
            "texts": {
                "topic": "sensors/+/text",
                "pipeline": "text",
                "retained": "ignore",
                "options": {"labels": {"a": ["alpha"], "b": ["beta"]}},
            }
        },
    )
    _good_text_is_answered(mqtt, "fresh")
    assert not mqtt.matching(lambda m: m.topic == TEXT_RESULT and m.json()["request_id"] == "old")


def test_status_details_report_workers_healthy(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient
) -> None:
    start_daemon(**TEXT_ONLY)
    _good_text_is_answered(mqtt, "h")
    details = mqtt.wait_for(lambda m: m.topic == "edge-agent/testdev/status/details")[-1].json()
    assert details["healthy"] is True
    assert details["unhealthy"] == {}


def test_drops_inside_the_broker_show_in_the_daemon_stats(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    import os
    import signal

    from support.config import daemon_config
    from support.daemon import toml_dump

    broker = Broker(tmp_path_factory.mktemp("mqsys"))
    # A tiny queue, and $SYS every second: drops happen before the daemon. (For an
    # MQTT 5 client mosquitto's in-flight window is the client's Receive Maximum,
    # which the daemon sets to what its inboxes and stages hold.)
    broker.extra_conf = "max_queued_messages 3\nsys_interval 1\n"
    broker.start()
    watcher = TestClient(broker.tcp_url)
    sender = TestClient(broker.tcp_url)
    config = tmp_path / "c.toml"
    config.write_text(toml_dump(daemon_config(broker.unix_url, tmp_path, **TEXT_ONLY)))
    daemon = DaemonProcess(config, tmp_path)
    try:
        watcher.subscribe("edge-agent/#")
        daemon.start()
        daemon.wait_online(watcher, STATUS)
        assert daemon.proc is not None
        os.kill(daemon.proc.pid, signal.SIGSTOP)  # stops reading: the broker must queue
        window = 32 + 8 + 64  # what the daemon asks for: text inbox, stages, headroom
        for i in range(window + 60):
            sender.publish("sensors/x/text", f"text {i}".encode())
        os.kill(daemon.proc.pid, signal.SIGCONT)
        stats = watcher.wait_for(
            lambda m: (
                m.topic == "edge-agent/testdev/stats"
                and (m.json()["broker"].get("broker_dropped") or 0) >= 50
            ),
            timeout=30,
        )[-1].json()
        assert stats["broker"]["receive_maximum"] == window
    finally:
        daemon.terminate()
        watcher.close()
        sender.close()
        broker.stop()
