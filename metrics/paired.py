"""Paired frame-fidelity metrics against ground truth: PSNR and SSIM.

Both compare generated frame i with ground-truth frame i over the common length (25 fps, the
preprocessed resolution), RGB uint8, and average per frame.
- `psnr@rgb-uint8/frame-mean/cap100`: 10·log10(255²/MSE) per frame; identical frames (MSE 0)
  count as 100 dB so that the mean stays finite.
- `ssim@rgb-uint8/gauss11-s1.5/frame-mean`: Wang et al. 2004 with an 11-tap Gaussian (σ 1.5),
  K1 0.01, K2 0.03, data range 255, population covariances, averaged over the three channels and
  over the valid (unpadded) region — scikit-image's `structural_similarity(gaussian_weights=True,
  use_sample_covariance=False)` protocol, in float64 with OpenCV's separable filter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from bench.errors import BadInputError
from metrics.base import Pair, PerSampleMetric, Score, register_metric

CAP_DB = 100.0


def _pairs(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    gen, gt = pair.gen.frames, pair.gt.frames
    n = min(len(gen), len(gt))
    if n == 0:
        raise BadInputError(pair.gen.video_path if len(gen) == 0 else pair.gt.video_path, "no frames to compare")
    if gen.shape[1:] != gt.shape[1:]:
        raise BadInputError(pair.gen.video_path, f"frame size {gen.shape[1:3]} differs from ground truth {gt.shape[1:3]}")
    return gen[:n], gt[:n]


def psnr_frames(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame PSNR. The squared error is summed exactly in integers, frame by frame, so it
    equals the float64 mean of squared differences bit for bit without whole-clip float copies."""
    import cv2

    def sse(x: np.ndarray, y: np.ndarray) -> int:
        d = cv2.absdiff(x, y).astype(np.uint16)
        d *= d  # 255² < 2¹⁶
        return int(d.sum(dtype=np.int64))

    mse = np.array([sse(x, y) for x, y in zip(a, b)], np.float64) / a[0].size
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(255.0**2 / mse)
    return np.minimum(db, CAP_DB)


def ssim_frames(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean SSIM per frame pair ([T, H, W, C] uint8 each), skimage's Gaussian protocol (float64)."""
    import cv2

    g = cv2.getGaussianKernel(11, 1.5, cv2.CV_64F)
    pad = 5  # skimage averages over the region the 11-tap window covers fully
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT_101)[pad:-pad, pad:-pad]

    out = np.empty(len(a))
    for i in range(len(a)):
        x, y = a[i].astype(np.float64), b[i].astype(np.float64)
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        out[i] = s.mean()
    return out


class _PairedFrames(PerSampleMetric):
    """Mean over frames of a per-frame-pair score (`frame_scores`)."""

    needs = frozenset({"gen_video", "gt_video"})
    higher_is_better = True
    default = True
    frame_scores: ClassVar[Callable[[np.ndarray, np.ndarray], np.ndarray]]  # [T] scores of [T, H, W, C] pairs

    def compute(self, pair: Pair) -> Score:
        gen, gt = _pairs(pair)
        return Score(float(self.frame_scores(gen, gt).mean()), len(gen),
                     max(len(pair.gen.frames), len(pair.gt.frames)))


@register_metric
class PSNR(_PairedFrames):
    id = "psnr@rgb-uint8/frame-mean/cap100"
    description = "peak signal-to-noise ratio vs ground truth frames, dB (per-frame mean, capped at 100)"
    frame_scores = staticmethod(psnr_frames)


@register_metric
class SSIM(_PairedFrames):
    id = "ssim@rgb-uint8/gauss11-s1.5/frame-mean"
    description = "structural similarity vs ground truth frames (skimage Gaussian protocol, per-frame mean)"
    frame_scores = staticmethod(ssim_frames)
