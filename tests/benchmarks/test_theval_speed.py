"""THEval's landmark metrics, ours vs THEval's scripts one by one, same machine, same session: a
500-frame 512x512 clip (the real SadTalker fixture, 200 frames, played forwards and backwards)
with its 16 kHz audio. Ours: the six default landmark metrics (lip-sync, silent-lip, lip, eyebrow
and head dynamics, diversity) from one decode and one FaceMesh pass, on an empty cache. THEval:
lip_sync.py, silent_lip_stability.py, lip_dynamics.py and eyebrow_dynamics.py, each decoding and
running FaceMesh itself (tests/theval_ref.py). Goal: >= 3x.

Run with `pytest tests/benchmarks/test_theval_speed.py --benchmark-enable -s -m bench`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import theval_ref
from bench import audio as audio_io
from bench import video as video_io
from bench.clip import Clip
from conftest import REAL
from metrics.base import Pair, get_metric

CLIP = REAL / "videos" / "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"
N = 500
METRICS = ("lipsync", "silent-lip", "lip-dyn", "brow-dyn", "head-dyn", "diversity")


def test_theval_metrics_one_pass_vs_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            benchmark) -> None:
    if not CLIP.is_file():
        pytest.skip(f"real fixture {CLIP} not found")
    root = theval_ref.extract(tmp_path / "theval")
    frames = video_io.read_frames(CLIP, 25.0)
    order = np.concatenate([np.arange(len(frames)), np.arange(len(frames))[::-1]])
    order = np.resize(order, N)
    video = tmp_path / "clip.mkv"
    video_io.write_video(video, (frames[i] for i in order))
    audio = audio_io.load_audio(CLIP, 16000)
    wav = tmp_path / "clip.wav"
    sf.write(wav, np.resize(audio, N * 640), 16000, subtype="FLOAT")
    metrics = [get_metric(m) for m in METRICS]
    for m in metrics:
        m.setup("cpu")
    homes = iter(range(100))

    def ours() -> list[float]:
        monkeypatch.setenv("BENCH_HOME", str(tmp_path / f"home{next(homes)}"))  # nothing cached
        clip = Clip(video, wav, 25.0, 16000)
        return [m.compute(Pair(None, clip, clip)).value for m in metrics]

    values = benchmark.pedantic(ours, rounds=1, iterations=1) if benchmark.enabled else ours()
    t0 = time.perf_counter()
    ours()
    mine = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = theval_ref.values(root, video, wav)
    theirs = time.perf_counter() - t0
    print(f"\nTHEval metrics on {N} frames of 512x512: ours {mine:.1f} s ({N / mine:.0f} frames/s, "
          f"six metrics, one pass), THEval's four scripts {theirs:.1f} s "
          f"({N / theirs:.0f} frames/s): {theirs / mine:.2f}x; values {dict(zip(METRICS, np.round(values, 4)))}, THEval {ref}")
    assert all(np.isfinite(values))
    assert theirs / mine >= 3.0
