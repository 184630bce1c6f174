"""THEval's synchronisation and naturalness metrics (metrics/lipsync.py, silentlip.py, lipdyn.py,
browdyn.py; headdyn.py and diversity.py on FaceMesh head pose): parity with THEval's own scripts
on the real fixture clips, the sensitivity a lip-sync metric must show, the not-scored paths, the
shared landmark pass (one per clip, cached by content, corruption detected) and the report's
GT-relative score.

The real clips are decoded by the suite at 25 fps and stored as FFV1 (RGB, lossless, intra-only),
the format the suite stores normalised outputs in: decord, OpenCV and PyAV then read the same
pixels and seek exactly (decord 0.6.0 decodes the GRID MPEG-1 files differently from FFmpeg, by
several grey levels per pixel), so both sides measure the same frames.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import theval_ref
from bench import audio as audio_io
from bench import cache
from bench import video as video_io
from bench.clip import Clip
from bench.errors import BadInputError, MissingWeightsError
from conftest import score_to_file
from metrics.base import Pair, get_metric
from metrics.nets import facemesh, silero
from reports.tables import Cell, Column, Row, Table, TableSpec, gt_relative

if importlib.util.find_spec("mediapipe") is None or importlib.util.find_spec("silero_vad") is None:
    pytest.skip("needs mediapipe==0.10.21 and silero-vad==5.1.2 (pip install --no-deps, README)",
                allow_module_level=True)

EXACT = {"lipsync": "lipsync@theval/facemesh-plain-bgrswap/rms50ms-silero5.1.2/16k",
         "silent-lip":
             "silent-lip@theval/facemesh-refine-256px-silent-only/silence300ms-silero5.1.2/mad",
         "lip-dyn": "lip-dyn@theval/facemesh-refine-256px/lips40-pairdist-std",
         "brow-dyn": "brow-dyn@theval/facemesh-refine-native/brow-eye-absdiff"}
DEFAULT = ["lipsync", "silent-lip", "lip-dyn", "brow-dyn", "head-dyn", "diversity"]
PARITY_CLIPS = ["lipnet_grid_bbaf2n.mpg", "retalking_face_5.mp4",
                "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"]
SHIFT = 8000  # 0.5 s at 16 kHz


def metric(name: str):  # noqa: ANN201 - a LandmarkMetric
    m = get_metric(name)
    m.setup("cpu")
    return m


def value(m, video: Path, wav: Path | None) -> float:  # noqa: ANN001
    """The metric's value, NaN when it is not scored (the reference writes NaN there)."""
    clip = Clip(video, wav, 25.0, 16000)
    try:
        return m.compute(Pair(None, clip, clip)).value
    except BadInputError as exc:
        assert "not scored" in str(exc) or "no face" in str(exc), exc
        return math.nan


def as_ffv1(src: Path, out_dir: Path,
            seconds: float | None = None) -> tuple[Path, Path, np.ndarray]:
    """(FFV1 video at 25 fps, 16 kHz mono float WAV, the audio) of a real clip."""
    video = out_dir / f"{src.stem}.mkv"
    wav = out_dir / f"{src.stem}.wav"
    if not video.is_file():
        video_io.write_video(video, video_io.iter_frames_cfr(src, 25.0, seconds))
    audio = audio_io.load_audio(src, 16000)[: int(seconds * 16000) if seconds else None]
    sf.write(wav, audio, 16000, subtype="FLOAT")
    return video, wav, audio


def write_wav(path: Path, audio: np.ndarray) -> Path:
    sf.write(path, audio.astype(np.float32), 16000, subtype="FLOAT")
    return path


@pytest.mark.real
@pytest.mark.parity
def test_parity_with_theval_scripts(real: Path, tmp_path: Path) -> None:
    root = theval_ref.extract(tmp_path / "theval")
    ours = {k: metric(v) for k, v in EXACT.items()}
    scored = 0
    for name in PARITY_CLIPS:
        video, wav, _ = as_ffv1(real / "videos" / name, tmp_path)
        ref = theval_ref.values(root, video, wav)
        for k, m in ours.items():
            got = value(m, video, wav)
            assert theval_ref.nan_equal(got, ref[k], 1e-6), (name, k, got, ref[k])
            scored += not math.isnan(got)
    assert scored == len(EXACT) * len(PARITY_CLIPS)  # each of these clips has a silence of 0.3 s


def _real_clips(real: Path, tmp: Path) -> list[tuple[str, Path, np.ndarray]]:
    """(name, FFV1 video, audio) of every real fixture video whose audio has speech (up to 10 s)."""
    names = [line.split(",")[0] for line in (real / "MANIFEST.csv").read_text().splitlines()[1:]
             if line.startswith("videos/")]
    out = []
    for n in names:
        video, _, audio = as_ffv1(real / n, tmp, 10.0)
        if silero.speech_segments(audio):
            out.append((n, video, audio))
    return out


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="THEval's lip-sync does not rank the ground truth above a "
                   "0.5 s audio shift on every real clip (per-clip values in the closing note of "
                   "issue 19): min-max normalised |openness - RMS| carries no lag information")
def test_lipsync_prefers_aligned_audio_on_every_real_clip(real: Path, tmp_path: Path) -> None:
    clips = _real_clips(real, tmp_path)
    worse = []
    for m in (metric("lipsync"), metric(EXACT["lipsync"])):
        for i, (name, video, audio) in enumerate(clips):
            other = clips[(i + 1) % len(clips)][2]
            variants = {"later": np.concatenate([np.zeros(SHIFT), audio[:-SHIFT]]),
                        "earlier": np.concatenate([audio[SHIFT:], np.zeros(SHIFT)]),
                        "shuffled": np.resize(other, len(audio))}
            gt = value(m, video, write_wav(tmp_path / "gt.wav", audio))
            for what, a in variants.items():
                v = value(m, video, write_wav(tmp_path / f"{what}.wav", a))
                if not v > gt:
                    worse.append((m.id, name, what, gt, v))
    assert not worse, worse


@pytest.mark.real
def test_static_has_near_zero_dynamics(real: Path, tmp_path: Path) -> None:
    """The `static` control (the first frame held) against the clip itself, on real faces."""
    dyn = [metric(n) for n in ("lip-dyn", "brow-dyn", "head-dyn", "diversity")]
    for name in ("retalking_face_3.mp4", "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"):
        video, wav, _ = as_ffv1(real / "videos" / name, tmp_path, 4.0)
        first = next(video_io.iter_frames_cfr(video))
        still = tmp_path / f"still-{video.name}"
        video_io.write_video(still, iter([first] * 100))
        for m in dyn:
            moving, static = value(m, video, wav), value(m, still, wav)
            assert moving > 0 and static < 0.05 * moving, (name, m.id, moving, static)


def test_demo_lipsync_ranks_synced_above_shuffled_and_static(tmp_path: Path) -> None:
    """The demo's faces open their mouths with the audio's envelope: the ground truth must beat
    another sample's audio and a still face on every sample."""
    from bench.datasets.demo_media import render

    m = metric("lipsync")
    for seed in range(3):
        frames, audio, _ = render(seed, 6)
        other = render(seed + 10, 6)[1]
        video = tmp_path / f"demo{seed}.mkv"
        video_io.write_video(video, iter(frames))
        still = tmp_path / f"still{seed}.mkv"
        video_io.write_video(still, iter([frames[0]] * len(frames)))
        gt = value(m, video, write_wav(tmp_path / "a.wav", audio))
        assert gt < value(m, video, write_wav(tmp_path / "b.wav", np.resize(other, len(audio))))
        assert gt < value(m, still, write_wav(tmp_path / "a.wav", audio))


def _grey(path: Path, n: int) -> Path:
    video_io.write_video(path, iter([np.full((128, 128, 3), 128, np.uint8)] * n))
    return path


def test_not_scored_paths(tmp_path: Path) -> None:
    """No face, silent audio, no speech, too short: a clear reason, never a crash or a number."""
    from bench.datasets.demo_media import render

    frames, audio, _ = render(0, 4)
    face = tmp_path / "face.mkv"
    video_io.write_video(face, iter(frames))
    speech = write_wav(tmp_path / "speech.wav", audio)
    silent = write_wav(tmp_path / "silent.wav", np.zeros_like(audio))
    hiss = 1e-3 * np.random.default_rng(0).standard_normal(len(audio))
    noise = write_wav(tmp_path / "noise.wav", hiss)
    grey = _grey(tmp_path / "grey.mkv", 50)
    short = tmp_path / "short.mkv"
    video_io.write_video(short, iter(frames[:1]))

    def cause(name: str, video: Path, wav: Path) -> str:
        clip = Clip(video, wav, 25.0, 16000)
        with pytest.raises(BadInputError) as exc:
            metric(name).compute(Pair(None, clip, clip))
        return str(exc.value)

    for name in DEFAULT:  # silent-lip looks for faces in silences: the silent track has one
        wav = silent if name == "silent-lip" else speech
        assert "no face found by FaceMesh in any of its 50 frames" in cause(name, grey, wav)
    assert "the audio is silent" in cause("lipsync", face, silent)
    assert "speech (Silero VAD) covers 0%" in cause("lipsync", face, noise)
    assert "no silence of 0.3 s" in cause("silent-lip", face, speech)
    for name in ("brow-dyn", "head-dyn", "diversity"):
        assert "1 frame with a face" in cause(name, short, speech)


def test_shared_pass_one_per_clip_cached_and_verified(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every default landmark metric of a clip reads one pass, in parallel workers too (the
    values equal the inline ones); a corrupted cache entry is detected and recomputed."""
    from bench.datasets.demo_media import render

    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))  # a cache holding only these clips

    pairs = []
    for seed in range(2):
        frames, audio, _ = render(seed, 5)
        video = tmp_path / f"v{seed}.mkv"
        video_io.write_video(video, iter(frames))
        clip = Clip(video, write_wav(tmp_path / f"a{seed}.wav", audio), 25.0, 16000)
        pairs.append((f"s{seed}", Pair(None, clip, clip)))
    ms = [metric(n) for n in DEFAULT]
    parallel = score_to_file(ms, pairs, 2, tmp_path / "par.jsonl")
    inline = score_to_file(ms, pairs, 1, tmp_path / "inline.jsonl")
    key = lambda r: (r["sample"], r["metric"])  # noqa: E731
    assert {key(r): r.get("value") for r in parallel} == {key(r): r.get("value") for r in inline}
    assert len(parallel) == len(ms) * len(pairs)
    where = facemesh.cache_path(pairs[0][1].gen, facemesh.SHARED).parent
    passes = {p.name for p in where.glob("*.npy")}
    assert passes == {f"{p.gen.content_key}.npy" for _, p in pairs}

    path = facemesh.cache_path(pairs[0][1].gen, facemesh.SHARED)
    good = np.load(path)
    path.write_bytes(path.read_bytes()[:-64] + b"\0" * 64)
    assert not cache.verified(path)
    again = facemesh.landmarks(pairs[0][1].gen, facemesh.SHARED)
    assert np.array_equal(again, good, equal_nan=True)
    assert cache.verified(path)


def test_missing_mediapipe_is_reported_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mediapipe" else real_find(name, *a))
    with pytest.raises(MissingWeightsError, match="pip install --no-deps mediapipe==0.10.21"):
        get_metric("lip-dyn").setup("cpu")


def test_gt_relative_score_beside_raw_values() -> None:
    spec = TableSpec("t", "t", (Column("lip-dyn", "Lip dyn", True),
                                Column("lipsync", "Lip sync", False)))
    rows = [Row("demo", "Groundtruth", (Cell("ok", 2.0), Cell("ok", 0.0)), reference=True),
            Row("demo", "a", (Cell("ok", 1.5), Cell("ok", 0.3))),
            Row("demo", "b", (Cell("ok", 3.0), Cell("failed")))]
    t = gt_relative(Table(spec, rows))
    assert [c.label for c in t.spec.columns] == ["Lip dyn", "Lip dyn vs GT", "Lip sync",
                                                 "Lip sync vs GT"]
    vals = [[c.value if c.status == "ok" else c.status for c in r.cells] for r in t.rows]
    # a GT value of 0 gives no relative score; raw values stay as they were
    assert vals == [[2.0, 1.0, 0.0, "n/a"], [1.5, 0.75, 0.3, "n/a"], [3.0, 0.5, "failed", "n/a"]]
    assert t.rows[1].cells[1].best and not t.rows[2].cells[1].best
