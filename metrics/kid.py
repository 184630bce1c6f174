"""KID over video frames: unbiased polynomial-kernel MMD² averaged over seeded random subsets.

Protocol as torch-fidelity (PROTOCOLS.md §2): k(x, y) = (xᵀy/d + 1)³, 100 subsets drawn without
replacement by `np.random.RandomState(2020)`, unbiased MMD². torch-fidelity refuses sets smaller
than the subset size (1000); here the subset size is min(1000, n_gen, n_ref) — the id says so —
so short evaluation sets still get a (higher-variance) number. Features are the FID extractor's
(the cache is shared with FID). Reported raw (papers often print KID×100 or ×1000); small negative
values are valid.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BadInputError
from metrics.base import FeatureSet, register_metric
from metrics.fid import InceptionFrames

SUBSETS, MAX_SUBSET, SEED = 100, 1000, 2020


def poly_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (diagonals excluded from the within-set terms)."""
    d, m = x.shape[1], x.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.sum() / (m * m))


def kid(x: np.ndarray, y: np.ndarray, subsets: int = SUBSETS, max_subset: int = MAX_SUBSET,
        seed: int = SEED) -> tuple[float, float]:
    """(mean, std) of MMD² over `subsets` random subsets of size min(max_subset, len(x), len(y))."""
    m = min(max_subset, len(x), len(y))
    rng = np.random.RandomState(seed)
    vals = np.zeros(subsets)
    for i in range(subsets):
        xs = x[rng.choice(len(x), m, replace=False)]
        ys = y[rng.choice(len(y), m, replace=False)]
        vals[i] = poly_mmd2(xs, ys)
    return float(vals.mean()), float(vals.std())


@register_metric
class KIDPytorchFid(InceptionFrames):
    id = "kid@inception-pytorchfid/frames-all/299-bilinear-squash/pm1/poly3-s100xmin1000-seed2020"
    extractor = "inception-pool3/pytorchfid/frames-all"
    higher_is_better = False
    description = "Kernel Inception Distance over video frames (cubic-kernel MMD², 100 seeded subsets)"
    default = True

    def reduce(self, generated: FeatureSet, reference: FeatureSet) -> float:
        x, y = generated.stack().astype(np.float64), reference.stack().astype(np.float64)
        if min(len(x), len(y)) < 2:
            raise BadInputError(None, f"KID needs at least 2 feature rows per side (got {len(x)} and {len(y)})")
        return kid(x, y)[0]
