"""What engines (the code that calls a system's official inference inside its managed
environment) share: errors the worker reports by kind, seeding, and writing a WAV with the
standard library. Standard library only (numpy and torch are used when the environment has
them)."""

from __future__ import annotations

import hashlib
import random
import wave
from pathlib import Path
from typing import Any


class EngineError(Exception):
    """A failure the engine names itself (reported as `kind`)."""

    kind = "error"


class MissingWeights(EngineError):
    kind = "missing_weights"


def sample_seed(seed: int, sample_id: str) -> int:
    """A per-sample seed independent of the order samples are served in."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:4], "big")


def seed_all(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def write_wav(path: str | Path, samples: Any, rate: int) -> str:
    """Float samples in [-1, 1] (a sequence or 1-D array) -> 16-bit mono WAV; returns the path."""
    import numpy as np

    x = np.clip(np.asarray(samples, dtype=np.float64).reshape(-1), -1.0, 1.0)
    pcm = (x * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return str(path)
