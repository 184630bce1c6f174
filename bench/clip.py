"""Decode once: a clip's frames and audio, decoded lazily on first use and then shared by every
metric that looks at the clip (frames uint8 [T,H,W,3] at the clip's fps; audio float32 mono)."""

from __future__ import annotations

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
