"""THEval's own metric scripts (../shared/references/theval-cfe23fe.tar.gz), run as the reference
for the parity tests: each script is imported from the extracted archive and its functions are
called exactly as its `evaluate_videos` calls them with pre-extracted WAVs (`--audio_folder`).

What cannot run here is replaced, and only that: `torchaudio` (imported by silero-vad 5.1.2 for
`read_audio`) is absent, so `read_audio` is soundfile's read of the 16 kHz mono float WAV the test
writes, which is what torchaudio returns for such a file; `moviepy.editor` and `pydub` are
imported but only used to extract audio from a video, which the audio-folder path skips. Each
clip gets a freshly executed module, so every clip starts with a new FaceMesh tracker (THEval's
one tracker for a whole list carries state from video to video).
"""

from __future__ import annotations

import importlib.util
import sys
import tarfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import REFERENCE, REPO

ARCHIVE = REPO.parent / "shared" / "references" / "theval-cfe23fe.tar.gz"
SCRIPTS = {"lip_sync": "Synchronization/lip_sync.py",
           "silent": "Synchronization/silent_lip_stability.py",
           "lip_dyn": "Naturalness/lip_dynamics.py",
           "eyebrow": "Naturalness/eyebrow_dynamics.py"}


def extract(tmp: Path) -> Path:
    """The archive's top directory, extracted under `tmp` (skip when the archive is absent)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"THEval reference archive not found at {ARCHIVE}")
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(tmp, filter="data")
    return next(p for p in tmp.iterdir() if p.is_dir())


def _read_audio(path: str, sampling_rate: int = 16000) -> torch.Tensor:
    wav, sr = sf.read(path, dtype="float32")
    assert sr == sampling_rate and wav.ndim == 1, (path, sr, wav.shape)
    return torch.from_numpy(wav)


@contextmanager
def _stubs() -> Iterator[None]:
    """Placeholders for the modules the audio-folder path imports but never calls, present only
    while a script is imported."""
    added = []
    for name, attrs in {"moviepy": {}, "moviepy.editor": {"VideoFileClip": None},
                        "pydub": {"AudioSegment": None}, "torchaudio": {}}.items():
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__dict__.update(attrs)
            sys.modules[name] = mod
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            del sys.modules[name]


def _import_decord() -> None:
    """decord from the reference dir, on sys.path only while it is imported: that dir also holds
    torch-fidelity, which torchmetrics would import (and torchvision with it) wherever it is on
    the path, including in the worker processes that inherit this one's path."""
    if "decord" in sys.modules:
        return
    where = next((d for d in REFERENCE if (d / "decord").is_dir()), None)
    if where is None:
        pytest.skip("decord not installed "
                    "(pip install --no-deps --target .venv/reference decord==0.6.0)")
    sys.path.append(str(where))
    try:
        import decord  # noqa: F401
    finally:
        sys.path.remove(str(where))


def load(root: Path, which: str) -> Any:
    """A fresh instance of one THEval script as a module (its FaceMesh and VAD newly built)."""
    _import_decord()
    spec = importlib.util.spec_from_file_location(f"theval_{which}", root / SCRIPTS[which])
    mod = importlib.util.module_from_spec(spec)
    with _stubs():
        spec.loader.exec_module(mod)
    if hasattr(mod, "read_audio"):
        mod.read_audio = _read_audio
    return mod


def values(root: Path, video: Path, wav: Path) -> dict[str, float]:
    """THEval's per-clip values of one video (with its 16 kHz mono WAV), NaN where it gives NaN."""
    import cv2
    import librosa

    lip_sync = load(root, "lip_sync")
    y, sr = librosa.load(str(wav), sr=None)
    out = {"lipsync": float(lip_sync.process_video(str(video), y, sr, str(wav)))}
    silent = load(root, "silent")
    cap = cv2.VideoCapture(str(video))
    rate, total = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    frames = silent.detect_silence_frames(audio_input=str(wav), frame_rate=rate, total_frames=total)
    out["silent-lip"] = float(silent.process_video(str(video), frames)) if frames else float("nan")
    out["lip-dyn"] = float(load(root, "lip_dyn").compute_mouth_diversity(str(video)))
    out["brow-dyn"] = float(load(root, "eyebrow").compute_micro_expression_intensity(str(video)))
    return out


def nan_equal(a: float, b: float, tol: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= tol
