"""Bootstrap confidence intervals (percentile method, seeded).

Two resampling units, one draw generator: per-sample metrics resample their per-sample values
(the CI of the mean); distributional metrics resample the evaluation set — sample ids drawn with
replacement, the generated and reference features of a drawn sample going in together — and
recompute the set statistic on each draw (`DistributionalMetric.resampled`). Draws are counts
[resamples, n] from `numpy.random.default_rng(seed)`, so a seeded run is reproducible and the
same seed gives every metric of a run the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import BadInputError

LEVEL = 0.95


@dataclass(frozen=True)
class BootstrapConfig:
    """How many draws for per-sample metrics (cheap) and for set statistics (one Fréchet
    distance per draw), the seed and the confidence level."""

    resamples: int = 1000
    set_resamples: int = 100
    seed: int = 0
    level: float = LEVEL


def draws(n: int, resamples: int, seed: int) -> np.ndarray:
    """Counts [resamples, n]: how often each of n items is drawn in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    return np.stack([np.bincount(row, minlength=n) for row in idx]) if resamples else np.zeros((0, n), np.int64)


def percentile_ci(stats: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central `level` interval of the bootstrap statistics (non-finite draws dropped)."""
    s = np.asarray(stats, dtype=np.float64)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        raise BadInputError(None, "no bootstrap draw gave a finite statistic")
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(s, alpha)), float(np.quantile(s, 1.0 - alpha))


def mean_ci(values: np.ndarray, resamples: int, seed: int, level: float = LEVEL) -> tuple[float, float] | None:
    """CI of the mean of per-sample values; None when there are fewer than 2 values or no resamples."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2 or resamples < 1:
        return None
    counts = draws(len(v), resamples, seed)
    return percentile_ci(counts @ v / len(v), level)
