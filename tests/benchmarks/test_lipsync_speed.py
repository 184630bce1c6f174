"""LSE end to end, ours vs joonson/syncnet_python's pipeline (the syncnet-python 0.2.3 wheel's
SyncNetPipeline with the reference's min_track 100), same machine, same session, same random
weights, on the real talking-head fixtures (≈18 s of video).

Run with `pytest tests/benchmarks/test_lipsync_speed.py --benchmark-enable -s`.
The reference side needs, in the reference dir (--no-deps): syncnet-python, scenedetect 0.6,
ffmpeg-python, future and imageio-ffmpeg (its ffmpeg binary is put on PATH). The S3FD confidence
head is scaled x20 so that random weights fire detections and both sides build face tracks and run
SyncNet (with plain random weights no box reaches the 0.9 threshold and SyncNet never runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from bench.clip import Clip
from conftest import REAL, REFERENCE
from metrics import Pair, get_metric
from metrics.lse import FACEDET_CONF, FACEDET_SCALE, SyncScorer
from metrics.nets.s3fd import S3FD, load_s3fd
from metrics.nets.syncnet import load_syncnet

VIDEOS = ("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "retalking_face_3.mp4", "retalking_face_5.mp4")
LSE_D = "lse-d@syncnet-v2/s3fd-track100/vshift15"

REFERENCE_SCRIPT = """
import json, sys, time, logging
logging.disable(logging.CRITICAL)
from syncnet_python.syncnet_pipeline import SyncNetPipeline
cfg = json.loads(sys.argv[1])
pipe = SyncNetPipeline({"s3fd_weights": cfg["s3fd"], "syncnet_weights": cfg["syncnet"], "min_track": 100}, device="cpu")
out = []
for v in cfg["videos"]:
    t = time.perf_counter()
    offsets, confs, dists, *_ = pipe.inference(v, None)
    out.append({"seconds": time.perf_counter() - t, "offsets": offsets, "confs": confs, "dists": dists})
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("w")
    torch.manual_seed(0)
    s3fd = load_s3fd(None).state_dict()
    for k in s3fd:
        if k.startswith("conf."):
            s3fd[k] = s3fd[k] * 20
    torch.save(s3fd, d / "sfd_face.pth")
    torch.save(load_syncnet(None).state_dict(), d / "syncnet_v2.model")
    return {"s3fd": str(d / "sfd_face.pth"), "syncnet": str(d / "syncnet_v2.model")}


def _videos() -> list[str]:
    if not (REAL / "MANIFEST.csv").is_file():
        pytest.skip("real fixtures absent")
    return [str(REAL / "videos" / v) for v in VIDEOS]


def _ours(weights: dict[str, str], videos: list[str]) -> list[dict]:
    m = get_metric(LSE_D, random_weights=True)
    m.setup("cpu")
    m.scorer = SyncScorer(load_syncnet(torch.load(weights["syncnet"], weights_only=True)))
    s3fd = S3FD(load_s3fd(torch.load(weights["s3fd"], weights_only=True)))
    m.detector = lambda frames: s3fd.detect(frames, FACEDET_SCALE, FACEDET_CONF)
    out = []
    for v in videos:
        t = time.perf_counter()
        clip = Clip(v, None)
        s = m.compute(Pair(None, clip, clip))
        out.append({"seconds": time.perf_counter() - t, "lse_d": s.value, "extra": s.extra})
    type(m)._cache.clear()
    return out


@pytest.mark.benchmark(group="lse-end-to-end")
def test_lse_speed_vs_syncnet_python(benchmark, weights, tmp_path):
    videos = _videos()
    root = next((d for d in REFERENCE if (d / "syncnet_python").is_dir() and (d / "imageio_ffmpeg").is_dir()), None)
    if root is None:
        pytest.skip("syncnet-python / imageio-ffmpeg not in the reference dir")
    sys.path.insert(0, str(root))
    try:
        import imageio_ffmpeg
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    finally:
        sys.path.remove(str(root))
    (tmp_path / "bin").mkdir()
    os.symlink(exe, tmp_path / "bin" / "ffmpeg")
    env = {**os.environ, "PYTHONPATH": str(root), "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    cfg = json.dumps({**weights, "videos": videos})
    proc = subprocess.run([sys.executable, "-c", REFERENCE_SCRIPT, cfg], env=env, capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    ref = json.loads(proc.stdout.split("RESULT", 1)[1])
    ours = benchmark.pedantic(_ours, args=(weights, videos), rounds=1, iterations=1)
    t_ref, t_ours = sum(r["seconds"] for r in ref), sum(r["seconds"] for r in ours)
    benchmark.extra_info.update(reference_s=t_ref, ours_s=t_ours, speedup=t_ref / t_ours)
    for v, r, o in zip(VIDEOS, ref, ours):
        print(f"{v}: reference {r['seconds']:.1f} s LSE-D {r['dists']} offsets {r['offsets']}; "
              f"ours {o['seconds']:.1f} s LSE-D {o['lse_d']:.3f} (tracks {o['extra']['tracks']})")
    print(f"end to end: reference {t_ref:.1f} s, ours {t_ours:.1f} s, {t_ref / t_ours:.1f}x")
    assert all(o["extra"]["tracks"] >= 1 for o in ours)
    # where the reference built a track too, scores are close (its JPEG/XVID re-encodes perturb the
    # crops). Its tracker (the wheel's) stops a track at the first non-overlapping face of a frame,
    # joonson's and ours skip to the next face, so on random boxes it may find none.
    for r, o in zip(ref, ours):
        if r["dists"]:
            assert min(abs(d - o["lse_d"]) for d in r["dists"]) <= 0.05 * abs(o["lse_d"])
