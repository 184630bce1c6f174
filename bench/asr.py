"""Speech-to-text backends, shared by preprocessing (datasets without transcripts) and WER.

One interface, `Transcriber.transcribe(audio)` on 16 kHz mono float32, English, deterministic
decoding (temperature 0, no conditioning on previous text). Backends:
- `faster-whisper:DIR` - any CTranslate2 Whisper model directory (model.bin, config.json,
  tokenizer.json, vocabulary.*), run by faster-whisper with beam 5 (F5-TTS's setting); the
  registry's `whisper-large-v3-ct2` is such a directory (Systran/faster-whisper-large-v3);
- `openai-whisper:FILE` - an openai-whisper checkpoint (.pt) run by the openai-whisper package,
  greedy (the registry's `whisper-large-v3`, SHA-256 known).
A backend's `id` names the model by its file's SHA-256 prefix, so transcripts (and WER ids made
from them) from different models never mix. No trustworthy ASR ships offline, so nothing is a
default: preprocessing without `--asr` leaves samples without text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path

import numpy as np

from bench.errors import ConfigError
from bench.hashing import sha256_file

RATE = 16_000


class Transcriber(ABC):
    """Speech to text for one utterance."""

    @property
    @abstractmethod
    def id(self) -> str:
        """Backend, model and decoding: what a transcript depends on."""

    @abstractmethod
    def transcribe(self, audio: np.ndarray) -> str:
        """English text of 16 kHz mono float32 audio."""


class FasterWhisper(Transcriber):
    """CTranslate2 Whisper through faster-whisper, from a local model directory (no hub access)."""

    def __init__(self, model_dir: str | Path, device: str = "cpu", beam_size: int = 5):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ConfigError("the faster-whisper backend needs `pip install faster-whisper`") from exc
        self.path = Path(model_dir).expanduser()
        if not (self.path / "model.bin").is_file():
            raise ConfigError(f"faster-whisper:{model_dir}: no model.bin there; give a CTranslate2 Whisper "
                              "directory (e.g. a local copy of Systran/faster-whisper-large-v3)")
        self.beam_size = beam_size
        self._model = WhisperModel(str(self.path), device=device,
                                   compute_type="float32" if device == "cpu" else "float16")

    @cached_property
    def sha256(self) -> str:
        return sha256_file(self.path / "model.bin")

    @cached_property
    def id(self) -> str:
        return f"ct2-whisper:{self.path.name}@{self.sha256[:12]}/beam{self.beam_size}"

    def transcribe(self, audio: np.ndarray) -> str:
        segments, _ = self._model.transcribe(np.asarray(audio, dtype=np.float32), language="en",
                                             beam_size=self.beam_size, temperature=0.0,
                                             condition_on_previous_text=False, vad_filter=False)
        return " ".join(s.text.strip() for s in segments).strip()


class OpenAIWhisper(Transcriber):
    """An openai-whisper checkpoint file, greedy decoding."""

    def __init__(self, checkpoint: str | Path, device: str = "cpu"):
        try:
            import whisper
        except ImportError as exc:
            raise ConfigError("the openai-whisper backend needs `pip install openai-whisper`") from exc
        self.path = Path(checkpoint).expanduser()
        if not self.path.is_file():
            raise ConfigError(f"openai-whisper:{checkpoint}: no such checkpoint file")
        self.device = device
        self._model = whisper.load_model(str(self.path), device=device)

    @cached_property
    def id(self) -> str:
        return f"openai-whisper:{self.path.stem}@{sha256_file(self.path)[:12]}/greedy"

    def transcribe(self, audio: np.ndarray) -> str:
        got = self._model.transcribe(np.asarray(audio, dtype=np.float32), language="en", temperature=0.0,
                                     condition_on_previous_text=False, fp16=self.device != "cpu")
        return str(got["text"]).strip()


def make_transcriber(spec: str | None, device: str = "cpu") -> Transcriber | None:
    """`faster-whisper:DIR` or `openai-whisper:FILE` -> a backend; None/empty -> no ASR."""
    if not spec:
        return None
    name, _, arg = spec.partition(":")
    if name == "faster-whisper" and arg:
        return FasterWhisper(arg, device)
    if name == "openai-whisper" and arg:
        return OpenAIWhisper(arg, device)
    raise ConfigError(f"unknown --asr backend '{spec}'; use faster-whisper:/path/to/ctranslate2-whisper-dir "
                      "or openai-whisper:/path/to/checkpoint.pt")
