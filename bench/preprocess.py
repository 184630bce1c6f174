"""Preprocessing as in the paper (sec. 4.1): face-centred square crop resized to 512x512, the first
20 s at constant 25 fps (500 frames), audio extracted to 16 kHz mono, the first frame as the source
image and a 2 s clip of the speaker's audio as the voice profile.

Results are cached under $BENCH_HOME/preprocessed keyed by the raw file's SHA-256, the transcript
and every parameter below, and written to a temp directory that is renamed into place, so a
killed run never leaves a half-written entry and a cache hit is bit-identical to a recompute.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from bench import audio as audio_io
from bench import cache, face, video
from bench.asr import Transcriber
from bench.atomic import make_temp_dir, write_text
from bench.errors import BadInputError
from bench.hashing import sha256_file, sha256_json
from bench.paths import preprocessed_dir
from bench.sample import RawItem, Sample

log = logging.getLogger(__name__)

PREPROCESS_VERSION = "1"


@dataclass(frozen=True)
class PreprocessConfig:
    """Every parameter that changes the preprocessed files (all of it is part of the cache key)."""

    size: int = 512
    fps: float = 25.0
    max_seconds: float = 20.0
    sample_rate: int = 16_000
    crop: str = "face"  # face: detected face, square; center: central square; none: squash whole frame
    face_expand: float = 1.8  # square side = expand x detected face size
    detect_frames: int = 10  # frames spread over the clip on which faces are detected
    min_face_share: float = 0.3  # a face on at least this share of them, else "no face"
    voice_profile_seconds: float = 2.0
    min_seconds: float = 1.0  # shorter clips are rejected as bad input
    codec: str = "ffv1"  # ffv1 (lossless .mkv) or h264 (.mp4)

    def __post_init__(self) -> None:
        if self.crop not in ("face", "center", "none"):
            raise ValueError(f"preprocess.crop must be face, center or none, not {self.crop!r}")
        if self.codec not in ("ffv1", "h264"):
            raise ValueError(f"preprocess.codec must be ffv1 or h264, not {self.codec!r}")
        for name in ("size", "detect_frames", "sample_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"preprocess.{name} must be a positive integer, not {value!r}")
        for name in ("fps", "max_seconds", "face_expand", "voice_profile_seconds"):
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not 0 < value < float("inf"):
                raise ValueError(f"preprocess.{name} must be a positive number, not {value!r}")
        if not 0 < self.min_face_share <= 1:
            raise ValueError(f"preprocess.min_face_share must be in (0, 1], "
                             f"not {self.min_face_share!r}")


def detection_picks(frames: Iterable[np.ndarray], n: int,
                    cfg: PreprocessConfig) -> list[np.ndarray]:
    """The frames of an n-frame clip that the face crop detects on: every (n // detect_frames)-th
    from the first, at most detect_frames (stops reading once it has them)."""
    step = max(1, n // cfg.detect_frames)
    return list(islice((f for k, f in enumerate(frames) if k % step == 0), cfg.detect_frames))


def _crop_window(cfg: PreprocessConfig, info: video.VideoInfo,
                 path: Path) -> tuple[tuple[int, int, int, int], float | None]:
    """(x0, y0, w, h) of the region that is resized to size x size, and the face detection rate
    over the sampled frames (None without detection)."""
    w, h = info.width, info.height
    if cfg.crop == "none":
        return (0, 0, w, h), None
    if cfg.crop == "center":
        side = min(w, h)
        return ((w - side) // 2, (h - side) // 2, side, side), None
    est = int((info.duration or cfg.max_seconds) * cfg.fps)
    n = max(1, min(est, int(cfg.max_seconds * cfg.fps)))
    frames = video.iter_frames_cfr(path, cfg.fps, cfg.max_seconds)
    # stop decoding once enough frames are picked (the crop pass decodes the clip again, streamed)
    picks = detection_picks(frames, n, cfg)
    box, rate = face.clip_face_box(picks)
    if box is None or rate < cfg.min_face_share:
        raise BadInputError(path, f"no face: found on {rate:.0%} of {len(picks)} sampled frames, "
                                  f"{cfg.min_face_share:.0%} needed (detector {face.DETECTOR_ID}); "
                                  "use --crop center to skip detection")
    x0, y0, side = face.square_crop(box, w, h, cfg.face_expand)
    return (x0, y0, side, side), rate


def _check_complete(cfg: PreprocessConfig, info: video.VideoInfo, path: Path, frames: int) -> None:
    """A decode that ends far short of the duration the container declares is a truncated file
    (a cut download keeps its header): bad input, not a short clip."""
    declared = info.video_duration or info.duration
    if not declared or frames >= int(round(cfg.max_seconds * cfg.fps)):
        return
    expected, got = min(declared, cfg.max_seconds), frames / cfg.fps
    if video.falls_short(got, expected):
        raise BadInputError(path, f"truncated: {got:.2f} s of video decoded, the container "
                                  f"declares {declared:.2f} s")


def _resizer(window: tuple[int, int, int, int], size: int):
    x0, y0, w, h = window

    def transform(img: np.ndarray) -> np.ndarray:
        crop = img[y0:y0 + h, x0:x0 + w]
        interp = cv2.INTER_AREA if min(w, h) >= size else cv2.INTER_CUBIC
        return cv2.resize(crop, (size, size), interpolation=interp)

    return transform


def cache_key(item: RawItem, video_sha: str, cfg: PreprocessConfig) -> str:
    return sha256_json({"video_sha256": video_sha, "text": item.text, "params": asdict(cfg),
                        "detector": face.DETECTOR_ID, "version": PREPROCESS_VERSION})


def _build(item: RawItem, cfg: PreprocessConfig, out: Path) -> dict:
    """Write the preprocessed files of one item into `out`; returns the sample's stored fields."""
    path = item.path("video")
    info = video.probe(path)
    if not info.has_audio:
        raise BadInputError(path, "no audio track")
    raw_audio, rate = audio_io.read_audio_native(path)
    window, face_rate = _crop_window(cfg, info, path)
    suffix = ".mkv" if cfg.codec == "ffv1" else ".mp4"
    first: list[np.ndarray] = []

    def frames():
        for k, img in enumerate(video.iter_frames_cfr(path, cfg.fps, cfg.max_seconds, _resizer(window, cfg.size))):
            if k == 0:
                first.append(img)
            yield img

    n = video.write_video(out / f"video{suffix}", frames(), cfg.fps, cfg.codec)
    _check_complete(cfg, info, path, n)
    duration = n / cfg.fps
    if duration < cfg.min_seconds:
        raise BadInputError(path, f"clip is {duration:.2f} s long, shorter than the {cfg.min_seconds} s minimum")
    sound = audio_io.resample(raw_audio, rate, cfg.sample_rate)
    n_samples = int(round(duration * cfg.sample_rate))
    mismatch = len(sound) / cfg.sample_rate - duration
    sound = np.pad(sound[:n_samples], (0, max(0, n_samples - len(sound))))
    if not np.any(sound):
        raise BadInputError(path, "audio track is silent (all zeros)")
    audio_io.write_wav(out / "audio.wav", sound, cfg.sample_rate)
    profile = sound[: int(cfg.voice_profile_seconds * cfg.sample_rate)]
    audio_io.write_wav(out / "voice_profile.wav", profile, cfg.sample_rate)
    cv2.imwrite(str(out / "source.png"), cv2.cvtColor(first[0], cv2.COLOR_RGB2BGR))
    names = [f"video{suffix}", "audio.wav", "voice_profile.wav", "source.png"]
    return {"video": f"video{suffix}", "num_frames": n, "duration": duration,
            "files": {name: cache.digest(out / name) for name in names},
            "meta": {"crop_window": list(window), "face_detect_rate": face_rate,
                     "source_size": [info.width, info.height],
                     "source_nominal_fps": info.nominal_fps, "source_audio_rate": rate,
                     "audio_minus_video_s": round(mismatch, 4),
                     "voice_profile": f"first {cfg.voice_profile_seconds:g} s of the clip's audio"}}


def preprocess(item: RawItem, cfg: PreprocessConfig, transcriber: Transcriber | None = None,
               cache_root: Path | None = None) -> Sample:
    """The preprocessed Sample of a raw item, from cache when the same input and parameters were
    seen before. Raises BadInputError naming the file and the cause."""
    video_path = item.path("video")
    if not video_path.is_file():
        raise BadInputError(video_path, "file does not exist")
    key = cache_key(item, sha256_file(video_path), cfg)
    entry = (cache_root or preprocessed_dir()) / key[:2] / key
    fields = cache.verified_record(entry / "sample.json", "preprocessed cache entry")
    if fields is None:
        _build_entry(item, cfg, entry)
        fields = cache.verified_record(entry / "sample.json", "preprocessed cache entry")
        if fields is None:
            raise BadInputError(video_path, f"preprocessed cache entry {entry} fails verification "
                                            "right after it was written (a disk fault?)")
    text, source = (item.text, "dataset") if item.text else _transcribe(entry, transcriber)
    return Sample(id=item.id, dataset=item.dataset, source_image=str(entry / "source.png"),
                  voice_profile=str(entry / "voice_profile.wav"), video=str(entry / fields["video"]),
                  audio=str(entry / "audio.wav"), fps=cfg.fps, sample_rate=cfg.sample_rate,
                  duration=fields["duration"], num_frames=fields["num_frames"], text=text, text_source=source,
                  speaker=item.speaker, raw={k: str(item.path(k)) for k in item.files},
                  meta={**fields["meta"], "cache_key": key})


def _build_entry(item: RawItem, cfg: PreprocessConfig, entry: Path) -> None:
    """Build the entry in a temp directory and rename it into place, replacing a damaged one.
    Two processes may build the same entry: their files are identical, and the first one in place
    stays (the other may already be reading it)."""
    tmp = make_temp_dir(entry.parent, entry.name)
    try:
        fields = _build(item, cfg, tmp)
        write_text(tmp / "sample.json", json.dumps(fields, indent=2, sort_keys=True))
        if cache.verified_record(entry / "sample.json", "", quiet=True) is not None:
            return  # another process finished it meanwhile
        if entry.exists():
            trash = make_temp_dir(entry.parent, entry.name + ".old")
            try:
                os.rename(entry, trash / "entry")
            except OSError:
                pass  # another process moved it first
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, entry)
        except OSError:  # another process finished the same entry first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _transcribe(entry: Path, transcriber: Transcriber | None) -> tuple[str | None, str]:
    """Machine transcript of the preprocessed audio, cached per backend beside the entry."""
    if transcriber is None:
        return None, "none"
    path = entry / f"asr-{sha256_json(transcriber.id)[:16]}.txt"
    text = cache.text(
        path, lambda: transcriber.transcribe(audio_io.load_audio(entry / "audio.wav")))
    return text or None, f"asr:{transcriber.id}"
