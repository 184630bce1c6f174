"""FVMD: Fréchet Video Motion Distance (Liu et al. 2024), the fvmd 1.0.0 protocol (PROTOCOLS.md §4).

Per 16-frame window: frames resized to 256×256 (antialiased bilinear, as torchvision's PIL resize
in the package's folder loader), PIPs++ (`pips2` weights) tracks a 20×20 grid of points (8-px
margin) for 16 iterations; velocities v_t = p_t − p_{t−1} (v_0 = 0); the 20×20×16 field is cut into
64 cubes of 4 frames × 5×5 points and each gets an 8-bin angle histogram weighted by
ceil(clip(log2(|v|+1), 0, 8))/8. Velocity and acceleration histograms concatenated: 1024-d per
window. Fréchet distance with unbiased covariance and eps·I (1e-5) always added, as the package.

Two variants, both in the id:
- `acc-pkg`: the package's bug kept — its "acceleration" is computed from trajectories, so it is
  really velocity with the first two frames zeroed. Numbers comparable with published FVMD.
- `acc-paper`: acceleration a_t = v_t − v_{t−1} (t ≥ 2) as the paper defines it.
Windows: `16f-stride1` (every window, the package's loader) or `16f-stride16` (disjoint windows,
16× cheaper on CPU; not comparable with stride 1).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import DistributionalMetric, register_metric
from metrics.frechet import FrechetReduce
from metrics.nets.pips2 import Pips

S, GRID, SIZE, ITERS = 16, 20, 256, 16
DIM = 1024


def query_grid(h: int, w: int) -> torch.Tensor:
    """[1, 400, 2] (x, y): 20×20 points from 8 px to size−8 px, row-major as the package."""
    g = torch.linspace(0.0, GRID - 1, GRID)
    gy, gx = torch.meshgrid(g, g, indexing="ij")
    return torch.stack([8 + gx.reshape(-1) / (GRID - 1) * (w - 16), 8 + gy.reshape(-1) / (GRID - 1) * (h - 16)],
                       -1)[None]


def velocity(trajs: np.ndarray) -> np.ndarray:
    """[B, S, N, 2] → differences along S with a zero first step."""
    out = np.zeros_like(trajs)
    out[:, 1:] = trajs[:, 1:] - trajs[:, :-1]
    return out


def acceleration_pkg(x: np.ndarray) -> np.ndarray:
    """fvmd's calc_acceleration: x_t − x_{t−1} for t ≥ 2, zeros for t < 2."""
    out = np.zeros_like(x)
    out[:, 2:] = x[:, 2:] - x[:, 1:-1]
    return out


def motion_histograms(vectors: np.ndarray, cell: int = 5, bins: int = 8, cube_frames: int = 4) -> np.ndarray:
    """[B, S, 400, 2] → [B, 64·8]: per 4×5×5 cube, angle histogram weighted by quantised log-magnitude."""
    b, s, n, _ = vectors.shape
    side = int(round(np.sqrt(n)))
    v = vectors.reshape(b, s, side, side, 2)
    ms, mh = s // cube_frames, side // cell
    v = v[:, : ms * cube_frames, : mh * cell, : mh * cell]
    v = v.reshape(b, ms, cube_frames, mh, cell, mh, cell, 2).transpose(0, 1, 3, 5, 2, 4, 6, 7)
    v = v.reshape(b, ms * mh * mh, -1, 2)
    angle = np.clip((np.arctan2(v[..., 0], v[..., 1]) + np.pi) // (2 * np.pi / bins), 0, bins - 1).astype(int)
    mag = np.ceil(np.clip(np.log2(np.clip(np.linalg.norm(v, axis=-1), 0, 255) + 1), 0, 8)) / 8
    hist = np.zeros((b, ms * mh * mh, bins))
    bi, ci, _ = np.indices(angle.shape)
    np.add.at(hist, (bi, ci, angle), mag)
    return hist.reshape(b, -1)


def window_features(trajs: np.ndarray, paper_acc: bool) -> np.ndarray:
    """Tracks [B, 16, 400, 2] → FVMD features [B, 1024]."""
    vel = velocity(trajs)
    acc = acceleration_pkg(vel if paper_acc else trajs)
    return np.concatenate([motion_histograms(vel), motion_histograms(acc)], 1)


class _FVMD(FrechetReduce, DistributionalMetric):
    needs = frozenset({"gen_video", "gt_video"})
    higher_is_better = False
    weights = ("pips2",)
    device = "gpu-able"
    description = "Fréchet Video Motion Distance (PIPs++ point tracks, motion histograms)"
    stride: ClassVar[int]
    paper_acc: ClassVar[bool]
    dim, eps, always_eps = DIM, 1e-5, True  # the fvmd package adds eps·I always

    def setup(self, device: str) -> None:
        path = self.weights_file("pips2")
        net = Pips(stride=8)
        if path is not None:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state.get("model_state_dict", state))
        self.net, self.dev = net.eval().to(device), device

    def features(self, clip: Clip) -> np.ndarray:
        frames = clip.frames
        if len(frames) < S:
            raise BadInputError(clip.video_path, f"{len(frames)} frames: FVMD needs at least {S} frames")
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, (SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)
        xy0 = query_grid(SIZE, SIZE).to(self.dev)
        out = []
        with torch.inference_mode():
            for start in range(0, len(frames) - S + 1, self.stride):
                win = x[start:start + S].unsqueeze(0).to(self.dev)
                trajs = self.net(xy0, win, iters=ITERS, beautify=True).double().cpu().numpy()
                out.append(window_features(trajs, self.paper_acc))
        return np.concatenate(out)



@register_metric
class FVMDPkg(_FVMD):
    id = "fvmd@pips2/16f-stride1/256-aabilinear/acc-pkg"
    extractor = "pips2-motion/256/16f-stride1/acc-pkg"
    stride, paper_acc, default = 1, False, True


@register_metric
class FVMDPkgStride16(_FVMD):
    id = "fvmd@pips2/16f-stride16/256-aabilinear/acc-pkg"
    extractor = "pips2-motion/256/16f-stride16/acc-pkg"
    stride, paper_acc = 16, False


@register_metric
class FVMDPaper(_FVMD):
    id = "fvmd@pips2/16f-stride1/256-aabilinear/acc-paper"
    extractor = "pips2-motion/256/16f-stride1/acc-paper"
    stride, paper_acc = 1, True
