"""LSE end to end, ours vs joonson/syncnet_python's pipeline (the syncnet-python 0.2.3 wheel's
SyncNetPipeline with the reference's min_track 100), same machine, same session, same random
weights, on the real talking-head fixtures (≈18 s of video).

Run with `pytest tests/benchmarks/test_lipsync_speed.py --benchmark-enable -s`.
The reference side needs, in the reference dir (--no-deps): syncnet-python, scenedetect 0.6,
ffmpeg-python, future and imageio-ffmpeg (its ffmpeg binary is put on PATH).

Random S3FD weights find no face (no score reaches 0.9), so neither side would build a track or
run SyncNet. Both sides therefore run the random S3FD on every frame they detect (its full cost)
and then take that frame's faces from dlib's HOG detector, computed beforehand: the work of a
real-weights run on a real face. Ours is timed on the reference protocol (every frame) and with
key frames every 5 (`-det5`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bench.clip import Clip
from conftest import REAL, REFERENCE
from metrics import Pair, get_metric
from metrics.lse import FACEDET_CONF, FACEDET_SCALE, SyncScorer
from metrics.nets.s3fd import S3FD, load_s3fd
from metrics.nets.syncnet import load_syncnet
from test_lipsync import dlib_detector

VIDEOS = ("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "retalking_face_3.mp4", "retalking_face_5.mp4")
LSE_D = "lse-d@syncnet-v2/s3fd-track100/vshift15"
LSE_D_DET5 = "lse-d@syncnet-v2/s3fd-track100-det5/vshift15"

REFERENCE_SCRIPT = """
import json, sys, time, logging
import numpy as np
logging.disable(logging.CRITICAL)
from syncnet_python.syncnet_pipeline import SyncNetPipeline
cfg = json.loads(sys.argv[1])
pipe = SyncNetPipeline({"s3fd_weights": cfg["s3fd"], "syncnet_weights": cfg["syncnet"], "min_track": 100}, device="cpu")
s3fd_faces = pipe.s3fd.detect_faces
out = []
for v, faces in zip(cfg["videos"], cfg["faces"]):
    calls = iter(range(10**9))
    def detect_faces(image, conf_th, scales, faces=faces):
        s3fd_faces(image, conf_th=conf_th, scales=scales)  # the detector's cost; its random boxes are dropped
        i = next(calls)
        return np.array(faces[i] if i < len(faces) else []).reshape(-1, 5)
    pipe.s3fd.detect_faces = detect_faces
    t = time.perf_counter()
    offsets, confs, dists, *_ = pipe.inference(v, None)
    out.append({"seconds": time.perf_counter() - t, "offsets": offsets, "confs": confs, "dists": dists})
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("w")
    torch.manual_seed(0)
    torch.save(load_s3fd(None).state_dict(), d / "sfd_face.pth")
    torch.save(load_syncnet(None).state_dict(), d / "syncnet_v2.model")
    return {"s3fd": str(d / "sfd_face.pth"), "syncnet": str(d / "syncnet_v2.model")}


def _key(frame: np.ndarray) -> bytes:
    return np.ascontiguousarray(frame[::23, ::23]).tobytes()


def _videos() -> list[str]:
    if not (REAL / "MANIFEST.csv").is_file():
        pytest.skip("real fixtures absent")
    return [str(REAL / "videos" / v) for v in VIDEOS]


def _ours(weights: dict[str, str], videos: list[str], faces: dict[bytes, np.ndarray], metric: str) -> list[dict]:
    m = get_metric(metric, random_weights=True)
    m.setup("cpu")
    m.scorer = SyncScorer(load_syncnet(torch.load(weights["syncnet"], weights_only=True)))
    s3fd = S3FD(load_s3fd(torch.load(weights["s3fd"], weights_only=True)))
    calls = [0]

    def detector(frames):
        s3fd.detect(frames, FACEDET_SCALE, FACEDET_CONF)  # the detector's cost; its random boxes are dropped
        calls[0] += len(frames)
        return [faces[_key(f)] for f in frames]
    m.detector = detector
    out = []
    for v in videos:
        t, calls[0] = time.perf_counter(), 0
        clip = Clip(v, None)
        s = m.compute(Pair(None, clip, clip))
        out.append({"seconds": time.perf_counter() - t, "lse_d": s.value, "extra": s.extra, "calls": calls[0]})
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
    hog = dlib_detector()
    decoded = [Clip(v, None).frames for v in videos]
    per_video = [hog(frames) for frames in decoded]
    faces = {_key(f): d for frames, dets in zip(decoded, per_video) for f, d in zip(frames, dets)}
    del decoded
    env = {**os.environ, "PYTHONPATH": str(root), "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    cfg = json.dumps({**weights, "videos": videos, "faces": [[d.tolist() for d in dets] for dets in per_video]})
    proc = subprocess.run([sys.executable, "-c", REFERENCE_SCRIPT, cfg], env=env, capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    ref = json.loads(proc.stdout.split("RESULT", 1)[1])
    ours = benchmark.pedantic(_ours, args=(weights, videos, faces, LSE_D), rounds=1, iterations=1)
    det5 = _ours(weights, videos, faces, LSE_D_DET5)
    t_ref, t_ours, t_det5 = (sum(r["seconds"] for r in x) for x in (ref, ours, det5))
    benchmark.extra_info.update(reference_s=t_ref, ours_s=t_ours, ours_det5_s=t_det5, speedup=t_ref / t_ours,
                                speedup_det5=t_ref / t_det5)
    for v, r, o, k in zip(VIDEOS, ref, ours, det5):
        print(f"{v}: reference {r['seconds']:.1f} s LSE-D {r['dists']} offsets {r['offsets']}; "
              f"ours {o['seconds']:.1f} s LSE-D {o['lse_d']:.3f} offset {o['extra']['offset']} "
              f"({o['calls']} detector calls); det5 {k['seconds']:.1f} s LSE-D {k['lse_d']:.3f} ({k['calls']} calls)")
    print(f"end to end: reference {t_ref:.1f} s, ours {t_ours:.1f} s ({t_ref / t_ours:.1f}x), "
          f"ours det5 {t_det5:.1f} s ({t_ref / t_det5:.1f}x)")
    # same faces, same weights: the same track and, up to the reference's JPEG/XVID re-encodes of
    # the frames and crops, the same scores
    for r, o in zip(ref, ours):
        assert len(r["dists"]) == o["extra"]["tracks"] == 1
        assert abs(r["dists"][0] - o["lse_d"]) <= 0.03 * o["lse_d"] and r["offsets"][0] == o["extra"]["offset"]
