"""Resizes that reproduce the reference implementations' interpolation exactly.

TF1's legacy `tf.image.resize_bilinear` (align_corners=False, no half-pixel centres) samples the
source at dst·(in/out): it is what the original TF FID/FVD code and torch-fidelity use. It is
written as two small interpolation matrices, so a batch resize is two matmuls.
"""

from __future__ import annotations

import torch


def _tf1_matrix(n_in: int, n_out: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    scale = n_in / n_out
    src = torch.arange(n_out, dtype=torch.float64) * scale
    lo = src.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    frac = src - lo.to(torch.float64)
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    m.index_put_((rows, lo), 1 - frac, accumulate=True)
    m.index_put_((rows, hi), frac, accumulate=True)
    return m.to(dtype=dtype, device=device)


def resize_bilinear_tf1(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[..., H, W] → [..., h, w] with TF1 legacy bilinear semantics (float input)."""
    h, w = size
    mh = _tf1_matrix(x.shape[-2], h, x.dtype, x.device)
    mw = _tf1_matrix(x.shape[-1], w, x.dtype, x.device)
    return mh @ x @ mw.T
