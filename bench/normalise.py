"""One output path for every system: what a system wrote is kept as it is (`native/`) and
converted once, here, into what every metric reads.

Rules (each conversion is recorded in the output's metadata and so in provenance):
- video: constant 25 fps by presentation timestamps (`bench.video.iter_frames_cfr`), centre-cropped
  to the ground truth's aspect ratio and resized to its frame size (area filter down, bicubic
  up), stored lossless (FFV1), capped at the run's `max_seconds`. A video that already is
  constant-rate at the target fps and size is kept byte for byte (decoding it gives the same
  frames a lossless re-encode would hold, and its cached features stay valid).
- audio: the system's separate file, else the video's own track, else (a video system that
  writes none) the driving audio, attached; channels averaged, resampled to 16 kHz (polyphase),
  capped at `max_seconds`, stored as 16-bit WAV; a 16 kHz mono 16-bit WAV is kept as it is.
- length: an output with both modalities must have them agree within max(0.5 s, 10 %) of the
  audio's duration (else the sample fails, naming both durations); a speech output keeps its own
  length (synthesised speech is not the ground truth's length). Silent audio (peak below
  -60 dBFS) fails the sample.
- delivery codec (optional, `--delivery h264-crf23-aac`): the normalised output is then encoded
  as a viewer would receive it and decoded back, so a user sees how much a codec alone moves
  the metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import soundfile as sf

from bench import audio as audio_io
from bench import video as video_io
from bench.atomic import link_or_copy
from bench.errors import BadInputError, ConfigError, GeneratorError

SILENCE_DBFS = -60.0
_DELIVERY = re.compile(r"h264-crf(\d{1,2})-aac(?:(\d{2,3})k)?$")


@dataclass(frozen=True)
class Target:
    """What every output is converted to: the ground truth's frame size and the run's rates."""

    width: int
    height: int
    fps: float = video_io.FPS
    sample_rate: int = audio_io.SAMPLE_RATE
    max_seconds: float | None = None
    delivery: str | None = None


def check_delivery(name: str | None) -> str | None:
    """Validate a delivery codec name: `h264-crf<N>-aac[<kbps>k]` (AAC 128 kbit/s by default)."""
    if name in (None, "", "none"):
        return None
    m = _DELIVERY.match(name)
    if not m or not 0 <= int(m.group(1)) <= 51:
        raise ConfigError(f"--delivery {name!r}: use h264-crf<0..51>-aac[<kbps>k], "
                          "e.g. h264-crf23-aac")
    return name


def _cfr_frames(path: Path, fps: float) -> int | None:
    """The frame count when the video stream is constant-rate at `fps` (packets only, no
    decoding); None when it is not."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(v) if p.pts is not None)
        if len(pts) < 2 or v.time_base is None:
            return None
        steps = {round(float((b - a) * v.time_base) * fps, 6) for a, b in zip(pts, pts[1:])}
        return len(pts) if steps == {1.0} else None


def _resize(width: int, height: int):  # noqa: ANN202 - a frame transform
    def transform(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        if (w, h) == (width, height):
            return img
        # centre crop to the target aspect ratio, then resize
        cw, ch = min(w, round(h * width / height)), min(h, round(w * height / width))
        x, y = (w - cw) // 2, (h - ch) // 2
        img = img[y:y + ch, x:x + cw]
        interp = cv2.INTER_AREA if cw > width else cv2.INTER_CUBIC
        return cv2.resize(img, (width, height), interpolation=interp)
    return transform


def _video(src: Path, t: Target, out: Path, record: dict[str, Any]) -> tuple[Path, float]:
    info = video_io.probe(src)
    record["native_video"] = {"file": src.name, "width": info.width, "height": info.height,
                              "fps": round(info.nominal_fps, 3)}
    if (info.width, info.height) == (t.width, t.height) and (n := _cfr_frames(src, t.fps)):
        dest = out / f"video{src.suffix}"
        link_or_copy(src, dest)
        record["video"] = "kept (constant frame rate at the target fps and size)"
        seconds = n / t.fps
        return dest, min(seconds, t.max_seconds or seconds)
    dest = out / "video.mkv"
    frames = video_io.iter_frames_cfr(src, t.fps, t.max_seconds, _resize(t.width, t.height))
    n = video_io.write_video(dest, frames, t.fps)
    record["video"] = (f"{info.width}x{info.height} @ {info.nominal_fps:.3f} fps -> {t.width}x"
                       f"{t.height} @ {t.fps:g} fps CFR by timestamps, centre crop + resize, FFV1")
    return dest, n / t.fps


def _audio(src: Path, t: Target, out: Path, record: dict[str, Any],
           what: str) -> tuple[Path, float]:
    x, rate = audio_io.read_audio_native(src)
    channels = _channels(src)
    record["native_audio"] = {"file": src.name, "rate": rate, "channels": channels, "from": what}
    peak = float(np.max(np.abs(x)))
    if peak < 10 ** (SILENCE_DBFS / 20):
        db = 20 * np.log10(peak + 1e-12)
        raise BadInputError(src, f"the system wrote silent audio (peak {db:.0f} dBFS)")
    keep = src.suffix.lower() == ".wav" and rate == t.sample_rate and channels == 1 and _pcm16(src)
    cap = int(t.max_seconds * t.sample_rate) if t.max_seconds else None
    if keep and (cap is None or len(x) <= cap):
        dest = out / "audio.wav"
        link_or_copy(src, dest)
        record["audio"] = "kept (16-bit mono WAV at the target rate)"
        return dest, len(x) / rate
    y = audio_io.resample(x, rate, t.sample_rate)[:cap]
    dest = out / "audio.wav"
    audio_io.write_wav(dest, y, t.sample_rate)
    record["audio"] = f"{rate} Hz x{channels} -> {t.sample_rate} Hz mono, 16-bit WAV"
    return dest, len(y) / t.sample_rate


def _channels(path: Path) -> int:
    if path.suffix.lower() == ".wav":
        try:
            return int(sf.info(str(path)).channels)
        except RuntimeError as exc:
            raise BadInputError(path, f"unreadable audio ({exc})") from exc
    with av.open(str(path)) as c:
        return len(c.streams.audio[0].layout.channels)


def _pcm16(path: Path) -> bool:
    return sf.info(str(path)).subtype == "PCM_16"


def _deliver(video: Path | None, audio: Path | None, t: Target, out: Path,
             record: dict[str, Any]) -> tuple[Path | None, Path | None]:
    """Encode the normalised output with the delivery codec, then decode it back."""
    m = _DELIVERY.match(t.delivery or "")
    assert m is not None
    crf, kbps = int(m.group(1)), int(m.group(2) or 128)
    sound = (audio_io.load_audio(audio, t.sample_rate), t.sample_rate) if audio else None
    if video is not None:
        dest = out / "delivered.mp4"
        video_io.write_video(dest, video_io.iter_frames_cfr(video, t.fps, t.max_seconds), t.fps,
                             "h264", sound, crf=crf, audio_kbps=kbps)
    else:
        dest = out / "delivered.m4a"
        video_io.write_audio(dest, sound[0], sound[1], audio_kbps=kbps)
    if audio is not None:
        back = out / "audio.wav"
        audio_io.write_wav(back, audio_io.load_audio(dest, t.sample_rate), t.sample_rate)
        audio = back
    record["delivery"] = (f"{t.delivery}: libx264 CRF {crf} yuv420p + AAC {kbps} kbit/s, "
                          "decoded back")
    return (dest if video is not None else None), audio


def normalise(video: Path | None, audio: Path | None, driving: Path | None, t: Target,
              out: Path) -> tuple[Path | None, Path | None, dict[str, Any]]:
    """Convert a system's native outputs (`video`, `audio`; `driving` = the audio it was driven
    by) into `out`: returns the normalised video, audio and the conversion record."""
    record: dict[str, Any] = {"target": {
        "fps": t.fps, "width": t.width, "height": t.height, "sample_rate": t.sample_rate,
        "max_seconds": t.max_seconds}}
    if video is None and audio is None:
        raise GeneratorError("the system wrote no output file")
    v_out = a_out = None
    v_len = a_len = 0.0
    if video is not None:
        v_out, v_len = _video(video, t, out, record)
    a_src, what = audio, "the system's audio file"
    if a_src is None and video is not None and video_io.probe(video).has_audio:
        a_src, what = video, "the video's own audio track"
    if a_src is None and video is not None and driving is not None:
        a_src, what = driving, "the driving audio, attached (the system writes no audio)"
    if a_src is not None:
        a_out, a_len = _audio(a_src, t, out, record, what)
    if v_out is not None and a_out is not None:
        if abs(v_len - a_len) > max(video_io.TRUNCATION_SLACK_S, video_io.TRUNCATION_SLACK * a_len):
            raise GeneratorError(f"the system wrote a video of {v_len:.2f} s but {a_len:.2f} s of "
                                 f"audio ({what}): the durations must agree within "
                                 f"max({video_io.TRUNCATION_SLACK_S:g} s, "
                                 f"{video_io.TRUNCATION_SLACK:.0%})")
    record["seconds"] = {"video": round(v_len, 3) if v_out else None,
                         "audio": round(a_len, 3) if a_out else None}
    if t.delivery:
        v_out, a_out = _deliver(v_out, a_out, t, out, record)
    return v_out, a_out, record


def speech_track(audio: Path, sample_rate: int, out: Path) -> tuple[Path, float, dict[str, Any]]:
    """A speech system's native audio as the WAV that drives a video system in a cascade (the
    same audio rules as `normalise`): returns the file, its seconds and the conversion record."""
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {}
    wav, seconds = _audio(audio, Target(0, 0, sample_rate=sample_rate), out, record,
                          "the speech system's audio")
    return wav, seconds, record
