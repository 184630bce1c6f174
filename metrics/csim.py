"""Speaker similarity (C-SIM): cosine similarity between speaker embeddings of the generated speech
and of the sample's voice profile (the reference audio the generator was given).

The encoder is part of the id, because scores from different encoders are not comparable
(PROTOCOLS.md §9):
- `csim@resemblyzer-ge2e/16k/vs-voice-profile`: Resemblyzer's GE2E encoder (256-d, weights shipped
  inside the `resemblyzer` package, registered and hash-pinned), with Resemblyzer's own
  preprocessing: volume normalised to -30 dBFS (increase only), long silences trimmed with
  webrtcvad, 1.6 s partial utterances at 50 % overlap averaged and L2-normalised.
Audio enters at 16 kHz mono (Resemblyzer's rate). Audio that is silent after silence trimming
has no embedding: a per-sample error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import ClassVar

import numpy as np

from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import Metric, Pair, PerSampleMetric, register_metric

RATE = 16_000


class SpeakerEncoder(ABC):
    """Audio (16 kHz mono float32) -> one unit-norm speaker embedding."""

    @abstractmethod
    def embed(self, audio: np.ndarray) -> np.ndarray:
        ...


class GE2E(SpeakerEncoder):
    """Resemblyzer's VoiceEncoder on a verified weights file."""

    def __init__(self, weights: str, device: str) -> None:
        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder(device=device, verbose=False, weights_fpath=weights)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(np.asarray(audio, dtype=np.float32), source_sr=RATE)
        if len(wav) == 0 or not np.any(wav):
            raise BadInputError(None, "no speech left after silence trimming: no speaker embedding")
        return self.encoder.embed_utterance(wav)


class _CSIM(PerSampleMetric):
    needs = frozenset({"gen_audio", "voice_profile"})
    higher_is_better = True
    encoder_weights: ClassVar[str]

    def setup(self, device: str) -> None:
        self.encoder = self.make_encoder(device)
        self._profiles: OrderedDict[str, np.ndarray] = OrderedDict()  # voice profile key -> embedding

    @abstractmethod
    def make_encoder(self, device: str) -> SpeakerEncoder:
        ...

    def embedding(self, clip: Clip) -> np.ndarray:
        try:
            return self.encoder.embed(clip.audio_at(RATE))
        except BadInputError as exc:
            raise BadInputError(clip.audio_path, exc.cause) from exc

    def compute(self, pair: Pair) -> float:
        profile = Clip(None, pair.sample.voice_profile)
        key = profile.audio_key
        if key not in self._profiles:
            self._profiles[key] = self.embedding(profile)
            if len(self._profiles) > 256:
                self._profiles.popitem(last=False)
        a, b = self.embedding(pair.gen), self._profiles[key]
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _weights_path(metric: Metric, name: str) -> str:
    path = metric.weights_file(name)
    assert path is not None  # shipped weights, not randomisable
    return str(path)


@register_metric
class CSIMResemblyzer(_CSIM):
    id = "csim@resemblyzer-ge2e/16k/vs-voice-profile"
    default = True
    weights = ("resemblyzer-ge2e",)
    randomisable = False  # the weights ship with the package
    description = "speaker similarity (cosine) of generated speech to the voice profile, Resemblyzer GE2E"

    def make_encoder(self, device: str) -> SpeakerEncoder:
        return GE2E(_weights_path(self, "resemblyzer-ge2e"), device)
