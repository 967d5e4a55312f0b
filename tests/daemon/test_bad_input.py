"""Bad input: an error on the error topic, a log line, and the next good message answered."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from support.client import TestClient
from support.daemon import DaemonProcess

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "face.jpg"
RESULT = "edge-agent/testdev/results/faces/cam1"
ERRORS = "edge-agent/testdev/errors"


def _pixel_bomb() -> bytes:
    """A valid PNG header declaring 60000 x 60000 pixels (3.6 Gpx)."""
    img = Image.new("L", (1, 1))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    # IHDR width/height sit at bytes 16..24; the CRC is not checked before the size is.
    data[16:24] = struct.pack(">II", 60000, 60000)
    import zlib

    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


CASES = {
    "malformed_image": (FACE.read_bytes()[:400], "image/jpeg"),
    "too_large": (b"\xff\xd8\xff" + b"\0" * 300_000, "image/jpeg"),
    "too_many_pixels": (_pixel_bomb(), "image/png"),
    "unsupported_format": (b"GIF89a....", "image/gif"),
    "bad_content_type": (FACE.read_bytes(), "not a content type"),
    "wrong_modality": (FACE.read_bytes(), "audio/wav"),
    "empty_payload": (b"", None),
    "unknown_format": (b"\x00\x01\x02garbage", None),
}


@pytest.mark.parametrize("reason", sorted(CASES))
def test_bad_payload_is_reported_and_next_is_answered(
    start_daemon: Callable[..., DaemonProcess], mqtt: TestClient, reason: str
) -> None:
    daemon = start_daemon(limits={"image": {"max_bytes": 200_000}})
    payload, content_type = CASES[reason]
    mqtt.publish("sensors/cam1/image", payload, content_type=content_type, correlation_data=b"bad")
    mqtt.publish("sensors/cam1/image", FACE.read_bytes(), correlation_data=b"good")
    error = mqtt.on_topic(ERRORS)[0].json()
    assert error["reason"] == reason
    assert (error["topic"], error["sensor"], error["size"]) == (
        "sensors/cam1/image",
        "cam1",
        len(payload),
    )
    assert error["request_id"] == "bad"
    assert mqtt.on_topic(RESULT)[0].json()["request_id"] == "good"
    assert f'"reason": "{reason}"' in daemon.log() or f'"reason":"{reason}"' in daemon.log()
