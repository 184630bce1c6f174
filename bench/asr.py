"""Transcription backends for datasets without transcripts (the paper ran Whisper).

A backend is chosen with `--asr NAME:ARG`; the transcript's origin is recorded in each Sample's
`text_source` as `asr:<backend id>`, so results made with machine transcripts are recognisable.
No trustworthy ASR ships offline, so there is no default: without `--asr` such samples have no
text, and generators that need text fail them with a message saying so.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from bench.errors import ConfigError


class Transcriber(ABC):
    """Speech to text for one audio file."""

    id: str

    @abstractmethod
    def transcribe(self, wav: Path) -> str:
        ...


class FasterWhisper(Transcriber):
    """CTranslate2 Whisper through faster-whisper, from a local model directory (no hub access)."""

    def __init__(self, model_dir: str, device: str = "cpu"):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ConfigError("--asr faster-whisper needs `pip install faster-whisper`") from exc
        path = Path(model_dir).expanduser()
        if not (path / "model.bin").is_file():
            raise ConfigError(f"--asr faster-whisper:{model_dir}: no model.bin there; give a CTranslate2 "
                              "Whisper directory (e.g. a local copy of Systran/faster-whisper-large-v3)")
        self.id = f"faster-whisper:{path.name}"
        self._model = WhisperModel(str(path), device=device, compute_type="int8" if device == "cpu" else "float16")

    def transcribe(self, wav: Path) -> str:
        segments, _ = self._model.transcribe(str(wav), language="en", beam_size=5)
        return " ".join(s.text.strip() for s in segments).strip()


def make_transcriber(spec: str | None, device: str = "cpu") -> Transcriber | None:
    """`faster-whisper:/path/to/model` -> a backend; None/empty -> no ASR."""
    if not spec:
        return None
    name, _, arg = spec.partition(":")
    if name == "faster-whisper" and arg:
        return FasterWhisper(arg, device)
    raise ConfigError(f"unknown --asr backend '{spec}'; use faster-whisper:/path/to/ctranslate2-whisper-dir")
