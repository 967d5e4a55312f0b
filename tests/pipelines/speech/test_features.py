"""The log-mel front end against a direct, loop-by-loop reading of Whisper's recipe."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.pipelines.speech.features import (
    HOP,
    N_FFT,
    N_FRAMES,
    SAMPLE_RATE,
    LogMel,
    log_mel,
    mel_filters,
)


def _direct(audio: npt.NDArray[np.float32], frames: int) -> npt.NDArray[np.float64]:
    """Whisper's steps written out plainly: pad, reflect, frame, window, DFT, mel, log."""
    padded = np.concatenate([audio.astype(np.float64), np.zeros(N_FRAMES * HOP)])
    half = N_FFT // 2
    reflected = np.concatenate([padded[1 : half + 1][::-1], padded, padded[-half - 1 : -1][::-1]])
    n = np.arange(N_FFT)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)
    total = (padded.size) // HOP  # the last frame is dropped
    power = np.empty((total, N_FFT // 2 + 1))
    for t in range(total):
        frame = reflected[t * HOP : t * HOP + N_FFT] * window
        spectrum = np.fft.fft(frame)[: N_FFT // 2 + 1]
        power[t] = np.abs(spectrum) ** 2
    mel = mel_filters().astype(np.float64) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0)[:, :frames]


@pytest.fixture(scope="module")
def chirp() -> npt.NDArray[np.float32]:
    t = np.arange(int(1.3 * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(3)
    signal = 0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.01 * rng.normal(size=t.size)
    return signal.astype(np.float32)


def test_window_matches_the_direct_recipe(chirp: npt.NDArray[np.float32]) -> None:
    got = log_mel(chirp)
    assert got.shape == (80, N_FRAMES)
    assert got.dtype == np.float32
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, _direct(chirp, N_FRAMES), atol=2e-4)


def test_later_windows_share_the_global_floor(chirp: npt.NDArray[np.float32]) -> None:
    long = np.concatenate([chirp * 0.01] * 20 + [chirp])  # loud only near the end (~27 s)
    mel = LogMel(long)
    assert mel.content_frames == long.size // HOP
    direct = _direct(long, mel.frames)
    np.testing.assert_allclose(mel.window(0), direct[:, :N_FRAMES], atol=2e-4)
    np.testing.assert_allclose(mel.window(1500), direct[:, 1500 : 1500 + N_FRAMES], atol=2e-4)


def test_silence_is_the_log_floor() -> None:
    got = log_mel(np.zeros(8000, dtype=np.float32))
    np.testing.assert_allclose(got, (-10.0 + 4.0) / 4.0, atol=1e-6)


def test_a_tone_lights_the_mel_band_of_its_frequency() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    filters = mel_filters()
    for hz in (300.0, 1000.0, 3000.0):
        features = log_mel((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32))
        band = int(np.argmax(features[:, 20:80].mean(axis=1)))
        bin_index = round(hz * N_FFT / SAMPLE_RATE)
        assert filters[band, bin_index] > 0, (hz, band)


def test_filters_are_unit_area_triangles() -> None:
    filters = mel_filters().astype(np.float64)
    assert filters.shape == (80, 201)
    hz_per_bin = SAMPLE_RATE / N_FFT
    # Slaney normalisation: height 2 / width, so area (in Hz) is about 1 where the
    # triangle spans several bins
    wide = filters[40:]
    np.testing.assert_allclose(wide.sum(axis=1) * hz_per_bin, 1.0, rtol=0.08)
    peaks = filters.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0)


@settings(max_examples=25, deadline=None)
@given(
    samples=st.integers(min_value=0, max_value=3 * SAMPLE_RATE),
    gain=st.floats(min_value=1e-4, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_any_window_spans_at_most_the_80_db_range(samples: int, gain: float, seed: int) -> None:
    audio = (gain * np.random.default_rng(seed).uniform(-1, 1, samples)).astype(np.float32)
    got = log_mel(audio)
    assert got.shape == (80, N_FRAMES)
    assert np.isfinite(got).all()
    assert float(got.max() - got.min()) <= 2.0 + 1e-5  # 8 log10 units / 4
