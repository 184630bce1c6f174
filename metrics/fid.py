"""FID over video frames (and the frame features KID shares).

Protocols (each one an id; PROTOCOLS.md §1):
- `fid@inception-pytorchfid/frames-all/299-bilinear-squash/pm1/cov-unbiased` (default):
  pytorch-fid — every frame at 25 fps (Wav2Lip's evaluation dumps all frames), RGB uint8 →
  [0,1] → `F.interpolate` bilinear to 299×299 (align_corners=False, no antialias) → 2x−1;
  covariance with N−1; pytorch-fid's Fréchet (scipy sqrtm, eps 1e-6 fallback).
- `fid@inception-tf1/frames-all/299-tf1bilinear-squash/pm1/cov-unbiased`: the original TF FID /
  torch-fidelity / torchmetrics(antialias=False) preprocessing: TF1 legacy bilinear on 0–255,
  (x−128)/128.
- `.../frames-every5/...`: every 5th frame, for quick checks (N differs: do not mix with frames-all).

"squash": the (already face-cropped, square) frame is resized whole, no further crop; "pm1": the
network sees [−1, 1]. The weights are `inception-fid` in the registry. Frames are fed in batches,
channels-last, under inference_mode with BatchNorm folded into the convolutions (same numbers,
fewer passes).
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
from metrics.nets.fold import fold_batchnorm
from metrics.nets.inception import FIDInceptionV3
from metrics.nets.resize import resize_bilinear_tf1

BATCH = 8  # frames per forward: fastest on CPU (cache-friendly); features do not depend on it
DIM = 2048


def preprocess(frames: torch.Tensor, mode: str) -> torch.Tensor:
    """uint8 [B, H, W, 3] → network input [B, 3, 299, 299] under protocol `mode`."""
    x = frames.permute(0, 3, 1, 2).float()
    if mode == "pytorchfid":
        x = F.interpolate(x / 255.0, size=(299, 299), mode="bilinear", align_corners=False)
        return 2 * x - 1
    return (resize_bilinear_tf1(x, (299, 299)) - 128) / 128


class InceptionFrames(DistributionalMetric):
    """Frame features from the FID Inception; subclasses pick sampling, preprocessing and reduction."""

    needs = frozenset({"gen_video", "gt_video"})
    weights = ("inception-fid",)
    device = "gpu-able"
    mode: ClassVar[str] = "pytorchfid"
    stride: ClassVar[int] = 1

    def setup(self, device: str) -> None:
        path = self.weights_file("inception-fid")
        net = FIDInceptionV3()
        if path is not None:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.net = fold_batchnorm(net.eval()).to(device, memory_format=torch.channels_last)
        self.dev = device

    def features(self, clip: Clip) -> np.ndarray:
        frames = clip.frames[:: self.stride]
        if len(frames) == 0:
            raise BadInputError(clip.video_path, "no frames decoded")
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), BATCH):
                x = torch.from_numpy(np.ascontiguousarray(frames[i:i + BATCH])).to(self.dev)
                x = preprocess(x, self.mode).contiguous(memory_format=torch.channels_last)
                out.append(self.net(x).cpu().numpy())
        return np.concatenate(out)


class _FID(FrechetReduce, InceptionFrames):
    higher_is_better = False
    description = "Fréchet Inception Distance over video frames (InceptionV3 pool3, 2048-d)"

    dim = DIM


@register_metric
class FIDPytorchFid(_FID):
    id = "fid@inception-pytorchfid/frames-all/299-bilinear-squash/pm1/cov-unbiased"
    extractor = "inception-pool3/pytorchfid/frames-all"
    default = True


@register_metric
class FIDPytorchFidEvery5(_FID):
    id = "fid@inception-pytorchfid/frames-every5/299-bilinear-squash/pm1/cov-unbiased"
    extractor = "inception-pool3/pytorchfid/frames-every5"
    stride = 5


@register_metric
class FIDTF1(_FID):
    id = "fid@inception-tf1/frames-all/299-tf1bilinear-squash/pm1/cov-unbiased"
    extractor = "inception-pool3/tf1/frames-all"
    mode = "tf1"
