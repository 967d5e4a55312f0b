"""Whisper decoding: log-mel windows -> tokens -> timed segments -> a transcript.

Per 30 s window (:class:`~edge_agent.pipelines.speech.features.LogMel`): encode
once, detect the language when asked to (multilingual models), then generate
with timestamps from the prompt ``<|startoftranscript|>`` (+ ``<|lang|>
<|transcribe|>`` for multilingual models). CTranslate2 applies Whisper's
timestamp rules itself when ``<|notimestamps|>`` is not in the prompt.

Quality checks as Whisper's own ``transcribe``: a result whose text compresses
more than ``compression_ratio_threshold`` (a repetition loop) or whose average
log-probability is below ``logprob_threshold`` is decoded again by sampling at
rising temperatures (0.2 ... 1.0), unless the window is silence (no-speech
probability above ``no_speech_threshold`` and log-probability below the
threshold), which gives no text.

Windows: Whisper pads every window to 30 s. Here a recording shorter than that
gets a window of its own length plus 1 s (whole seconds), never shorter than
``min_window_s`` (10 s by default): the encoder's cost falls with its window,
and on the eval the WER fell too (model card). Sampling is seeded per
temperature, so the same audio always gives the same transcript.

Seeking: when a window's last segment is cut by the window end (the tokens end
in a timestamp *pair*), the next window starts at that last timestamp, so a
sentence is never split between two windows; otherwise the next window starts
where this one ended.

``avg_logprob`` is the mean log-probability per generated token including the
end-of-text token (CTranslate2's score is the sum over the tokens, end included,
divided by their count without it).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.errors import CancelledError, ModelError
from edge_agent.pipelines.speech.features import HOP, N_FRAMES, SAMPLE_RATE, LogMel
from edge_agent.pipelines.speech.options import SpeechOptions
from edge_agent.runtime.ctranslate2 import WhisperBackend

__all__ = ["Segment", "Transcriber", "Transcript", "WhisperTokenizer"]

_SECONDS_PER_TIMESTAMP = 0.02  # timestamp tokens count in 20 ms (two 10 ms frames)
_FRAMES_PER_TIMESTAMP = 2
_FALLBACK_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)
_FRAMES_PER_S = SAMPLE_RATE // HOP
_MARGIN_FRAMES = _FRAMES_PER_S  # 1 s of padding after the audio


class WhisperTokenizer:
    """Whisper's byte-level BPE (``tokenizer.json``) and its special tokens.

    Args:
        path: The model's ``tokenizer.json``.
        family: Family name, for the error.
        variant: Variant id, for the error.

    Raises:
        ModelError: The file is not a Whisper tokenizer.
    """

    def __init__(
        self, path: Path, *, family: str | None = None, variant: str | None = None
    ) -> None:
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises its own Exception subclass
            raise ModelError(
                f"invalid tokenizer: {exc}", family=family, variant=variant, path=str(path)
            ) from exc
        ids = {}
        for name in ("startoftranscript", "endoftext", "transcribe", "notimestamps"):
            token_id = self._tok.token_to_id(f"<|{name}|>")
            if token_id is None:
                raise ModelError(
                    f"tokenizer lacks <|{name}|>", family=family, variant=variant, path=str(path)
                )
            ids[name] = int(token_id)
        self.sot = ids["startoftranscript"]
        self.eot = ids["endoftext"]
        self.transcribe = ids["transcribe"]
        self.no_timestamps = ids["notimestamps"]
        self.timestamp_begin = self.no_timestamps + 1

    def language_token(self, code: str) -> int | None:
        """Token id of ``<|code|>``, or None when the tokenizer has no such language."""
        token_id = self._tok.token_to_id(f"<|{code}|>")
        return None if token_id is None else int(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ordinary (non-special) tokens."""
        return str(self._tok.decode([i for i in ids if i < self.eot]))


@dataclass(frozen=True, slots=True)
class Segment:
    """A timed piece of a transcript.

    Attributes:
        start_s: Start in the recording, seconds.
        end_s: End in the recording, seconds.
        text: Its text (leading space stripped).
        avg_logprob: Mean token log-probability of the window it came from.
        no_speech_prob: No-speech probability of that window.
    """

    start_s: float
    end_s: float
    text: str
    avg_logprob: float
    no_speech_prob: float

    def as_dict(self) -> dict[str, Any]:
        """The segment as published."""
        return {
            "start_s": round(self.start_s, 2),
            "end_s": round(self.end_s, 2),
            "text": self.text,
            "avg_logprob": round(self.avg_logprob, 4),
            "no_speech_prob": round(self.no_speech_prob, 4),
        }


@dataclass(frozen=True, slots=True)
class Transcript:
    """What one recording said.

    Attributes:
        text: The whole text (segments joined), stripped.
        language: ISO code of the language decoded.
        language_probability: Detection probability (1.0 when it was given).
        segments: Timed segments.
        avg_logprob: Mean of the windows' average log-probabilities (0.0 when none).
        no_speech_prob: Highest no-speech probability of the windows.
        duration_s: Audio duration in seconds.
        windows: Encoder windows decoded.
        fallbacks: Windows decoded again at a higher temperature.
    """

    text: str
    language: str
    language_probability: float
    segments: tuple[Segment, ...]
    avg_logprob: float
    no_speech_prob: float
    duration_s: float
    windows: int
    fallbacks: int

    def as_dict(self) -> dict[str, Any]:
        """The transcript as published (segment texts included)."""
        return {
            "text": self.text,
            "language": self.language,
            "language_probability": round(self.language_probability, 4),
            "segments": [s.as_dict() for s in self.segments],
            "avg_logprob": round(self.avg_logprob, 4),
            "no_speech_prob": round(self.no_speech_prob, 4),
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True, slots=True)
class _Decoded:
    tokens: tuple[int, ...]
    text: str
    avg_logprob: float
    no_speech_prob: float
    temperature: float


def compression_ratio(text: str) -> float:
    """Bytes of ``text`` over bytes of its zlib compression (repetition loops score high)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def _has_sound(audio: npt.NDArray[np.float32], floor_dbfs: float) -> bool:
    """Whether any 10 ms hop of ``audio`` is louder than ``floor_dbfs`` (RMS)."""
    usable = audio[: audio.size - audio.size % HOP].astype(np.float64)
    if usable.size == 0:
        return False
    power = np.mean(usable.reshape(-1, HOP) ** 2, axis=1)
    return bool(power.max() >= 10.0 ** (floor_dbfs / 10.0))


def _silent(audio: npt.NDArray[np.float32], multilingual: bool, language: str | None) -> Transcript:
    return Transcript(
        text="",
        language=(language or "en") if multilingual else "en",
        language_probability=1.0 if not multilingual or language else 0.0,
        segments=(),
        avg_logprob=0.0,
        no_speech_prob=1.0,
        duration_s=audio.size / SAMPLE_RATE,
        windows=0,
        fallbacks=0,
    )


class Transcriber:
    """Turns 16 kHz audio into a :class:`Transcript` with one loaded Whisper model.

    Args:
        backend: The loaded model.
        tokenizer: Its tokenizer.
        options: Decoding options.

    Raises:
        ModelError: The configured language is not in a multilingual model.
    """

    def __init__(
        self, backend: WhisperBackend, tokenizer: WhisperTokenizer, options: SpeechOptions
    ) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.options = options
        language = options.language
        if backend.is_multilingual and language and tokenizer.language_token(language) is None:
            raise ModelError(
                f"language {language!r} is not one of the model's",
                family=backend.family,
                variant=backend.variant,
            )
        # whole seconds: an even frame count, as the encoder's stride-2 convolution needs
        self._min_frames = math.ceil(options.min_window_s) * _FRAMES_PER_S

    def _prompt(self, language: str | None) -> list[int]:
        tok = self.tokenizer
        if not self.backend.is_multilingual or language is None:
            return [tok.sot]
        lang = tok.language_token(language)
        if lang is None:
            raise ModelError(f"language {language!r} is not in this model")
        return [tok.sot, lang, tok.transcribe]

    def _language(self, encoded: Any) -> tuple[str, float]:
        if not self.backend.is_multilingual:
            return "en", 1.0
        if self.options.language is not None:
            return self.options.language, 1.0
        token, prob = self.backend.detect_language(encoded)[0][0]
        return token.strip("<|>"), float(prob)

    def _generate(self, encoded: Any, prompt: list[int], temperature: float) -> _Decoded:
        opts = self.options
        if temperature == 0.0:
            sampling: dict[str, Any] = {"beam_size": opts.beam_size}
        else:
            sampling = {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": temperature}
            self.backend.seed(round(temperature * 10))  # same audio, same transcript
        result = self.backend.generate(
            encoded, [prompt], return_scores=True, return_no_speech_prob=True, **sampling
        )[0]
        tokens = tuple(int(t) for t in result.sequences_ids[0])
        total = float(result.scores[0]) * len(tokens)
        return _Decoded(
            tokens=tokens,
            text=self.tokenizer.decode(tokens),
            avg_logprob=total / (len(tokens) + 1),
            no_speech_prob=float(result.no_speech_prob),
            temperature=temperature,
        )

    def _is_silence(self, d: _Decoded) -> bool:
        opts = self.options
        return (
            d.no_speech_prob > opts.no_speech_threshold and d.avg_logprob < opts.logprob_threshold
        )

    def _needs_fallback(self, d: _Decoded) -> bool:
        opts = self.options
        if self._is_silence(d):
            return False
        return (
            compression_ratio(d.text) > opts.compression_ratio_threshold
            or d.avg_logprob < opts.logprob_threshold
        )

    def _decode_window(self, encoded: Any, prompt: list[int]) -> _Decoded:
        decoded = self._generate(encoded, prompt, 0.0)
        if not self.options.temperature_fallback or not self._needs_fallback(decoded):
            return decoded
        tries = [decoded]
        for temperature in _FALLBACK_TEMPERATURES:
            decoded = self._generate(encoded, prompt, temperature)
            if not self._needs_fallback(decoded):
                return decoded
            tries.append(decoded)
        # nothing passed: the most probable attempt that is not a repetition loop
        # (sampling at T = 1.0 alone would often be worse than the greedy result)
        ratio = self.options.compression_ratio_threshold
        plain = [d for d in tries if compression_ratio(d.text) <= ratio] or tries
        return max(plain, key=lambda d: d.avg_logprob)

    def _segments(
        self, d: _Decoded, offset_s: float, window_end_s: float
    ) -> tuple[list[Segment], int | None]:
        """Timed segments of one window, and the frame to seek to when its end was cut.

        Returns:
            The segments, and the frame offset (within the window) of the last
            timestamp when the tokens end in a timestamp pair (None: the window
            was consumed entirely).
        """
        begin = self.tokenizer.timestamp_begin
        segments: list[Segment] = []
        start: float | None = None
        text_ids: list[int] = []
        last_pair_at: int | None = None
        previous_was_time = False
        for token in d.tokens:
            if token < begin:
                if start is None:
                    start = 0.0 if not segments else segments[-1].end_s - offset_s
                text_ids.append(token)
                previous_was_time = False
                continue
            at = (token - begin) * _SECONDS_PER_TIMESTAMP
            if previous_was_time:
                last_pair_at = (token - begin) * _FRAMES_PER_TIMESTAMP
            if text_ids and start is not None:
                self._add(segments, d, offset_s + start, offset_s + at, text_ids)
                text_ids = []
                start = None
            else:
                start = at
            previous_was_time = True
        if text_ids:
            self._add(segments, d, offset_s + (start or 0.0), window_end_s, text_ids)
        # timestamps may run past the audio (into the zero padding): clamp to it
        segments = [
            s if s.end_s <= window_end_s else replace(s, end_s=max(s.start_s, window_end_s))
            for s in segments
        ]
        ends_in_pair = len(d.tokens) >= 2 and all(t >= begin for t in d.tokens[-2:])
        return segments, last_pair_at if ends_in_pair else None

    def _add(
        self, segments: list[Segment], d: _Decoded, start: float, end: float, ids: list[int]
    ) -> None:
        text = self.tokenizer.decode(ids).strip()
        if text:
            segments.append(Segment(start, max(start, end), text, d.avg_logprob, d.no_speech_prob))

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Transcript:
        """Transcribe a whole recording.

        Args:
            audio: 16 kHz mono float samples in [-1, 1].
            cancelled: Checked between windows; True stops with CancelledError.

        Returns:
            The transcript.

        Raises:
            CancelledError: ``cancelled()`` turned true.
            ModelError: The configured language is not in the model.
        """
        if not _has_sound(audio, self.options.vad_energy_floor_dbfs):
            # Whisper "hears" words in digital silence ("you", "Thank you."): no sound,
            # nothing to decode
            return _silent(audio, self.backend.is_multilingual, self.options.language)
        mel = LogMel(audio, n_mels=self.backend.n_mels)
        content = mel.content_frames
        # the window fits the recording (+1 s, whole seconds), within [min_window_s, 30 s]
        fitted = -(-(content + _MARGIN_FRAMES) // _FRAMES_PER_S) * _FRAMES_PER_S
        frames = min(N_FRAMES, max(self._min_frames, fitted))
        seek = 0
        segments: list[Segment] = []
        logprobs: list[float] = []
        no_speech = 0.0
        language, language_prob = "en", 1.0
        windows = fallbacks = 0
        while seek < max(content, 1):
            if cancelled():
                raise CancelledError()
            length = min(frames, max(content - seek, 1))
            features = mel.window(seek, frames)[None]
            encoded = self.backend.encode(features)
            if windows == 0:
                language, language_prob = self._language(encoded)
            decoded = self._decode_window(encoded, self._prompt(language))
            windows += 1
            fallbacks += decoded.temperature > 0.0
            no_speech = max(no_speech, decoded.no_speech_prob)
            offset_s = seek * HOP / SAMPLE_RATE
            window_end_s = (seek + length) * HOP / SAMPLE_RATE
            if self._is_silence(decoded):
                seek += length
                continue
            logprobs.append(decoded.avg_logprob)
            found, cut_at = self._segments(decoded, offset_s, window_end_s)
            segments.extend(found)
            seek += cut_at if cut_at else length
        return Transcript(
            text=" ".join(s.text for s in segments).strip(),
            language=language,
            language_probability=language_prob,
            segments=tuple(segments),
            avg_logprob=float(np.mean(logprobs)) if logprobs else 0.0,
            no_speech_prob=no_speech,
            duration_s=audio.size / SAMPLE_RATE,
            windows=windows,
            fallbacks=fallbacks,
        )
