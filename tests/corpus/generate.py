"""The malformed-input corpus: hundreds of bad (and a few odd but good) requests.

Every case is a message as a sensor would send it — topic, payload, MQTT v5
content type and properties — with the answer the daemon must give: a reason
code on the error topic, or a result. The corpus is deterministic (seeded) and
written to ``cases.jsonl`` beside this file; ``tests/corpus/test_corpus.py`` runs
it end to end through mosquitto.

    python tests/corpus/generate.py          # rewrite cases.jsonl
    python tests/corpus/generate.py --check  # exit 1 if cases.jsonl is stale

The test config matters for a few expectations: images over 20,000 bytes are
``too_large`` there, and texts over 1,000 characters ``text_too_long``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import struct
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.jsonl"

IMAGE_LIMIT = 20_000  # limits.image.max_bytes in the corpus test's config
TEXT_CHARS = 1_000  # limits.text.max_chars there
RESULT = "result"  # expected outcome of a good (if odd) case; audio routes are in clip mode


@dataclass
class Case:
    """One message and the answer it must get."""

    id: str
    topic: str
    payload: str  # base64
    expect: str  # a reason code, or "result"
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: str | None = None  # base64; default: the case id
    user_properties: list[tuple[str, str]] = field(default_factory=list)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Corpus:
    def __init__(self) -> None:
        self.cases: list[Case] = []
        self.rng = random.Random(20261201)

    def add(self, kind: str, topic: str, payload: bytes, expect: str, **kw: object) -> None:
        cid = f"{kind}-{len(self.cases):03d}"
        self.cases.append(Case(cid, topic, _b64(payload), expect, **kw))  # type: ignore[arg-type]


# -- building blocks ---------------------------------------------------------------------


def _jpeg(size: tuple[int, int] = (64, 48), quality: int = 80) -> bytes:
    img = Image.new("RGB", size, (90, 140, 200))
    img.paste((250, 200, 30), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def _png_ihdr(width: int, height: int) -> bytes:
    data = bytearray(_png((1, 1), "L"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _jpeg_sof(width: int, height: int) -> bytes:
    data = bytearray(_jpeg())
    i = data.index(b"\xff\xc0")
    data[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _wav(
    *,
    seconds: float = 0.25,
    rate: int = 16000,
    channels: int = 1,
    bits: int = 16,
    tag: int = 1,
    declared: int | None = None,
) -> bytes:
    frames = int(seconds * rate)
    width = bits // 8
    data = bytes(frames * channels * width)
    size = len(data) if declared is None else declared
    fmt = struct.pack(
        "<HHIIHH", tag, channels, rate, rate * channels * width, channels * width, bits
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size)
    return b"RIFF" + struct.pack("<I", 4 + len(body) + len(data) - 4) + body + data


def _noisy_png(rng: random.Random) -> bytes:
    pixels = bytes(rng.randrange(256) for _ in range(48 * 32 * 3))
    out = io.BytesIO()
    Image.frombytes("RGB", (48, 32), pixels).save(out, "PNG")
    return out.getvalue()


def _broken_wavs(wav: bytes) -> dict[str, bytes]:
    """Structurally broken WAVs, each one thing wrong."""
    fmt_body = wav[20:36]
    data = wav[36:]

    def riff(*chunks: bytes) -> bytes:
        body = b"WAVE" + b"".join(chunks)
        return b"RIFF" + struct.pack("<I", len(body)) + body

    def chunk(kind: bytes, body: bytes, size: int | None = None) -> bytes:
        return kind + struct.pack("<I", len(body) if size is None else size) + body

    pcm = data[8:]
    return {
        "no fmt": riff(chunk(b"data", pcm)),
        "data before fmt": riff(chunk(b"data", pcm), chunk(b"fmt ", fmt_body)),
        "two fmt": riff(chunk(b"fmt ", fmt_body), chunk(b"fmt ", fmt_body), chunk(b"data", pcm)),
        "short fmt": riff(chunk(b"fmt ", fmt_body[:10]), chunk(b"data", pcm)),
        "no data": riff(chunk(b"fmt ", fmt_body)),
        "list chunk past end": riff(chunk(b"fmt ", fmt_body), chunk(b"LIST", b"ab", 9999)),
        "zero channels": riff(
            chunk(b"fmt ", fmt_body[:2] + b"\x00\x00" + fmt_body[4:]), chunk(b"data", pcm)
        ),
        "zero rate": riff(
            chunk(b"fmt ", fmt_body[:4] + bytes(4) + fmt_body[8:]), chunk(b"data", pcm)
        ),
        "block align": riff(
            chunk(b"fmt ", fmt_body[:12] + b"\x07\x00" + fmt_body[14:]), chunk(b"data", pcm)
        ),
        "no samples": riff(chunk(b"fmt ", fmt_body), chunk(b"data", b"")),
        "truncated data": riff(chunk(b"fmt ", fmt_body), chunk(b"data", pcm[:100], 4000)),
    }


def _flip(data: bytes, rng: random.Random, count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


# -- the cases -----------------------------------------------------------------------------


def _images(c: _Corpus) -> None:
    img = "sensors/cam/image"
    jpeg, png = _jpeg(), _png()
    c.add("img", img, b"", "empty_payload")
    c.add(
        "img",
        img,
        b"\xff\xd8\xff" + bytes(IMAGE_LIMIT + 10),
        "too_large",
        content_type="image/jpeg",
    )
    for cut in (3, 10, 20, 40, 80, 120, 160, 200, 300, 400):
        c.add("img", img, jpeg[:cut], "malformed_image", content_type="image/jpeg")
    noisy = _noisy_png(c.rng)
    for cut in (8, 16, 30, 40, 50, 60, 70, 100, 200, 400, 800, len(noisy) // 2):
        c.add("img", img, noisy[:cut], "malformed_image", content_type="image/png")
    for w, h in ((60000, 60000), (70000, 10), (10, 70000), (16385, 16)):
        c.add("img", img, _png_ihdr(w, h), "too_many_pixels", content_type="image/png")
    for w, h in ((60000, 60000), (65000, 1000), (9000, 9000)):
        c.add("img", img, _jpeg_sof(w, h), "too_many_pixels", content_type="image/jpeg")
    for magic, mime in (
        (b"GIF89a", "image/gif"),
        (b"BM", "image/bmp"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"II*\x00", "image/tiff"),
    ):
        c.add("img", img, magic + bytes(64), "unsupported_format", content_type=mime)
    c.add("img", img, b"GIF89a" + bytes(64), "unsupported_format")  # sniffed
    c.add("img", img, _wav(), "wrong_modality", content_type="audio/wav")
    c.add("img", img, _wav(), "wrong_modality")  # sniffed
    c.add("img", img, b"hello there", "wrong_modality", content_type="text/plain")
    c.add("img", img, jpeg, "wrong_modality", content_type="application/json")
    for ctype in (
        "image/",
        "/jpeg",
        "image jpeg",
        "image/jpeg; q",
        "image/jpeg; a=1; a=2",
        "x" * 300,
        "image/jpeg\u00a0",
        "ïmage/jpeg",
        "image/jpeg; =1",
        'image/jpeg; a="unterminated',
        "image//jpeg",
        "image/jp eg",
    ):
        c.add("img", img, jpeg, "bad_content_type", content_type=ctype)
    c.add("img", img, jpeg, RESULT, content_type="image/jpeg;;x=1")  # empty parameter: lenient
    c.add("img", img, jpeg, RESULT, content_type="IMAGE/JPEG")
    c.add("img", img, jpeg, "unsupported_format", content_type="application/x-foo")
    for params, size in (
        ("width=3;height=2", 17),
        ("width=3;height=2", 19),
        ("width=0;height=2", 0),
        ("width=abc;height=2", 18),
        ("height=2", 18),
        ("width=-3;height=2", 18),
    ):
        expect = "malformed_image" if params == "width=3;height=2" else "bad_content_type"
        if params.startswith("width=0"):
            expect = "bad_content_type"
        c.add("img", img, bytes(size or 1), expect, content_type=f"image/x-raw-rgb;{params}")
    c.add(
        "img", img, bytes(17), "malformed_image", content_type="image/x-raw-gray;width=3;height=2"
    )
    for _ in range(12):
        c.add(
            "img",
            img,
            _flip(jpeg[:200], c.rng, 3) + bytes(8),
            "malformed_image",
            content_type="image/jpeg",
        )
    c.add("img", img, b"\xff\xd8\xff\xd9", "malformed_image", content_type="image/jpeg")
    c.add("img", img, b"\xff\xd8\xff\xe0" + b"I am text after a JPEG magic", "malformed_image")
    c.add("img", img, _png_ihdr(0, 10), "malformed_image", content_type="image/png")
    c.add("img", img, _png_ihdr(10, 0), "malformed_image", content_type="image/png")
    c.add("img", img, _jpeg_sof(0, 0), "malformed_image", content_type="image/jpeg")
    for declared in ("image/jpeg", "image/png"):  # each format's bytes under the other's type
        other = png if declared == "image/jpeg" else jpeg
        c.add("img", img, other, "malformed_image", content_type=declared)
    for ctype in (
        "image/x-raw-rgb",
        "image/x-raw-gray;width=2",
        "image/x-raw-rgb;width=2;height=2;width=3",
    ):
        c.add("img", img, bytes(12), "bad_content_type", content_type=ctype)
    for i in range(8):
        noise = bytes(c.rng.randrange(256) for _ in range(64 + i))
        c.add("img", img, b"\x00\x01" + noise, "unknown_format")
    # Odd but good: tiny, gray, CMYK-free palette PNG, huge aspect, EXIF-less.
    c.add("img", img, _jpeg((1, 1)), RESULT, content_type="image/jpeg")
    c.add("img", img, _png((3, 200), "L"), RESULT, content_type="image/png")
    c.add("img", img, _png((31, 7), "P"), RESULT)  # sniffed PNG
    c.add("img", img, jpeg, RESULT, content_type="image/jpeg; charset=binary")
    c.add("img", img, bytes(6), RESULT, content_type="image/x-raw-rgb;width=2;height=1")


def _audio(c: _Corpus) -> None:
    aud = "sensors/mic/audio"
    wav = _wav()
    c.add("aud", aud, b"", "empty_payload")
    for cut in (4, 11, 12, 20, 36, 40, 43):
        c.add("aud", aud, wav[:cut], "malformed_audio", content_type="audio/wav")
    c.add("aud", aud, b"RIFX" + wav[4:], "unsupported_format", content_type="audio/wav")
    c.add(
        "aud",
        aud,
        b"RIFF" + wav[4:8] + b"WAVX" + wav[12:],
        "malformed_audio",
        content_type="audio/wav",
    )
    c.add("aud", aud, _wav(bits=12), "unsupported_format", content_type="audio/wav")
    c.add("aud", aud, _wav(tag=0x55), "unsupported_format", content_type="audio/wav")  # MP3
    c.add("aud", aud, _wav(channels=9), "unsupported_format", content_type="audio/wav")
    c.add(
        "aud",
        aud,
        _wav(rate=400_000, seconds=0.001),
        "unsupported_format",
        content_type="audio/wav",
    )
    c.add(
        "aud",
        aud,
        _wav(seconds=0.01, declared=16000 * 2 * 3600),
        "audio_too_long",
        content_type="audio/wav",
    )
    c.add(
        "aud",
        aud,
        _wav(seconds=0.01, declared=31 * 32000),
        "audio_too_long",
        content_type="audio/wav",
    )
    c.add("aud", aud, _wav(seconds=0), "malformed_audio", content_type="audio/wav")
    for ctype in (
        "audio/L16",
        "audio/L16;rate=abc",
        "audio/L16;rate=0",
        "audio/x-raw;rate=16000",
        "audio/",
    ):
        c.add("aud", aud, bytes(640), "bad_content_type", content_type=ctype)
    c.add("aud", aud, bytes(640), RESULT, content_type="audio/L16;rate=16000;;")
    c.add("aud", aud, bytes(641), "malformed_audio", content_type="audio/L16;rate=16000")
    c.add(
        "aud",
        aud,
        bytes(640),
        "unsupported_format",
        content_type="audio/x-raw;format=F32LE;rate=16000",
    )
    c.add(
        "aud",
        aud,
        bytes(640),
        "unsupported_format",
        content_type="audio/L16;rate=16000;channels=12",
    )
    for magic, mime in (
        (b"fLaC", "audio/flac"),
        (b"OggS", "audio/ogg"),
        (b"ID3\x03", "audio/mpeg"),
    ):
        c.add("aud", aud, magic + bytes(64), "unsupported_format", content_type=mime)
        c.add("aud", aud, magic + bytes(64), "unsupported_format")  # sniffed
    c.add("aud", aud, _jpeg(), "wrong_modality", content_type="image/jpeg")
    c.add("aud", aud, _jpeg(), "wrong_modality")
    c.add("aud", aud, b"\x00\x01\x02junk" * 3, "unknown_format")
    for bad in _broken_wavs(wav).values():
        c.add("aud", aud, bad, "malformed_audio", content_type="audio/wav")
    c.add("aud", aud, bytes(640), RESULT, content_type="audio/x-raw;format=S16BE;rate=8000")
    c.add("aud", aud, bytes(1280), RESULT, content_type="audio/L16;rate=16000;channels=2")
    c.add(
        "aud", aud, bytes(1282), "malformed_audio", content_type="audio/L16;rate=16000;channels=2"
    )
    c.add("aud", aud, bytes(3), "malformed_audio", content_type="audio/L16;rate=16000")
    # "\uff11" is a fullwidth 1: str.isdigit() says yes, int() too; MQTT readers not.
    for seq in ("--1", "\u00b2", "9" * 5000, "", "1e3", "0x10", " 1", "\uff11"):
        c.add(
            "prop",
            aud,
            bytes(640),
            "bad_property",
            content_type="audio/L16;rate=16000",
            user_properties=[("stream", "s1"), ("seq", seq)],
        )
    # mosquitto refuses control characters in MQTT strings (it drops the client):
    # U+2028 is a printable-looking separator it lets through, and is not printable.
    for stream in ("", "x" * 200, "bad\u2028line"):
        c.add(
            "prop",
            aud,
            bytes(640),
            "bad_property",
            content_type="audio/L16;rate=16000",
            user_properties=[("stream", stream)],
        )
    c.add(
        "aud",
        aud,
        bytes(640),
        RESULT,
        content_type="audio/L16;rate=16000",
        user_properties=[("stream", "ok"), ("seq", "1")],
    )


def _texts(c: _Corpus) -> None:
    txt = "sensors/hub/text"
    c.add("txt", txt, b"", "empty_payload")
    for raw in (
        b"\xff",
        b"caf\xe9",
        b"\xc3\x28",
        b"\xa0\xa1",
        b"\xe2\x28\xa1",
        b"ok \xf0\x28\x8c\x28",
        b"\xed\xa0\x80",
        b"\xc0\xaf",
        b"\xf8\x88\x80\x80\x80",
        b"abc\xfe",
    ):
        c.add("txt", txt, raw, "invalid_utf8")
        c.add("txt", txt, raw, "invalid_utf8", content_type="text/plain; charset=utf-8")
    c.add("txt", txt, "héllo".encode("utf-16"), "unsupported_format")
    c.add("txt", txt, b"hello", "unsupported_format", content_type="text/plain; charset=latin-1")
    c.add("txt", txt, ("x" * (TEXT_CHARS + 1)).encode(), "text_too_long")
    for doc in (
        b"{",
        b'{"text": }',
        b'{"text": "a",}',
        b"{'text': 'a'}",
        b'{"text": "a"}}',
        b'{"text": "\\x"}',
        b'{"text": NaN}',
        b"[1, 2",
        b'{"a":1 "b":2}',
        b"{ ]",
        b'{"text": "unterminated}',
        b'{"text": "a" "b"}',
        b'{text: "a"}',
        b'{"text": "a", "n": 01}',
        b'{"text": "tab\tinside"}',
        b'{"text": "a"} trailing',
        b"\xef\xbb\xbf{",
        b'{"text": "a", "x": [1,]}',
    ):
        c.add("txt", txt, doc, "malformed_json", content_type="application/json")
    for raw in (b'{"text": "\xff"}', b'{"text": "caf\xe9"}', b'\xff{"text": "a"}'):
        c.add("txt", txt, raw, "invalid_utf8", content_type="application/json")
    c.add(
        "txt",
        txt,
        json.dumps({"text": "y" * (TEXT_CHARS + 1)}).encode(),
        "text_too_long",
        content_type="application/json",
    )
    c.add("txt", txt, b'{"text": "brackets [[[[ {{{{ in a string"}', RESULT)
    c.add("txt", txt, b'{"text": "with extra", "source": {"a": [1, 2]}}', RESULT)
    c.add("txt", txt, b"control \x07\x1b chars", RESULT)
    for charset in ("iso-8859-1", "utf-16", "koi8-r", "x-unknown"):
        c.add(
            "txt",
            txt,
            b"hello",
            "unsupported_format",
            content_type=f"text/plain; charset={charset}",
        )
    c.add("txt", txt, b"hello", RESULT, content_type="text/plain; charset=US-ASCII")
    c.add("txt", txt, b"[" * 40 + b"]" * 40, "json_too_deep", content_type="application/json")
    c.add("txt", txt, b'{"text": "a", "x": ' + b"[" * 30 + b"]" * 30 + b"}", "json_too_deep")
    for doc in (
        b"[]",
        b'"text"',
        b"3",
        b"null",
        b'{"txt": "a"}',
        b'{"text": 3}',
        b'{"text": null}',
        b'{"text": ["a"]}',
        b'{"text": "a", "labels": "x"}',
        b'{"text": "a", "labels": []}',
        b'{"text": "a", "labels": ["nope"]}',
        b'{"text": "\\ud800"}',
    ):
        expect = "invalid_utf8" if b"ud800" in doc else "bad_envelope"
        c.add("txt", txt, doc, expect, content_type="application/json")
    c.add("txt", txt, b" " * 300 + b'{"text": "lights"}', RESULT)
    c.add("txt", txt, _jpeg(), "wrong_modality", content_type="image/jpeg")
    c.add("txt", txt, _wav(), "wrong_modality")
    c.add("txt", txt, "nul \x00 inside and ünïcödé ✓".encode(), RESULT)
    c.add("txt", txt, "\ufeffbom first".encode(), RESULT)


def _topics_and_properties(c: _Corpus) -> None:
    txt = "sensors/hub/text"
    good = b"the kitchen light is on"
    for rt in (
        "rel/+/x",
        "rel/#",
        "+",
        "#",
        "a/b+/c",
        "a/#/b",
        "edge-agent/testdev/status",
        "edge-agent/testdev/status/details",
        "edge-agent/testdev/errors",
        "edge-agent/testdev/results/text/hub",
        "edge-agent",
        "edge-agent/other-device/x",
        "$SYS/broker/x",
        "$share/x",
    ):
        c.add("rt", txt, good, "bad_response_topic", response_topic=rt)
    c.add("rt", txt, good, RESULT, response_topic="replies/hub")
    c.add("rt", txt, good, RESULT, response_topic="edge-agentX/not-ours")
    c.add("prop", txt, good, "bad_property", correlation_data=_b64(bytes(5000)))
    # The input topic fits MQTT's 65,535 bytes; .../results/text/<sensor>/partial not.
    c.add("topic", "sensors/" + "s" * 65_510 + "/text", good, "topic_too_long")
    c.add("topic", "sensors/" + "é" * 32_760 + "/text", good, "topic_too_long")
    c.add("topic", "sensors/üñí-cødé/text", good, RESULT)
    c.add("topic", "sensors/with space/text", good, RESULT)
    c.add("prop", txt, good, RESULT, correlation_data=_b64(b"\x00\xff binary id"))
    c.add("prop", txt, good, RESULT, user_properties=[("seq", "7"), ("x", "y" * 1000)])


def build() -> list[Case]:
    """Every case, in a fixed order."""
    c = _Corpus()
    _images(c)
    _audio(c)
    _texts(c)
    _topics_and_properties(c)
    return c.cases


def _render(cases: list[Case]) -> str:
    return "".join(
        json.dumps(asdict(case), sort_keys=True, ensure_ascii=False) + "\n" for case in cases
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if cases.jsonl is stale")
    args = parser.parse_args()
    text = _render(build())
    if args.check:
        same = CASES.exists() and CASES.read_text(encoding="utf-8") == text
        print("cases.jsonl is current" if same else "cases.jsonl is stale: run generate.py")
        return 0 if same else 1
    CASES.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} cases to {CASES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
