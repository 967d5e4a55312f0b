"""`make run`'s demo answers every bundled sample, with mosquitto and with the embedded broker."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.broker import mosquitto_path


def _demo(*extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "demo", "--rounds", "1", *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _check(out: str) -> None:
    assert "result  faces" in out
    objects = [ln for ln in out.splitlines() if "result  objects   demo-snapshot" in ln]
    assert len(objects) == 2  # person.jpg, person_and_cat.jpg
    assert any("person" in ln and "cat" in ln for ln in objects)
    assert out.count("result  text") == 4
    assert "okay_nabu" in out
    assert "error" not in out
    # Variants as words ("faces runs full-float"), never a Python dict.
    assert "faces runs " in out
    assert "{'" not in out


def test_demo_with_the_embedded_broker_speaks_mqtt_311() -> None:
    out = _demo("--embedded-broker")
    assert "amqtt (embedded, MQTT 3.1.1)" in out
    _check(out)


def test_demo_with_mosquitto() -> None:
    if mosquitto_path() is None:
        pytest.skip("mosquitto not installed")
    out = _demo()
    assert "broker: mosquitto" in out
    _check(out)
