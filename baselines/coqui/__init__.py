"""`xtts-v2`, `yourtts`, `glowtts`: Coqui TTS models through `coqui-tts` 0.28.0, the maintained
fork of Coqui's package, in the managed environment `coqui` (engine.py runs there).

- XTTS v2 clones the voice profile (multilingual; `language=en` by default). Licence CPML
  (non-commercial).
- YourTTS clones the voice profile through its speaker encoder (languages en, fr-fr, pt-br).
  CC BY-NC-ND 4.0.
- GlowTTS (LJSpeech) + Multiband-MelGAN is single-speaker: it cannot clone, every sample is read
  in the LJSpeech voice. MPL-2.0.

Inference defaults are the official ones: XTTS's released config (temperature 0.75,
length_penalty 1.0, repetition_penalty 5.0, top_k 50, top_p 0.85), sentence splitting on, as
`tts --text ... --speaker_wav ...` runs them.
"""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import Option, register_generator
from bench.worker import WORKER_OPTIONS, WorkerGenerator

U = weights.UNKNOWN
RELEASES = "https://github.com/coqui-ai/TTS/releases/download"
weights.register(weights.WeightsEntry(
    "xtts-v2", "model.pth", U, "CPML (Coqui Public Model License, non-commercial)",
    "xtts-v2 (GPT + HiFi-GAN decoder; ~1.87 GB)",
    urls=("https://huggingface.co/coqui/XTTS-v2/resolve/v2.0.3/",),
    companions=("config.json", "vocab.json", "speakers_xtts.pth"),
    notes="the model directory of HF coqui/XTTS-v2 (v2.0.3; model.pth's SHA-256 starts "
          "98f72973, the full hash is pinned at import). coqui-tts downloads it without a "
          "checksum; import the directory: bench weights import xtts-v2 DIR"))
weights.register(weights.WeightsEntry(
    "yourtts", "model_file.pth", U, "CC BY-NC-ND 4.0", "yourtts (VITS + H/ASP speaker encoder)",
    urls=(f"{RELEASES}/v0.10.1_models/tts_models--multilingual--multi-dataset--your_tts.zip",),
    companions=("config.json", "speakers.json", "language_ids.json", "config_se.json",
                "model_se.pth"),
    notes="unzip the release (~425 MB) and import the directory"))
weights.register(weights.WeightsEntry(
    "glowtts-ljspeech", "model_file.pth", U, "MPL-2.0", "glowtts (LJSpeech)",
    urls=(f"{RELEASES}/v0.6.1_models/tts_models--en--ljspeech--glow-tts.zip",),
    companions=("config.json", "scale_stats.npy"),
    notes="unzip the release and import the directory"))
weights.register(weights.WeightsEntry(
    "multiband-melgan-ljspeech", "model_file.pth", U, "MPL-2.0",
    "glowtts's vocoder (Multiband-MelGAN, LJSpeech)",
    urls=(f"{RELEASES}/v0.6.1_models/vocoder_models--en--ljspeech--multiband-melgan.zip",),
    companions=("config.json", "scale_stats.npy"),
    notes="unzip the release and import the directory"))


class _Coqui(WorkerGenerator):
    produces = frozenset({"audio"})
    env_name = "coqui"
    engine = Path(__file__).with_name("engine.py")

    def engine_options(self) -> dict:
        return {**super().engine_options(), "system": self.name}


@register_generator
class XTTSv2(_Coqui):
    name = "xtts-v2"
    description = "XTTS v2 (coqui-tts): zero-shot voice cloning from the voice profile"
    needs = frozenset({"text", "voice_profile"})
    weights = ("xtts-v2",)
    options = {"language": Option("en", "language of the text"), **WORKER_OPTIONS}


@register_generator
class YourTTS(_Coqui):
    name = "yourtts"
    description = "YourTTS (coqui-tts VITS): zero-shot voice cloning from the voice profile"
    needs = frozenset({"text", "voice_profile"})
    weights = ("yourtts",)
    options = {"language": Option("en", "language of the text", choices=("en", "fr-fr", "pt-br")),
               **WORKER_OPTIONS}


@register_generator
class GlowTTS(_Coqui):
    name = "glowtts"
    description = "GlowTTS (LJSpeech) + Multiband-MelGAN: single speaker, cannot clone"
    needs = frozenset({"text"})
    weights = ("glowtts-ljspeech", "multiband-melgan-ljspeech")
    options = dict(WORKER_OPTIONS)
