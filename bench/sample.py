"""The data model: a raw dataset item and the preprocessed, immutable `Sample` built from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RawItem:
    """One talking clip as a dataset adapter finds it on disk, before preprocessing.

    `files` maps a role ("video", "transcript", ...) to a path relative to the dataset root, so a
    manifest stays valid when the dataset is moved.
    """

    id: str
    dataset: str
    root: str
    files: dict[str, str]
    speaker: str | None = None
    text: str | None = None

    def path(self, role: str) -> Path:
        """Absolute path of one of the item's files."""
        return Path(self.root) / self.files[role]


@dataclass(frozen=True)
class Sample:
    """A preprocessed benchmark sample: what generators receive and metrics compare against.

    Preprocessing writes new files and makes a new Sample; nothing here is ever mutated.
    `text` is None when the dataset has no transcript and no ASR backend was configured;
    generators that need text then fail that sample with a clear error.
    """

    id: str
    dataset: str
    source_image: str  # identity frame (PNG, first frame of the preprocessed clip)
    voice_profile: str  # reference audio (WAV, 16 kHz mono)
    video: str  # ground-truth video, preprocessed (constant fps, cropped, resized)
    audio: str  # ground-truth audio, 16 kHz mono WAV
    fps: float
    sample_rate: int
    duration: float  # seconds of the preprocessed clip
    num_frames: int
    text: str | None = None
    text_source: str = "none"  # "dataset", "asr:<backend>", or "none"
    speaker: str | None = None
    raw: dict[str, str] = field(default_factory=dict)  # role -> absolute raw input path
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Sample":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
