"""Payloads inside the default limits cannot take memory beyond the documented figure.

The adversarial run sent a 19,818-byte JPEG whose frame is 6000x6000 (RSS 123 ->
605 MiB) and a 116 KB 16384x2441 PNG (505 MiB). Both are inside the default
limits, so both must be *answered*, with the daemon (every shipped family on)
inside the cgroup limit the README states, and without an OOM kill.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.cgroup import MiB, memory_cgroup, wrapper_into
from support.client import TestClient
from support.daemon import DaemonProcess

# The README's figure ("Memory"): the daemon with every shipped family answers every
# route, these images included, in a cgroup of this size.
LIMIT_MIB = 128
ERRORS = "edge-agent/testdev/errors"


def _jpeg_6000() -> bytes:
    # Mostly flat, like the run's: tiny on the wire, 108 MB of RGB at full size.
    image = Image.new("RGB", (6000, 6000), (120, 130, 140))
    image.paste((200, 40, 40), (2500, 2500, 3500, 3500))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


def _png_16384() -> bytes:
    rng = np.random.default_rng(3)
    row = rng.integers(0, 255, (1, 16384, 3), dtype=np.uint8)
    pixels = np.repeat(row, 2441, axis=0)  # repeated rows compress to ~100 KB
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=9)
    return out.getvalue()


@pytest.mark.slow
def test_huge_declared_images_are_answered_inside_the_documented_limit(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, tmp_path: Path
) -> None:
    jpeg, png = _jpeg_6000(), _png_16384()
    assert len(jpeg) < 8 * MiB
    assert len(png) < 8 * MiB
    with memory_cgroup(LIMIT_MIB * MiB) as group:
        daemon = start_daemon(
            argv_prefix=[str(wrapper_into(group, tmp_path))],
            pipelines={
                "faces": {"kind": "faces"},
                "text": {"kind": "text"},
                "wakeword": {"kind": "wakeword"},
            },
            routes={
                "images": {"topic": "sensors/+/image", "pipeline": "faces"},
                "texts": {
                    "topic": "sensors/+/text",
                    "pipeline": "text",
                    "options": {"labels": {"a": ["alpha"], "b": ["beta"]}},
                },
                "audio": {"topic": "sensors/+/audio", "pipeline": "wakeword"},
            },
        )
        for i in range(3):
            mqtt.publish(
                "sensors/cam/image",
                jpeg,
                content_type="image/jpeg",
                correlation_data=f"jpeg-{i}".encode(),
            )
            mqtt.publish(
                "sensors/cam/image",
                png,
                content_type="image/png",
                correlation_data=f"png-{i}".encode(),
            )
        results = mqtt.wait_for(
            lambda m: m.topic == "edge-agent/testdev/results/faces/cam", count=6, timeout=120
        )
        sizes = {m.json()["request_id"]: m.json()["result"]["image"] for m in results}
        mqtt.publish("sensors/t/text", b"still answering", correlation_data=b"after")
        mqtt.wait_for(lambda m: m.topic == "edge-agent/testdev/results/text/t", timeout=60)
        assert daemon.proc is not None
        assert daemon.proc.poll() is None
        assert group.oom_kills() == 0
        peak = group.peak()
        assert not mqtt.matching(lambda m: m.topic == ERRORS)
    # The answer speaks of the image as sent, whatever scale it was decoded at.
    assert sizes["jpeg-0"] == {"width": 6000, "height": 6000}
    assert sizes["png-0"] == {"width": 16384, "height": 2441}
    assert 0 < peak <= LIMIT_MIB * MiB
