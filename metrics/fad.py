"""FAD: Fréchet Audio Distance with VGGish embeddings (PROTOCOLS.md §5).

Protocol `fad@vggish-fadpkg/16k/examples-all/pre-relu/cov-unbiased`, the frechet-audio-distance
package's defaults (0.3.4): audio at 16 kHz mono, every complete 0.96 s example of every file is
one sample (no pooling, so longer files weigh more), 128-d pre-activation embeddings (last ReLU
removed, `use_activation=False`), no PCA (`use_pca=False`), mean and unbiased covariance, and the
Fréchet distance shared with FID/FVD (scipy sqrtm, eps 1e-6 fallback).

The package resamples with resampy; the suite's one audio loader uses a polyphase filter. The
dataset and every generator output are 16 kHz already after preprocessing, so no resampling happens
inside this metric. Files shorter than one example (0.96 s) have no embedding: a per-sample error.
The reference set is the ground-truth speech of the same samples.

`fad@pann-cnn14-16k/file-embedding/cov-unbiased` is the package's optional PANN embedding
(`model_name="pann", sample_rate=16000`): one 2048-d Cnn14 embedding per file, so its covariance
needs more files than 2048 to be full rank (with fewer, the eps fallback of the Fréchet distance
applies). The package itself concatenates the 1-D per-file vectors into one flat array before
its statistics (a defect: its PANN FAD is computed on scalars); this follows the evident intent,
one 2048-d sample per file. Weights: `pann-cnn14-16k` (Zenodo), not downloadable here.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import DistributionalMetric, register_metric
from metrics.frechet import FrechetReduce
from metrics.nets.infer import for_inference
from metrics.nets import pann
from metrics.nets.vggish import BANDS, DIM, EXAMPLE, RATE, VGGish, examples

BATCH = 32  # examples per forward (≈ 31 s of audio); embeddings do not depend on it


class _FAD(FrechetReduce, DistributionalMetric):
    """Audio embeddings of both sides, Fréchet distance with N-1 covariance (the package's np.cov)."""

    modality = "audio"
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = False
    device = "gpu-able"


@register_metric
class FADVGGish(_FAD):
    id = "fad@vggish-fadpkg/16k/examples-all/pre-relu/cov-unbiased"
    extractor = "vggish/pre-relu/examples-all/16k"
    default = True
    weights = ("vggish",)
    dim = DIM
    description = "Fréchet Audio Distance (VGGish 128-d pre-ReLU embeddings of 0.96 s examples, no PCA)"

    def setup(self, device: str) -> None:
        path = self.weights_file("vggish")
        net = VGGish(pre_relu=True)
        if path is not None:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.net = for_inference(net, torch.zeros(BATCH, 1, EXAMPLE, BANDS), device)
        self.dev = device

    def features(self, clip: Clip) -> np.ndarray:
        x = examples(clip.audio_at(RATE))
        if x.shape[0] == 0:
            raise BadInputError(clip.audio_path, "audio shorter than one 0.96 s VGGish example: no FAD embedding")
        with torch.inference_mode():
            return torch.cat([self.net(x[i:i + BATCH].to(self.dev, memory_format=torch.channels_last)).cpu()
                              for i in range(0, x.shape[0], BATCH)]).numpy()


@register_metric
class FADPANN(_FAD):
    id = "fad@pann-cnn14-16k/file-embedding/cov-unbiased"
    extractor = "pann-cnn14-16k/file-embedding"
    weights = ("pann-cnn14-16k",)
    dim = pann.DIM
    description = "Fréchet Audio Distance on PANN Cnn14 (16 kHz) 2048-d file embeddings"

    def setup(self, device: str) -> None:
        path = self.weights_file("pann-cnn14-16k")
        net = pann.Cnn14()
        if path is not None:
            pann.load_checkpoint(net, torch.load(path, map_location="cpu", weights_only=True)["model"])
        self.net = net.eval().to(device)
        self.dev = device

    def features(self, clip: Clip) -> np.ndarray:
        x = clip.audio_at(pann.RATE)
        if len(x) < pann.NFFT:
            raise BadInputError(clip.audio_path, "audio shorter than one 512-sample PANN frame")
        return pann.embed(self.net, x, self.dev)
