"""Video decoding and encoding with PyAV (FFmpeg inside the wheel; no system ffmpeg needed).

Why PyAV rather than decord, measured on the 11 real fixture clips (tests/benchmarks/test_decode.py,
2 CPU cores): decoding all of them took 3.29 s with PyAV (including the constant-fps resampling)
vs 6.00 s with decord 0.6.0 (1.8x slower); both opened every clip, the HEVC one included. decord
hands out frames at the container's rate with an average fps (22.13 for the VFR clip), so
timestamps would have to be handled by hand anyway; its last release is from 2021 with x86-64
wheels only. PyAV also reads audio reliably and encodes, so one library does all media IO.

Frames are resampled to constant fps by timestamps: output frame k covers [k/fps, (k+1)/fps) and
shows the last input frame presented at or before its centre (k+0.5)/fps; the clip has as many
output frames as have their centre inside the input's duration. Variable-frame-rate input thus
keeps its wall-clock duration and stays aligned with its audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from bench.atomic import atomic_path
from bench.audio import to_pcm16
from bench.errors import BadInputError

FPS = 25.0
# decoded video may fall short of the declared duration by this much (container rounding, a last
# frame's display time, audio-led container durations) before the file counts as truncated
TRUNCATION_SLACK_S, TRUNCATION_SLACK = 0.5, 0.1
_CODEC_FLAG_BITEXACT = 1 << 23  # AV_CODEC_FLAG_BITEXACT: no encoder version string in the stream


@dataclass(frozen=True)
class VideoInfo:
    """What a container holds, read without decoding frames."""

    path: str
    width: int
    height: int
    nominal_fps: float
    has_audio: bool
    audio_rate: int | None
    duration: float | None  # the container's (the longest stream's)
    video_duration: float | None = None  # the video stream's own, where the container states it


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise BadInputError(path, "file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as exc:
        raise BadInputError(path, f"unreadable container ({exc})") from exc


def probe(path: str | Path) -> VideoInfo:
    """Stream facts of a video file; raises BadInputError when it has no video stream."""
    with _open(path) as c:
        if not c.streams.video:
            raise BadInputError(path, "no video stream")
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        rate = v.average_rate or v.guessed_rate or 0
        duration = float(c.duration / av.time_base) if c.duration else None
        v_duration = float(v.duration * v.time_base) if v.duration and v.time_base else None
        return VideoInfo(str(path), v.codec_context.width, v.codec_context.height, float(rate),
                         a is not None, a.codec_context.sample_rate if a else None, duration,
                         v_duration)


def falls_short(reached: float, declared: float) -> bool:
    """Decoding ended more than max(0.5 s, 10 %) before the duration the container declares."""
    return reached < declared - max(TRUNCATION_SLACK_S, TRUNCATION_SLACK * declared)


def _broken(c: av.container.InputContainer, what: str, reached: float | None,
            exc: Exception) -> str:
    """The cause of a decode error, saying how far decoding got: a stream that breaks well before
    the duration its container declares is a truncated file."""
    declared = float(c.duration / av.time_base) if c.duration else None
    if reached is not None and declared and falls_short(reached, declared):
        return (f"truncated or corrupt: the {what} stream breaks at {reached:.2f} s of the "
                f"{declared:.2f} s the container declares ({exc})")
    return f"corrupt {what} stream ({exc})"


def _frame_times(c: av.container.InputContainer, path: str | Path) -> Iterator[tuple[float, av.VideoFrame]]:
    stream = c.streams.video[0]
    stream.thread_type = "AUTO"
    t = None
    try:
        for frame in c.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * frame.time_base)
            yield t, frame
    except av.error.FFmpegError as exc:
        raise BadInputError(path, _broken(c, "video", t, exc)) from exc


def iter_frames_cfr(path: str | Path, fps: float = FPS, max_seconds: float | None = None,
                    transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames [H, W, 3] resampled to constant `fps` by presentation timestamps.

    Time zero is the first video frame. The input ends where the last frame's display interval
    ends (its pts plus the median frame interval); output is capped at `max_seconds`. `transform`
    is applied once per distinct input frame (crop/resize), before frames are repeated.
    """
    with _open(path) as c:
        if not c.streams.video:
            raise BadInputError(path, "no video stream")
        limit = int(round(max_seconds * fps)) if max_seconds else None
        t0: float | None = None
        k = 0
        prev: np.ndarray | None = None
        prev_t = 0.0
        intervals: list[float] = []
        for t, frame in _frame_times(c, path):
            if t0 is None:
                t0 = t
            t -= t0
            if prev is not None:
                intervals.append(t - prev_t)
                # emit every output tick that falls before this frame's time with the previous frame
                while (k + 0.5) / fps < t - 1e-9 and (limit is None or k < limit):
                    yield prev
                    k += 1
            if limit is not None and k >= limit:
                return
            img = frame.to_ndarray(format="rgb24")
            prev, prev_t = (transform(img) if transform else img), t
        if prev is None:
            raise BadInputError(path, "video stream has no decodable frames")
        last = float(np.median(intervals)) if intervals else 1.0 / fps
        end = prev_t + last
        while (k + 0.5) / fps < end - 1e-9 and (limit is None or k < limit):
            yield prev
            k += 1


def read_frames(path: str | Path, fps: float = FPS, max_seconds: float | None = None) -> np.ndarray:
    """All frames of a clip as one uint8 array [T, H, W, 3] at constant fps."""
    frames = list(iter_frames_cfr(path, fps, max_seconds))
    return np.stack(frames)


def decode_audio_stream(path: str | Path) -> tuple[np.ndarray, int]:
    """First audio stream of a container as float32 mono at its native rate.

    Samples before the first video frame are dropped so that audio time zero equals video time
    zero (containers often start the streams at different pts).
    """
    with _open(path) as c:
        if not c.streams.audio:
            raise BadInputError(path, "no audio track")
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        video_start = None
        if c.streams.video and c.streams.video[0].start_time is not None:
            v = c.streams.video[0]
            video_start = float(v.start_time * v.time_base)
        chunks: list[np.ndarray] = []
        audio_start: float | None = None
        decoded = 0
        try:
            for frame in c.decode(stream):
                if audio_start is None and frame.pts is not None:
                    audio_start = float(frame.pts * frame.time_base)
                arr = frame.to_ndarray()
                decoded += frame.samples
                if arr.dtype.kind == "i":
                    arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)
                if frame.format.is_planar:
                    chunks.append(arr.astype(np.float32).mean(axis=0))
                else:
                    chunks.append(arr.reshape(-1, len(frame.layout.channels)).astype(np.float32).mean(axis=1))
        except av.error.FFmpegError as exc:
            reached = decoded / rate if rate else None
            raise BadInputError(path, _broken(c, "audio", reached, exc)) from exc
    if not chunks:
        raise BadInputError(path, "audio track has no decodable samples")
    x = np.concatenate(chunks).astype(np.float32)
    if video_start is not None and audio_start is not None:
        shift = int(round((video_start - audio_start) * rate))
        x = x[shift:] if shift >= 0 else np.concatenate([np.zeros(-shift, np.float32), x])
    return x, int(rate)


def write_video(path: str | Path, frames: Iterator[np.ndarray], fps: float = FPS, codec: str = "ffv1",
                audio: tuple[np.ndarray, int] | None = None, crf: int = 12,
                audio_kbps: int = 128) -> int:
    """Encode RGB uint8 frames atomically; returns the number of frames written.

    `ffv1` (in .mkv) is lossless and the default for stored clips, so metrics never see a second
    generation of compression artefacts; `h264` (in .mp4, yuv420p, `crf`, 12 by default) is for
    sharing and for the delivery-codec option.
    Encoding is single-threaded and bit-exact, so the same frames give the same bytes.
    `audio` (float32 mono, rate) is muxed as 16-bit PCM (mkv) or AAC at `audio_kbps` (mp4).
    """
    path = Path(path)
    n = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="matroska" if path.suffix == ".mkv" else None) as out:
            out.flags |= av.container.Flags.bitexact.value  # no version strings or random ids in the file
            if codec == "ffv1":
                stream = out.add_stream("ffv1", rate=Fraction(fps).limit_denominator(1001))
                stream.pix_fmt = "bgr0"
            elif codec == "h264":
                stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "medium"}
            else:
                raise ValueError(f"unknown codec {codec!r} (use ffv1 or h264)")
            stream.thread_count = 1
            stream.codec_context.flags |= _CODEC_FLAG_BITEXACT
            astream = _audio_stream(out, path, audio, audio_kbps) if audio is not None else None
            for img in frames:
                if n == 0:
                    stream.height, stream.width = img.shape[:2]
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")))
                n += 1
            out.mux(stream.encode(None))
            if astream is not None:
                _mux_audio(out, astream, audio)
    if n == 0:
        raise BadInputError(path, "no frames to write")
    return n


def _audio_stream(out: av.container.OutputContainer, path: Path, audio: tuple[np.ndarray, int],
                  kbps: int) -> av.AudioStream:
    stream = out.add_stream("pcm_s16le" if path.suffix == ".mkv" else "aac", rate=audio[1])
    stream.layout = "mono"
    if path.suffix != ".mkv":
        stream.bit_rate = kbps * 1000
    stream.codec_context.flags |= _CODEC_FLAG_BITEXACT
    return stream


def _mux_audio(out: av.container.OutputContainer, stream: av.AudioStream,
               audio: tuple[np.ndarray, int]) -> None:
    aframe = av.AudioFrame.from_ndarray(to_pcm16(audio[0])[None, :], format="s16", layout="mono")
    aframe.sample_rate = audio[1]
    out.mux(stream.encode(aframe))
    out.mux(stream.encode(None))


def write_audio(path: str | Path, x: np.ndarray, rate: int, audio_kbps: int = 128) -> None:
    """Encode mono float audio as AAC in an .m4a container, atomically (delivery codec)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            out.flags |= av.container.Flags.bitexact.value
            _mux_audio(out, _audio_stream(out, path, (x, rate), audio_kbps), (x, rate))
