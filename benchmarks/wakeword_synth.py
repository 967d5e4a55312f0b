"""Synthetic speech for the wake-word and speech tests and benchmarks (espeak-ng, flite, festival).

Every clip is 16 kHz int16 mono, with ``lead_s`` of silence before the speech
and ``tail_s`` after it. Clips are cached under ``$EDGE_AGENT_WW_CACHE``
(default ``/work/cache/wakeword``, else ``~/.cache/edge-agent/wakeword``), never in the repo.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "PHRASES",
    "Voice",
    "available_voices",
    "cache_root",
    "missing_tools",
    "synthesize",
]

RATE = 16000
PHRASES: dict[str, str] = {
    "okay_nabu": "okay nabu",
    "hey_jarvis": "hey jarvis",
    "alexa": "alexa",
    "hey_mycroft": "hey mycroft",
}


@dataclass(frozen=True, slots=True)
class Voice:
    """One synthesiser voice.

    Attributes:
        engine: ``espeak-ng``, ``flite`` or ``festival``.
        name: The engine's voice name (with espeak variant, e.g. ``en-us+f3``).
        speed: espeak-ng words per minute (ignored by the others).
    """

    engine: str
    name: str
    speed: int = 160

    @property
    def label(self) -> str:
        """Short id, e.g. ``espeak-ng:en-us+f3@160``."""
        return f"{self.engine}:{self.name}@{self.speed}"


_ESPEAK = [
    "en-us",
    "en-gb",
    "en-us+f3",
    "en-gb-x-rp+m3",
    "en-029+f2",
    "en-gb-scotland+m7",
    "en-us+f4",
    "en+klatt",
]
_FLITE = ["kal16", "awb", "rms", "slt", "kal"]
_FESTIVAL = ["kal_diphone", "ked_diphone"]


def missing_tools() -> list[str]:
    """Binaries this module needs that are not installed."""
    return [b for b in ("espeak-ng", "flite", "text2wave", "sox") if shutil.which(b) is None]


def available_voices(*, speeds: tuple[int, ...] = (150,)) -> list[Voice]:
    """Voices usable on this machine (festival voices only if installed)."""
    voices = [Voice("espeak-ng", v, s) for v in _ESPEAK for s in speeds]
    if shutil.which("flite"):
        voices += [Voice("flite", v) for v in _FLITE]
    if shutil.which("text2wave"):
        for v in _FESTIVAL:
            if list(Path("/usr/share/festival/voices").glob(f"*/{v}")):
                voices.append(Voice("festival", v))
    return voices


def cache_root() -> Path:
    """The clip cache folder (created)."""
    default = Path("/work/cache/wakeword")
    if not default.parent.is_dir():
        default = Path.home() / ".cache" / "edge-agent" / "wakeword"
    root = Path(os.environ.get("EDGE_AGENT_WW_CACHE", default)) / "clips"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _raw_wav(voice: Voice, text: str, out: Path) -> None:
    if voice.engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-w", str(out), text]
        subprocess.run(cmd, check=True, capture_output=True)
    elif voice.engine == "flite":
        subprocess.run(
            ["flite", "-voice", voice.name, "-t", text, "-o", str(out)],
            check=True,
            capture_output=True,
        )
    else:
        subprocess.run(
            ["text2wave", "-eval", f"(voice_{voice.name})", "-o", str(out)],
            input=text.encode(),
            check=True,
            capture_output=True,
        )


def synthesize(
    voice: Voice, text: str, *, lead_s: float = 0.5, tail_s: float = 1.0
) -> npt.NDArray[np.int16]:
    """Speak ``text`` in ``voice``: 16 kHz int16 mono with silence around it (cached)."""
    key = hashlib.sha256(f"{voice.label}|{text}|{lead_s}|{tail_s}".encode()).hexdigest()[:20]
    path = cache_root() / f"{key}.wav"
    if not path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            _raw_wav(voice, text, raw)
            tmp_out = Path(tmp) / "out.wav"
            subprocess.run(
                [
                    "sox",
                    str(raw),
                    "-r",
                    str(RATE),
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(tmp_out),
                    "silence",
                    "1",
                    "0.02",
                    "0.5%",
                    "reverse",
                    "silence",
                    "1",
                    "0.02",
                    "0.5%",
                    "reverse",
                    "pad",
                    str(lead_s),
                    str(tail_s),
                ],
                check=True,
                capture_output=True,
            )
            shutil.move(tmp_out, path)
    with wave.open(str(path), "rb") as wf:
        return np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2").astype(np.int16)
