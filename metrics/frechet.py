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
from typing import ClassVar

import numpy as np
import torch
from scipy import linalg
from torchmetrics import Metric as TMMetric

from bench.cache import verified, verified_write
from bench.errors import BadInputError
from metrics.base import FeatureSet


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
    if cache is not None and verified(cache):
        with np.load(cache) as z:
            return GaussianStats(z["mu"], z["sigma"], int(z["n"]))
    st = stats_of(chunks, dim, ddof)
    if cache is not None:
        with verified_write(cache) as tmp, open(tmp, "wb") as f:
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


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr sqrtm(Σ1Σ2) for symmetric PSD Σ1, Σ2 via two symmetric eigendecompositions:
    Tr sqrtm(Σ1Σ2) = Σ √λ(Σ1^½ Σ2 Σ1^½). Equal to the sqrtm trace up to rounding (1e-12 relative
    on 2048-d FID statistics) and 5-13x faster, which is what a bootstrap of hundreds of draws needs."""
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)).sum())


MOMENTS_BUDGET_BYTES = 4 << 30  # per-sample second moments kept for the set bootstrap (both sides)


def sample_moments(features: Iterable[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-clip row count [N], row sum [N, d] and Σxxᵀ [N, d, d] (float64): any resample's
    statistics are then weighted sums of these, without touching the features again."""
    ns, sums, outers = [], [], []
    for x in features:
        x = np.asarray(x, dtype=np.float64).reshape(-1, dim)
        ns.append(x.shape[0])
        sums.append(x.sum(0))
        outers.append(x.T @ x)
    return np.array(ns, dtype=np.float64), np.stack(sums), np.stack(outers)


def weighted_stats(moments: tuple[np.ndarray, np.ndarray, np.ndarray], weights: np.ndarray, ddof: int) -> GaussianStats:
    """Mean and covariance of the rows of clips taken `weights[i]` times each."""
    ns, sums, outers = moments
    n = float(weights @ ns)
    if n <= ddof:
        raise BadInputError(None, f"too few feature rows for a covariance: n={int(n)} (need more than {ddof})")
    mu = weights @ sums / n
    outer = np.tensordot(weights, outers, axes=1)
    return GaussianStats(mu, (outer - n * np.outer(mu, mu)) / (n - ddof), int(n))


class FrechetReduce:
    """Mixin for distributional metrics whose number is a Fréchet distance between the two feature
    sets: the protocol is the class attributes (dimension, covariance divisor, eps semantics)."""

    dim: ClassVar[int]
    ddof: ClassVar[int] = 1
    eps: ClassVar[float] = 1e-6
    always_eps: ClassVar[bool] = False

    def reduce(self, generated: FeatureSet, reference: FeatureSet) -> float:
        return set_distance(generated, reference, self.dim, self.ddof, reference.cache_path(f"gauss-ddof{self.ddof}"),
                            eps=self.eps, always_eps=self.always_eps)

    def resampled(self, generated: FeatureSet, reference: FeatureSet, counts: np.ndarray) -> np.ndarray:
        """The distance on each set-bootstrap draw (counts [B, N] over the paired clips).

        With fewer feature rows than dimensions (and no always-on eps) from the rows themselves:
        Tr sqrtm(Σ1Σ2) is then the nuclear norm of B1·B2ᵀ (Σ = BᵀB, B the weighted centred rows),
        an SVD of a rows×rows matrix. Otherwise from per-clip moments, with `trace_sqrt_product`;
        that path raises BadInputError when the moments would exceed MOMENTS_BUDGET_BYTES."""
        if not self.always_eps and max(_rows(generated), _rows(reference)) <= self.dim:
            gen_rows, ref_rows = _load_rows(generated, self.dim), _load_rows(reference, self.dim)
            return np.array([_rows_distance(gen_rows, ref_rows, c, self.ddof) for c in counts])
        need = 2 * len(generated) * self.dim * self.dim * 8
        if need > MOMENTS_BUDGET_BYTES:  # checked before any feature is read
            raise BadInputError(None, f"set bootstrap skipped: per-clip moments need {need / 2**30:.1f} GiB "
                                      f"(> {MOMENTS_BUDGET_BYTES / 2**30:.0f} GiB)")
        gen, ref = sample_moments(generated, self.dim), sample_moments(reference, self.dim)
        eps = np.eye(self.dim) * self.eps if self.always_eps else 0.0
        out = np.empty(len(counts))
        for b, w in enumerate(counts.astype(np.float64)):
            a, r = weighted_stats(gen, w, self.ddof), weighted_stats(ref, w, self.ddof)
            diff = a.mu - r.mu
            out[b] = diff @ diff + np.trace(a.sigma) + np.trace(r.sigma) - 2 * trace_sqrt_product(a.sigma + eps, r.sigma + eps)
        return out


def _rows(features: FeatureSet) -> int:
    """Feature rows of a set, from the .npy headers (nothing loaded)."""
    return sum(int(np.load(f, mmap_mode="r").shape[0]) for f in features.files)


def _load_rows(features: FeatureSet, dim: int) -> list[np.ndarray]:
    return [np.asarray(x, np.float64).reshape(-1, dim) for x in features]


def _weighted_rows(clips: list[np.ndarray], counts: np.ndarray, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, B) of the rows of clips taken counts[i] times, with Σ = BᵀB."""
    x = np.concatenate([c for c, k in zip(clips, counts) if k])
    w = np.concatenate([np.full(len(c), float(k)) for c, k in zip(clips, counts) if k])
    n = w.sum()
    if n <= ddof:
        raise BadInputError(None, f"too few feature rows for a covariance: n={int(n)} (need more than {ddof})")
    mu = w @ x / n
    return mu, (x - mu) * np.sqrt(w / (n - ddof))[:, None]


def _rows_distance(gen: list[np.ndarray], ref: list[np.ndarray], counts: np.ndarray, ddof: int) -> float:
    mu1, b1 = _weighted_rows(gen, counts, ddof)
    mu2, b2 = _weighted_rows(ref, counts, ddof)
    diff = mu1 - mu2
    nuclear = np.linalg.svd(b1 @ b2.T, compute_uv=False).sum()
    return float(diff @ diff + (b1 * b1).sum() + (b2 * b2).sum() - 2 * nuclear)
