"""Silero VAD 5.1.2 (THEval's pin): speech segments of 16 kHz audio, with the package's own
`get_speech_timestamps` and its default parameters, as THEval calls it (return_seconds=True).

silero-vad 5.1.2 imports torchaudio at module level for `read_audio`/`save_audio` only, and the
suite's environment has no torchaudio (README). When torchaudio cannot be imported, the package
is imported with a placeholder module in its place, removed again right after; calling anything
that needs torchaudio then fails with a message saying so. bench reads and resamples the audio
itself; the VAD sees the run's 16 kHz mono samples, which is what `read_audio` returns for them.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

import numpy as np
import torch

from bench import weights as registry
from bench.errors import MissingWeightsError

RATE = 16_000
VERSION = "5.1.2"
WEIGHTS = "silero-vad-jit"
INSTALL = f"pip install --no-deps silero-vad=={VERSION}"

_MODEL: dict[str, Any] = {}


class _NoTorchaudio(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"torchaudio.{name}: torchaudio is not installed in bench's environment "
                           "(bench decodes audio itself and passes tensors to the VAD)")


def _import() -> Any:
    if importlib.util.find_spec("silero_vad") is None:
        raise MissingWeightsError("silero-vad is not installed; its model ships inside it. "
                                  f"Install it with:  {INSTALL}")
    if "torchaudio" in sys.modules or importlib.util.find_spec("torchaudio") is not None:
        import silero_vad
        return silero_vad
    sys.modules["torchaudio"] = _NoTorchaudio("torchaudio")
    try:
        import silero_vad
    finally:
        del sys.modules["torchaudio"]
    return silero_vad


def require() -> dict[str, str]:
    """The verified model file (the one inside the installed package) and its SHA-256."""
    _, digest = registry.require(WEIGHTS)
    return {WEIGHTS: digest}


def speech_segments(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in float32 mono 16 kHz audio (the package rounds to 0.1 s)."""
    sv = _import()
    if "model" not in _MODEL:
        _MODEL["model"] = sv.load_silero_vad()  # the JIT model, as THEval loads it
    wav = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    with torch.no_grad():
        found = sv.get_speech_timestamps(wav, _MODEL["model"], return_seconds=True)
    return [(float(s["start"]), float(s["end"])) for s in found]


def speech_frames(segments: list[tuple[float, float]], fps: float, total: int) -> set[int]:
    """Frames inside speech, as THEval's lip_sync.py counts them: int(start * fps) to
    int(end * fps), both included, below `total`."""
    frames: set[int] = set()
    for start, end in segments:
        frames.update(range(int(start * fps), min(int(end * fps) + 1, total)))
    return frames
