"""Counter-based random numbers: every draw is a pure function of (seed, trip index, stream).

A trip's values therefore do not depend on how the rows are split into chunks: trip 1,234,567
is identical whether it is generated in a chunk of 1,000 or of 250,000 rows (like the
counter-based generators of stream-processing trainings). Each *stream* is one independent
draw per trip (distance noise, payment type, ...). Uniforms come from the SplitMix64 finaliser
(vectorised on uint64 arrays, wrap-around multiplication); other distributions are derived
by inverse transform, so each stream consumes exactly one or two uniforms per trip.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (bijective on uint64)."""
    x = (x ^ (x >> np.uint64(30))) * _C1
    x = (x ^ (x >> np.uint64(27))) * _C2
    return x ^ (x >> np.uint64(31))


class TripRandom:
    """Per-trip random draws for the trips ``start .. start + n - 1`` of a seeded run."""

    def __init__(self, seed: int, start: int, n: int) -> None:
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._index = np.arange(start, start + n, dtype=np.uint64)

    def uniform(self, stream: int) -> np.ndarray:
        """One uniform in [0, 1) per trip for ``stream`` (a small integer naming the draw)."""
        key = _mix(np.array([self._seed ^ (stream * 0xD1B54A32D192ED03 & 0xFFFFFFFFFFFFFFFF)],
                            dtype=np.uint64))
        with np.errstate(over="ignore"):
            x = _mix(self._index * _GOLDEN + key)
        return (x >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def normal(self, stream: int) -> np.ndarray:
        """Standard normal per trip (Box-Muller on two uniforms of ``stream``)."""
        u1 = self.uniform(stream * 2 + 1_000_001)
        u2 = self.uniform(stream * 2 + 1_000_002)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def lognormal(self, stream: int, median: np.ndarray | float, sigma: np.ndarray | float
                  ) -> np.ndarray:
        """Lognormal with the given median and log-space sigma."""
        return np.asarray(median) * np.exp(np.asarray(sigma) * self.normal(stream))

    def choice(self, stream: int, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """One of ``values`` per trip, drawn with ``weights`` (same table for every trip)."""
        cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
        cdf /= cdf[-1]
        pos = np.searchsorted(cdf, self.uniform(stream), side="right")
        return np.asarray(values)[np.minimum(pos, len(cdf) - 1)]
