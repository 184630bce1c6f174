"""The Fréchet distance and its streaming statistics, shared by FID, FVD, FVMD (and FAD).

Statistics are accumulated as float64 sums (Σx, Σxxᵀ, n) in a torchmetrics `Metric`, so memory is
O(d²) whatever the number of clips, and distributed runs sync by summing. The distance is computed
once, in float64, with pytorch-fid's semantics (scipy `sqrtm`; if the root is not finite, eps·I is
added to both covariances; an imaginary diagonal above 1e-3 is an error, otherwise the real part is
kept). Reference implementations differ in the covariance divisor (N−1 in pytorch-fid/TF-GAN,
N in StyleGAN-V) and in whether eps is always added (fvmd): both are parameters here and part of
each metric's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torchmetrics import Metric as TMMetric

from bench.atomic import atomic_path
from bench.errors import BadInputError


@dataclass(frozen=True)
class GaussianStats:
    mu: np.ndarray  # [d] float64
    sigma: np.ndarray  # [d, d] float64
    n: int


class FeatureMoments(TMMetric):
    """Streaming first and second moments of feature rows (torchmetrics update/compute/reset)."""

    full_state_update = False

    def __init__(self, dim: int, ddof: int = 1) -> None:
        super().__init__()
        self.dim, self.ddof = dim, ddof
        self.add_state("total", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, feats: torch.Tensor | np.ndarray) -> None:  # type: ignore[override]
        x = torch.as_tensor(np.asarray(feats), dtype=torch.float64).reshape(-1, self.dim)
        self.total += x.sum(0)
        self.outer += x.T @ x
        self.n += x.shape[0]

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """(mean [d], covariance [d, d]) in float64."""
        n = int(self.n)
        if n <= self.ddof:
            raise BadInputError(None, f"too few feature rows for a covariance: n={n} (need more than {self.ddof})")
        mu = self.total / n
        return mu, (self.outer - n * torch.outer(mu, mu)) / (n - self.ddof)


def stats_of(chunks: Iterable[np.ndarray], dim: int, ddof: int = 1) -> GaussianStats:
    """Mean and covariance of all rows of `chunks`, streamed chunk by chunk."""
    acc = FeatureMoments(dim, ddof)
    for c in chunks:
        acc.update(c)
    mu, sigma = acc.compute()
    return GaussianStats(mu.numpy().copy(), sigma.numpy().copy(), int(acc.n))


def cached_stats(cache: Path | None, chunks: Iterable[np.ndarray], dim: int, ddof: int) -> GaussianStats:
    """`stats_of`, read from / written to `cache` (an .npz keyed by content by the caller)."""
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return GaussianStats(z["mu"], z["sigma"], int(z["n"]))
    st = stats_of(chunks, dim, ddof)
    if cache is not None:
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:
            np.savez(f, mu=st.mu, sigma=st.sigma, n=st.n)
    return st


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6, always_eps: bool = False) -> float:
    """‖μa−μb‖² + Tr(Σa + Σb − 2·sqrtm(ΣaΣb)) in float64.

    `always_eps=False`: pytorch-fid/clean-fid (eps·I only when the root is not finite);
    `always_eps=True`: fvmd (eps·I always added before the root).
    """
    mu1, mu2 = np.atleast_1d(a.mu).astype(np.float64), np.atleast_1d(b.mu).astype(np.float64)
    s1, s2 = np.atleast_2d(a.sigma).astype(np.float64), np.atleast_2d(b.sigma).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape} vs {mu2.shape}")
    offset = np.eye(s1.shape[0]) * eps
    covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset) if always_eps else s1 @ s2)
    if not np.isfinite(covmean).all():
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise BadInputError(None, f"Fréchet distance: sqrtm has an imaginary component "
                                      f"{np.max(np.abs(covmean.imag)):.3g} (degenerate feature statistics)")
        covmean = covmean.real
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    if not np.isfinite(value):
        raise BadInputError(None, "Fréchet distance is not finite (singular feature statistics)")
    return value


def set_distance(generated: Iterable[np.ndarray], reference: Iterable[np.ndarray], dim: int, ddof: int,
                 reference_cache: Path | None, eps: float = 1e-6, always_eps: bool = False) -> float:
    """Fréchet distance between two feature sets streamed clip by clip; the reference side's
    statistics are read from / written to `reference_cache` (content-keyed by the caller)."""
    gen = stats_of(generated, dim, ddof)
    ref = cached_stats(reference_cache, reference, dim, ddof)
    return frechet_distance(gen, ref, eps=eps, always_eps=always_eps)
