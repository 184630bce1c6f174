"""Fréchet distance and streaming statistics against an independent float64 scipy reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from metrics.frechet import FeatureMoments, GaussianStats, frechet_distance, stats_of


def scipy_fd(x: np.ndarray, y: np.ndarray, ddof: int = 1) -> float:
    """Textbook FD from the raw samples (np.cov, scipy sqrtm, real part)."""
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False, ddof=ddof), np.cov(y, rowvar=False, ddof=ddof)
    root = linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


@pytest.mark.parity
@pytest.mark.parametrize("n,d", [(500, 16), (40, 64)])  # the second is rank-deficient (n < d)
@pytest.mark.parametrize("ddof", [0, 1])
def test_matches_scipy_reference(n, d, ddof):
    rng = np.random.default_rng(n + d)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    y = rng.normal(0.3, 1.2, size=(n, d))
    got = frechet_distance(stats_of([x[: n // 3], x[n // 3:]], d, ddof), stats_of([y], d, ddof))
    assert got == pytest.approx(scipy_fd(x, y, ddof), rel=1e-6)


def test_streamed_moments_equal_numpy_and_do_not_depend_on_chunking():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 2.0, size=(300, 8))
    whole = stats_of([x], 8)
    chunked = stats_of(np.array_split(x, 7), 8)
    np.testing.assert_allclose(whole.mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(whole.sigma, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(chunked.sigma, whole.sigma, rtol=1e-12, atol=1e-13)


def test_identical_sets_give_zero():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 32))
    st = stats_of([x], 32)
    assert abs(frechet_distance(st, st)) < 1e-6
    assert abs(frechet_distance(st, stats_of([rng.permutation(x)], 32))) < 1e-6  # order does not matter


def test_torchmetrics_api_reset_and_merge():
    """FeatureMoments behaves as a torchmetrics Metric: states sum on merge, reset clears them."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4))
    a, b = FeatureMoments(4), FeatureMoments(4)
    a.update(x[:20])
    b.update(x[20:])
    a.merge_state(b)
    np.testing.assert_allclose(a.compute()[1].numpy(), np.cov(x, rowvar=False), rtol=1e-10)
    a.reset()
    assert int(a.n) == 0


def test_too_few_samples_is_a_clear_error():
    from bench.errors import BadInputError

    with pytest.raises(BadInputError, match="too few feature rows"):
        stats_of([np.ones((1, 3))], 3)


@pytest.mark.parity
def test_eps_fallback_on_singular_product_like_pytorch_fid():
    # Zero covariances make sqrtm's input singular; pytorch-fid adds eps·I and carries on.
    z = GaussianStats(np.zeros(3), np.zeros((3, 3)), 10)
    one = GaussianStats(np.ones(3), np.zeros((3, 3)), 10)
    assert frechet_distance(z, one) == pytest.approx(3.0, abs=1e-5)
