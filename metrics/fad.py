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
"""

from __future__ import annotations

import numpy as np
import torch

from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import DistributionalMetric, FeatureSet, register_metric
from metrics.frechet import set_distance
from metrics.nets.fold import for_inference
from metrics.nets.vggish import BANDS, DIM, EXAMPLE, RATE, VGGish, examples

BATCH = 32  # examples per forward (≈ 31 s of audio); embeddings do not depend on it


@register_metric
class FADVGGish(DistributionalMetric):
    id = "fad@vggish-fadpkg/16k/examples-all/pre-relu/cov-unbiased"
    extractor = "vggish/pre-relu/examples-all/16k"
    modality = "audio"
    default = True
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = False
    weights = ("vggish",)
    device = "gpu-able"
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

    def reduce(self, generated: FeatureSet, reference: FeatureSet) -> float:
        return set_distance(generated, reference, DIM, 1, reference.cache_path("gauss-ddof1"))
