"""Options of the ``speech`` pipeline, its routes, and its manifest ``[pipeline]`` table."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SpeechOptions", "SpeechPackageSettings", "SpeechRouteOptions"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpeechOptions(_Strict):
    """Pipeline-wide options of ``speech``."""

    compute_type: Literal["int8", "int8_float32", "int16", "float32"] = Field(
        default="int8",
        description="Weight type CTranslate2 runs (int8: quantized at load; the manifest's "
        "memory and speed figures are for int8).",
    )
    language: str | None = Field(
        default="en",
        pattern=r"^[a-z]{2,3}$",
        description="Language spoken (ISO code) for multilingual variants; null: detect it "
        "per recording (unreliable on short commands). English-only variants ignore it.",
    )
    beam_size: int = Field(
        default=5,
        ge=1,
        le=10,
        description="Beam search width (1: greedy). 5 cut tiny-en's eval WER from 0.168 to "
        "0.144 at a cost lost in the encoder's (model card).",
    )
    min_window_s: float = Field(
        default=10.0,
        ge=10.0,
        le=30.0,
        description="Shortest encoder window in seconds. Whisper pads every window to 30 s; "
        "here a recording shorter than that gets a window of its length (+1 s), but never "
        "below this: the encoder's cost falls with the window and, on the eval, so did "
        "the WER (model card). 30: always Whisper's full window. Recordings over 30 s are "
        "decoded in 30 s windows.",
    )
    temperature_fallback: bool = Field(
        default=True,
        description="Decode again with sampling at rising temperatures when the greedy "
        "result looks like a hallucination (repetitive or improbable), as Whisper does.",
    )
    compression_ratio_threshold: float = Field(
        default=2.4, gt=1.0, description="Text more compressible than this is a repetition loop."
    )
    logprob_threshold: float = Field(
        default=-1.0, le=0.0, description="Average log-probability below which to fall back."
    )
    no_speech_threshold: float = Field(
        default=0.6,
        gt=0.0,
        lt=1.0,
        description="A window whose no-speech probability is above this and whose "
        "log-probability is below `logprob_threshold` is silence (no text).",
    )
    max_streams: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Stream states kept (each holds at most `max_utterance_s` of audio); "
        "the least recently used is dropped.",
    )
    idle_reset_s: float = Field(
        default=2.0, gt=0.0, le=3600.0, description="A stream idle this long starts over."
    )
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="VAD speech level.")
    vad_energy_floor_dbfs: float = Field(
        default=-60.0, ge=-120.0, le=0.0, description="Quieter hops are silence, VAD not run."
    )
    speech_start_s: float = Field(
        default=0.05, ge=0.01, le=1.0, description="Speech this long starts an utterance."
    )
    end_silence_s: float = Field(
        default=0.5,
        ge=0.1,
        le=5.0,
        description="Silence this long ends an utterance (the VAD itself lags ~0.5 s "
        "behind the end of speech).",
    )
    max_utterance_s: float = Field(
        default=15.0,
        ge=1.0,
        le=30.0,
        description="An utterance still going after this long is cut and transcribed.",
    )
    preroll_s: float = Field(
        default=0.3, ge=0.0, le=2.0, description="Audio kept before the detected speech start."
    )
    wake_word_refractory_s: float = Field(
        default=2.0,
        ge=0.0,
        le=60.0,
        description="Routes with `after_wake_word`: a wake word stays silent this long after "
        "it fired.",
    )


class SpeechRouteOptions(_Strict):
    """Per-route options of ``speech``."""

    mode: Literal["stream", "clip"] = Field(
        default="stream",
        description="stream: chunks of a live stream, one transcript per utterance; "
        "clip: one whole recording, one transcript.",
    )
    after_wake_word: tuple[str, ...] = Field(
        default=(),
        description="Stream mode: transcribe only the utterance that follows one of these "
        "wake words (wakeword family model ids, e.g. okay_nabu) and publish it as a "
        "`voice_command` event; empty: every utterance.",
    )
    listen_s: float = Field(
        default=8.0,
        gt=0.0,
        le=60.0,
        description="After a wake word: how long to wait for the command to start.",
    )


class SpeechPackageSettings(_Strict):
    """The ``[pipeline]`` table of ``models/speech/manifest.toml``."""

    sample_rate: Literal[16000] = Field(default=16000, description="Model input rate in Hz.")
    wake_word_family: str = Field(
        default="wakeword",
        description="Family folder (beside this one) with the wake-word models of the chain.",
    )
