"""The one audio loader and resampler every stage uses (soundfile / PyAV + scipy; no torchaudio).

Everything downstream sees float32 mono at a documented rate. Channels are averaged (as the
frechet-audio-distance reference does); resampling is polyphase (scipy `resample_poly`), exact for
rational rate ratios and deterministic.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from bench.atomic import atomic_path
from bench.errors import BadInputError

SAMPLE_RATE = 16_000
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of a 1-D signal; identity when the rates match."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    ratio = Fraction(sr_out, sr_in)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as the int16 samples a 16-bit file holds (x * 32768, rounded, clipped)."""
    return np.clip(np.round(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels of a [samples, channels] array (1-D input is returned as is)."""
    return x if x.ndim == 1 else x.mean(axis=1)


def _check(x: np.ndarray, path: str | Path) -> np.ndarray:
    if x.size == 0:
        raise BadInputError(path, "audio has zero samples")
    if not np.all(np.isfinite(x)):
        raise BadInputError(path, "audio contains NaN or infinite samples")
    return x


def read_audio_native(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file's first audio stream at its own rate: float32 mono, and the rate."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "file does not exist")
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:  # soundfile raises several types for corrupt files
            raise BadInputError(path, f"unreadable audio ({exc})") from exc
        return _check(to_mono(data).astype(np.float32), path), int(sr)
    from bench.video import decode_audio_stream  # containers (mp4, mkv, mpg) go through PyAV

    x, sr = decode_audio_stream(path)
    return _check(x, path), sr


def load_audio(path: str | Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Load any audio or video file's sound as float32 mono at `sr`."""
    x, native = read_audio_native(path)
    return resample(x, native, sr)


def write_wav(path: str | Path, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Atomically write 16-bit PCM WAV (clipped to [-1, 1]; the format every baseline reads)."""
    x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), x, sr, subtype="PCM_16", format="WAV")
