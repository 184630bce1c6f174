"""Decode once: a clip's frames and audio, decoded lazily on first use and then shared by every
metric that looks at the clip (frames uint8 [T,H,W,3] at the clip's fps; audio float32 mono)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np

from bench import audio as audio_io
from bench import video as video_io
from bench.errors import BadInputError
from bench.hashing import sha256_file, sha256_json


class Clip:
    """One video and/or audio file pair, decoded at most once per representation."""

    def __init__(self, video: str | Path | None, audio: str | Path | None, fps: float = video_io.FPS,
                 sample_rate: int = audio_io.SAMPLE_RATE, max_seconds: float | None = None):
        self.video_path = Path(video) if video else None
        # a video's own audio track stands in when there is no separate audio file
        self.audio_path = Path(audio) if audio else self.video_path
        self.fps = fps
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self._audio_at: dict[int, np.ndarray] = {}

    def __getstate__(self) -> dict:
        """Pickled for worker processes without the decoded frames (audio caches travel along)."""
        return {k: v for k, v in self.__dict__.items() if k != "frames"}

    @property
    def has_video(self) -> bool:
        return self.video_path is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_path is not None

    @cached_property
    def content_key(self) -> str:
        """What the decoded frames depend on (file bytes, fps, length cap): the feature cache key.
        Hashed once per clip, however many metrics look it up."""
        if self.video_path is None:
            raise BadInputError(None, "clip has no video")
        return sha256_json([sha256_file(self.video_path), self.fps, self.max_seconds])[:32]

    @cached_property
    def audio_key(self) -> str:
        """What the decoded audio depends on (file bytes, rate, length cap): the audio feature cache key."""
        if self.audio_path is None:
            raise BadInputError(None, "clip has no audio")
        return sha256_json([sha256_file(self.audio_path), self.sample_rate, self.max_seconds])[:32]

    def key(self, modality: str) -> str:
        """The cache key of the clip's video or audio."""
        return self.audio_key if modality == "audio" else self.content_key

    @cached_property
    def frames(self) -> np.ndarray:
        if self.video_path is None:
            raise BadInputError(None, "clip has no video")
        return video_io.read_frames(self.video_path, self.fps, self.max_seconds)

    @cached_property
    def decoded_bytes(self) -> float:
        """Size of the decoded frames (from the container's header, read once; inf when it states
        no duration)."""
        info = video_io.probe(self.video_path)
        seconds = min(info.duration or math.inf, self.max_seconds or math.inf)
        return info.width * info.height * 3 * math.ceil(seconds * self.fps) if math.isfinite(seconds) else math.inf

    def frame_pass(self, max_bytes: float) -> FrameWindows:
        """One sequential pass over the frames. The decoded array (decoded now and shared with every
        other metric) when it is already there or fits in `max_bytes`; otherwise a fresh decode
        that holds only the frames the caller has not released, so long videos stay in bounded
        memory at the cost of decoding once per pass."""
        if self.video_path is None:
            raise BadInputError(None, "clip has no video")
        if "frames" in self.__dict__ or self.decoded_bytes <= max_bytes:
            return FrameWindows(self.frames)
        return FrameWindows(video_io.iter_frames_cfr(self.video_path, self.fps, self.max_seconds))

    @property
    def audio(self) -> np.ndarray:
        """Audio at the clip's rate (16 kHz unless configured otherwise)."""
        return self.audio_at(self.sample_rate)

    def audio_at(self, rate: int) -> np.ndarray:
        """Audio at another rate, resampled from the clip's rate (one decode, cached per rate)."""
        if rate not in self._audio_at:
            if self.audio_path is None:
                raise BadInputError(None, "clip has no audio")
            if rate == self.sample_rate:
                x = audio_io.load_audio(self.audio_path, rate)
                if self.max_seconds:
                    x = x[: int(self.max_seconds * rate)]
            else:
                x = audio_io.resample(self.audio, self.sample_rate, rate)
            self._audio_at[rate] = x
        return self._audio_at[rate]


class FrameWindows:
    """Frames [start, end) of one forward pass: from a decoded array (slices, no copies) or from a
    decoder, read ahead on demand and held until `release`d. Reads never go back before the last
    release, which is what bounds the memory of a streamed pass."""

    def __init__(self, frames: np.ndarray | Iterator[np.ndarray]):
        self._array = frames if isinstance(frames, np.ndarray) else None
        self._source = None if isinstance(frames, np.ndarray) else frames
        self._held: list[np.ndarray] = []
        self._first = 0  # index of self._held[0]
        self._ended = False

    def get(self, start: int, end: int) -> np.ndarray:
        """Frames start..end-1 as [n, H, W, 3]; fewer where the clip ends first."""
        if self._array is not None:
            return self._array[start:end]
        got = self._read(start, end)
        return np.stack(got) if got else np.empty((0, 0, 0, 3), np.uint8)

    def frame(self, i: int) -> np.ndarray:
        """Frame i itself (no copy); IndexError past the clip's end."""
        if self._array is not None:
            return self._array[i]
        got = self._read(i, i + 1)
        if not got:
            raise IndexError(f"frame {i} is past the end of the clip")
        return got[0]

    def _read(self, start: int, end: int) -> list[np.ndarray]:
        if start < self._first:
            raise ValueError(f"frame {start} was already released (pass is at {self._first})")
        while not self._ended and self._first + len(self._held) < end:
            frame = next(self._source, None)
            if frame is None:
                self._ended = True
            else:
                self._held.append(frame)
        return self._held[start - self._first:end - self._first]

    def release(self, before: int) -> None:
        """Frames before `before` will not be read again."""
        if self._array is None and before > self._first:
            drop = min(before - self._first, len(self._held))
            del self._held[:drop]
            self._first += drop
            while self._first < before and not self._ended:  # a skipped stretch: decoded, never held
                if next(self._source, None) is None:
                    self._ended = True
                else:
                    self._first += 1

    def chunks(self, size: int, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first index, frames) of consecutive chunks from `start` to `end` (or the clip's end),
        each released once the caller asks for the next."""
        i = start
        self.release(start)
        while end is None or i < end:
            got = self.get(i, i + size if end is None else min(i + size, end))
            if not len(got):
                return
            yield i, got
            i += len(got)
            self.release(i)
