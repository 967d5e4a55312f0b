"""Whisper's log-mel front end in numpy: 16 kHz audio -> ``[80, 3000]`` features.

What Whisper was trained on, step by step (so the model sees the same numbers):

1. The audio (float in [-1, 1]) is followed by zeros up to a whole 30 s window
   (480,000 samples): every window the encoder sees has exactly 3000 frames.
2. A short-time Fourier transform with a 400-sample (25 ms) *periodic* Hann
   window and a 160-sample (10 ms) hop, centred: the signal is reflect-padded by
   200 samples at both ends, so frame ``t`` is centred on sample ``160 t``. The
   last frame is dropped (3000 frames for 480,000 samples, not 3001).
3. Power spectrum (|X|², 201 bins), projected on 80 triangular mel filters
   (Slaney's mel scale: linear below 1 kHz, logarithmic above; each triangle
   normalised to unit area, as librosa's ``norm="slaney"``), 0 Hz to 8 kHz.
4. ``log10`` of the energies clamped at 1e-10, then clamped from below at the
   maximum minus 8 (an 80 dB dynamic range), then ``(x + 4) / 4``.

Step 4's maximum is over the whole window, so a window's features depend on
everything in it (a loud cough lifts the floor of the whole window).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import numpy.typing as npt

__all__ = [
    "HOP",
    "N_FFT",
    "N_FRAMES",
    "N_MELS",
    "N_SAMPLES",
    "SAMPLE_RATE",
    "LogMel",
    "log_mel",
    "mel_filters",
]

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
CHUNK_S = 30
N_SAMPLES = CHUNK_S * SAMPLE_RATE  # 480,000 samples per window
N_FRAMES = N_SAMPLES // HOP  # 3000 frames per window

# Slaney's mel scale (the Auditory Toolbox's): 3 mels per 200 Hz up to 1 kHz, then
# 27 mels per factor 6.4 in frequency.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = hz / _F_SP
    logarithmic = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, logarithmic, linear)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = _F_SP * mel
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, logarithmic, linear)


@cache
def mel_filters(n_mels: int = N_MELS) -> npt.NDArray[np.float32]:
    """Triangular mel filters over the ``N_FFT // 2 + 1`` power bins.

    Args:
        n_mels: Number of filters (80 for every Whisper up to large-v2).

    Returns:
        ``[n_mels, 201]`` float32 weights, each row a unit-area triangle
        (Slaney normalisation: height ``2 / (upper - lower)`` Hz).
    """
    bins = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges_mel = np.linspace(
        _hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2.0)), n_mels + 2
    )
    edges = _mel_to_hz(edges_mel)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= 2.0 / (upper - lower)
    out: npt.NDArray[np.float32] = weights.astype(np.float32)
    out.flags.writeable = False
    return out


@cache
def _hann() -> npt.NDArray[np.float32]:
    # periodic Hann (the window of a 400-point DFT frame), not the symmetric one
    n = np.arange(N_FFT, dtype=np.float64)
    window: npt.NDArray[np.float32] = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)).astype(
        np.float32
    )
    window.flags.writeable = False
    return window


def _frames(padded: npt.NDArray[np.float32], start: int, count: int) -> npt.NDArray[np.float32]:
    """``count`` overlapping frames of ``N_FFT`` samples, ``HOP`` apart, from frame ``start``."""
    step = padded.strides[0]
    view: npt.NDArray[np.float32] = np.lib.stride_tricks.as_strided(
        padded[start * HOP :], shape=(count, N_FFT), strides=(HOP * step, step), writeable=False
    )
    return view


class LogMel:
    """Whisper features of a whole recording, served one 30 s window at a time.

    Whisper computes the spectrogram of the whole recording (plus 30 s of zeros)
    and clamps it at its *global* maximum minus 8; windows are then slices at
    frame offsets. Here the maximum is found in a first pass over blocks and each
    window is computed when asked for, so memory stays one window whatever the
    recording's length.

    Args:
        audio: 16 kHz mono float samples in [-1, 1].
        n_mels: Mel filters (the model's ``n_mels``).
    """

    __slots__ = ("_live", "_n_mels", "_signal", "floor", "frames")

    def __init__(self, audio: npt.NDArray[np.float32], *, n_mels: int = N_MELS) -> None:
        half = N_FFT // 2
        used = np.asarray(audio, dtype=np.float32).reshape(-1)
        self._n_mels = n_mels
        #: frames Whisper's spectrogram has: audio plus one window of zeros, last frame dropped
        self.frames = (used.size + N_SAMPLES) // HOP
        # centre=True: 200 samples reflected at the start; past the audio come zeros,
        # and so does their reflection at the end.
        self._live = min(self.frames, (used.size + half) // HOP + 1)
        signal = np.zeros((self._live - 1) * HOP + N_FFT, dtype=np.float32)
        signal[half : half + used.size] = used
        if used.size > 1:
            k = min(half, used.size - 1)
            signal[half - k : half] = used[1 : k + 1][::-1]
        self._signal = signal
        top = np.float32(-10.0)  # log10 of the 1e-10 floor: what silence gives
        for start in range(0, self._live, N_FRAMES):
            top = max(top, self._log_energies(start, min(N_FRAMES, self._live - start)).max())
        #: lowest feature value before scaling (the global maximum minus 8)
        self.floor = float(top) - 8.0

    @property
    def content_frames(self) -> int:
        """Frames that hold audio (the recording's length in 10 ms frames)."""
        return self.frames - N_FRAMES

    def _log_energies(self, start: int, count: int) -> npt.NDArray[np.float32]:
        spectrum = np.fft.rfft(_frames(self._signal, start, count) * _hann(), axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        mel = mel_filters(self._n_mels) @ power.T
        out: npt.NDArray[np.float32] = np.log10(np.maximum(mel, np.float32(1e-10)))
        return out

    def window(self, seek: int, frames: int = N_FRAMES) -> npt.NDArray[np.float32]:
        """The features of ``frames`` frames from frame ``seek`` (zero-padded as Whisper's).

        Args:
            seek: First frame.
            frames: Window length (3000).

        Returns:
            ``[n_mels, frames]`` float32, C-contiguous (what ``ctranslate2`` takes).
        """
        # frames past the audio have zero power: log10 of the 1e-10 clamp, unless the
        # floor is above it
        out = np.full((self._n_mels, frames), max(-10.0, self.floor), dtype=np.float32)
        count = max(0, min(frames, self._live - seek))
        if count:
            np.maximum(self._log_energies(seek, count), self.floor, out=out[:, :count])
        out += 4.0
        out /= 4.0
        return out


def log_mel(audio: npt.NDArray[np.float32], *, n_mels: int = N_MELS) -> npt.NDArray[np.float32]:
    """Whisper features of the first 30 s window of ``audio`` (shorter audio is padded).

    Args:
        audio: 16 kHz mono float samples in [-1, 1].
        n_mels: Mel filters (the model's ``n_mels``).

    Returns:
        ``[n_mels, 3000]`` float32.
    """
    return LogMel(audio, n_mels=n_mels).window(0)
