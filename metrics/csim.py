"""Speaker similarity (C-SIM): cosine similarity between speaker embeddings of the generated speech
and of the sample's voice profile (the reference audio the generator was given).

The encoder is part of the id, because scores from different encoders are not comparable
(PROTOCOLS.md §9):
- `csim@resemblyzer-ge2e/16k/vs-voice-profile`: Resemblyzer's GE2E encoder (256-d, weights shipped
  inside the `resemblyzer` package, registered and hash-pinned), with Resemblyzer's own
  preprocessing: volume normalised to -30 dBFS (increase only), long silences trimmed with
  webrtcvad, 1.6 s partial utterances at 50 % overlap averaged and L2-normalised.
- `csim@wavlm-large-ecapa-unispeech/16k/vs-voice-profile`: seed-tts-eval's SIM model - WavLM-Large
  + ECAPA-TDNN (256-d) from UniSpeech's speaker-verification fine-tune `wavlm_large_finetune.pth`
  (weights `wavlm-large-ecapa`, not downloadable here), in plain torch (metrics/nets/wavlm.py,
  ecapa.py), on the whole utterance. The checkpoint must hold every weight (the reference loads it
  with strict=False, so a wrong file would load silently; here a missing key is an error).
  Differences from seed-tts-eval: channels are averaged (it takes the first) and resampling is
  polyphase (it uses torchaudio's sinc resampler); at 16 kHz mono input the two agree.
Audio enters at 16 kHz mono. Audio that is silent (after Resemblyzer's trimming) has no
embedding: a per-sample error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict

import numpy as np

from bench.clip import Clip
from bench.errors import BadInputError, MissingWeightsError
from metrics.base import Pair, PerSampleMetric, register_metric

RATE = 16_000


class SpeakerEncoder(ABC):
    """Audio (16 kHz mono float32) -> one speaker embedding (compared by cosine)."""

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


class WavLMECAPAEncoder(SpeakerEncoder):
    """UniSpeech's WavLM-Large + ECAPA-TDNN speaker verifier."""

    def __init__(self, weights: str | None, device: str) -> None:
        import torch

        from metrics.nets.ecapa import WavLMECAPA
        from metrics.nets.wavlm import WavLMConfig

        state = torch.load(weights, map_location="cpu", weights_only=True).get("model", {}) if weights else None
        cfg = WavLMConfig(conv_bias=bool(state) and "feature_extract.model.feature_extractor.conv_layers.0.0.bias"
                          in state)
        if state is not None:
            with torch.device("meta"):  # the expected names, without allocating 300M parameters
                want = list(WavLMECAPA(cfg).state_dict())
            absent = [k for k in want if k not in state]
            if absent:
                raise MissingWeightsError(f"{weights}: not a WavLM-Large ECAPA checkpoint; missing {len(absent)} "
                                          f"weights, e.g. {absent[:3]}")
        net = WavLMECAPA(cfg)
        if state is not None:
            net.load_state_dict({k: state[k] for k in want})
        self.net, self.device = net.eval().to(device), device

    def embed(self, audio: np.ndarray) -> np.ndarray:
        import torch

        if not np.any(audio):
            raise BadInputError(None, "audio is silent: no speaker embedding")
        with torch.inference_mode():
            return self.net(torch.from_numpy(np.asarray(audio, dtype=np.float32))[None].to(self.device))[0].cpu().numpy()


class _CSIM(PerSampleMetric):
    needs = frozenset({"gen_audio", "voice_profile"})
    higher_is_better = True

    def setup(self, device: str) -> None:
        self.encoder = self.make_encoder(device)
        self._profiles: OrderedDict[str, np.ndarray] = OrderedDict()  # voice profile key -> embedding

    @abstractmethod
    def make_encoder(self, device: str) -> SpeakerEncoder:
        """The speaker encoder on its verified weights (MissingWeightsError when absent)."""

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


@register_metric
class CSIMWavLMECAPA(_CSIM):
    id = "csim@wavlm-large-ecapa-unispeech/16k/vs-voice-profile"
    weights = ("wavlm-large-ecapa",)
    device = "gpu-able"
    description = "speaker similarity (cosine) of generated speech to the voice profile, WavLM-Large + ECAPA-TDNN"

    def make_encoder(self, device: str) -> SpeakerEncoder:
        path = self.weights_file("wavlm-large-ecapa")
        return WavLMECAPAEncoder(str(path) if path else None, device)


@register_metric
class CSIMResemblyzer(_CSIM):
    id = "csim@resemblyzer-ge2e/16k/vs-voice-profile"
    default = True
    weights = ("resemblyzer-ge2e",)
    randomisable = False  # the weights ship with the package
    description = "speaker similarity (cosine) of generated speech to the voice profile, Resemblyzer GE2E"

    def make_encoder(self, device: str) -> SpeakerEncoder:
        return GE2E(str(self.shipped_weights_file("resemblyzer-ge2e")), device)
