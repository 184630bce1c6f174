"""Inside the `coqui` environment: XTTS v2, YourTTS and GlowTTS + Multiband-MelGAN through
coqui-tts's own inference class, `TTS.utils.synthesizer.Synthesizer` (what `tts` and
`TTS.api` use), on the official file layout (see bench/serve.py for the protocol).

Real weights: the files the registry verified (bench side), linked into a working layout whose
config.json has its file paths pointed at them by coqui's own `ModelManager._update_paths` (as
after a download). Random weights (--random-weights): each model is built from its
configuration with seeded random parameters and saved under the official file names and
checkpoint format (`{"model": state_dict}`), then loaded through the same path.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from bench.engine_api import EngineError, MissingWeights, seed_all, write_wav

XTTS_TEXT_TOKENS = 6681  # gpt_number_text_tokens of the released XTTS v2
SE_AUDIO = {"fft_size": 512, "win_length": 400, "hop_length": 160, "num_mels": 64,
            "sample_rate": 16000, "preemphasis": 0.97, "resample": False}


def _save(model: Any, path: Path) -> None:
    import torch

    torch.save({"model": model.state_dict()}, path)


def _random_glowtts(root: Path) -> dict[str, Path]:
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.models import setup_model
    from TTS.vocoder.configs import MultibandMelganConfig
    from TTS.vocoder.models import setup_model as setup_vocoder

    tts, voc = root / "tts_models--en--ljspeech--glow-tts", \
        root / "vocoder_models--en--ljspeech--multiband-melgan"
    tts.mkdir(parents=True)
    voc.mkdir(parents=True)
    # as the LJSpeech release: phonemes from espeak(-ng), 22.05 kHz, 80 mels
    cfg = GlowTTSConfig(use_phonemes=True, phonemizer="espeak", phoneme_language="en-us",
                        text_cleaner="phoneme_cleaners")
    cfg.audio.sample_rate = 22050
    cfg.save_json(str(tts / "config.json"))
    _save(setup_model(cfg), tts / "model_file.pth")
    vcfg = MultibandMelganConfig()
    vcfg.audio.sample_rate = 22050
    vcfg.save_json(str(voc / "config.json"))
    _save(setup_vocoder(vcfg), voc / "model_file.pth")
    return {"tts_checkpoint": tts / "model_file.pth", "tts_config_path": tts / "config.json",
            "vocoder_checkpoint": voc / "model_file.pth", "vocoder_config": voc / "config.json"}


def _random_yourtts(root: Path) -> dict[str, Path]:
    import torch
    from TTS.config import load_config
    from TTS.encoder.utils.generic_utils import setup_encoder_model
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    d = root / "tts_models--multilingual--multi-dataset--your_tts"
    d.mkdir(parents=True)
    # the speaker encoder (H/ASP ResNet on 64 mels, 512-d), as config_se.json / model_se.pth
    se = {"model": "speaker_encoder", "audio": SE_AUDIO,
          "model_params": {"model_name": "resnet", "input_dim": 64, "proj_dim": 512,
                           "use_torch_spec": True, "log_input": True}}
    (d / "config_se.json").write_text(json.dumps(se))
    _save(setup_encoder_model(load_config(str(d / "config_se.json"))), d / "model_se.pth")
    (d / "language_ids.json").write_text(json.dumps({"en": 0, "fr-fr": 1, "pt-br": 2}))
    gen = torch.Generator().manual_seed(0)
    speakers = {f"random_{i}": {"name": f"random_{i}",  # stored speakers (the release has many)
                                "embedding": torch.randn(512, generator=gen).tolist()}
                for i in range(4)}
    (d / "speakers.json").write_text(json.dumps(speakers))
    # the recipes/vctk/yourtts hyper-parameters: characters (no phonemes), 16 kHz, d-vectors
    args = VitsArgs(use_d_vector_file=True, d_vector_dim=512,
                    d_vector_file=[str(d / "speakers.json")], num_layers_text_encoder=10,
                    resblock_type_decoder="2",
                    use_language_embedding=True, embedded_language_dim=4,
                    language_ids_file=str(d / "language_ids.json"),
                    speaker_encoder_model_path=str(d / "model_se.pth"),
                    speaker_encoder_config_path=str(d / "config_se.json"))
    chars = CharactersConfig(characters_class="TTS.tts.models.vits.VitsCharacters", pad="_",
                             eos="&", bos="*", blank=None,
                             characters="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "\u00e0\u00e1\u00e2\u00e3\u00e7\u00e8\u00e9\u00ea\u00ed"
                                        "\u00f3\u00f4\u00f5\u00fa\u00fc",
                             punctuations="!'(),-.:;? ", phonemes=None)
    cfg = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="multilingual_cleaners",
                     characters=chars, add_blank=True,
                     audio=BaseAudioConfig(sample_rate=16000, fft_size=1024, win_length=1024,
                                           hop_length=256, num_mels=80, mel_fmin=0,
                                           mel_fmax=None))
    cfg.save_json(str(d / "config.json"))
    _save(Vits.init_from_config(load_config(str(d / "config.json"))), d / "model_file.pth")
    return {"tts_checkpoint": d / "model_file.pth", "tts_config_path": d / "config.json",
            "tts_speakers_file": d / "speakers.json", "encoder_checkpoint": d / "model_se.pth",
            "encoder_config": d / "config_se.json"}


def _xtts_vocab(path: Path) -> None:
    """A tokenizer in the format of XTTS's vocab.json (Hugging Face tokenizers, BPE, whitespace
    pre-tokenizer) with XTTS's special tokens and single characters only (the real vocabulary of
    6681 merges is part of the weights)."""
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Whitespace

    special = ["[STOP]", "[UNK]", "[SPACE]", "[en]", "[es]", "[fr]", "[de]", "[it]", "[pt]",
               "[pl]", "[tr]", "[ru]", "[nl]", "[cs]", "[ar]", "[zh-cn]", "[ja]", "[hu]", "[ko]",
               "[hi]", "[START]"]
    chars = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789'.,!?-:;\"()&"))
    tokens = special + chars
    tokens += [f"[unused{i}]" for i in range(XTTS_TEXT_TOKENS - len(tokens))]  # release's size
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.add_special_tokens(special)
    tok.save(str(path))


def _random_xtts(root: Path) -> dict[str, Path]:
    import torch
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    d = root / "tts_models--multilingual--multi-dataset--xtts_v2"
    d.mkdir(parents=True)
    _xtts_vocab(d / "vocab.json")
    cfg = XttsConfig()
    cfg.model_args.gpt_number_text_tokens = XTTS_TEXT_TOKENS
    # the released config.json's inference settings
    cfg.temperature, cfg.length_penalty, cfg.repetition_penalty = 0.75, 1.0, 5.0
    cfg.top_k, cfg.top_p = 50, 0.85
    cfg.save_json(str(d / "config.json"))
    model = Xtts.init_from_config(cfg)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(d / "vocab.json"))
    model.init_models()
    _save(model, d / "model.pth")
    gen = torch.Generator().manual_seed(0)  # one stored speaker, in the release's tensor shapes
    torch.save({"random_0": {
        "gpt_cond_latent": torch.randn(1, 32, cfg.model_args.gpt_n_model_channels, generator=gen),
        "speaker_embedding": torch.randn(1, 512, 1, generator=gen)}}, d / "speakers_xtts.pth")
    return {"tts_checkpoint": d, "tts_config_path": d / "config.json"}


RANDOM = {"glowtts": _random_glowtts, "yourtts": _random_yourtts, "xtts-v2": _random_xtts}
FILES = {  # registry name -> Synthesizer argument of the real weights (bench verified them)
    "glowtts": {"glowtts-ljspeech": "tts", "multiband-melgan-ljspeech": "vocoder"},
    "yourtts": {"yourtts": "tts"},
    "xtts-v2": {"xtts-v2": "xtts"},
}


def _link_layout(src: Path, dest: Path) -> Path:
    """`dest`: links to the files of the verified model directory and a copy of its config.json
    (so path rewriting never touches the verified files)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and not (dest / f.name).exists():
            if f.name == "config.json":
                shutil.copyfile(f, dest / f.name)
            else:
                os.symlink(f, dest / f.name)
    return dest


def _real_paths(system: str, weights: dict[str, str], cache: Path) -> dict[str, Path]:
    from TTS.utils.manage import ModelManager

    out: dict[str, Path] = {}
    for name, role in FILES[system].items():
        if name not in weights:
            raise MissingWeights(f"weights '{name}' were not passed to the engine")
        d = _link_layout(Path(weights[name]).parent, cache / "layout" / name)
        ModelManager._update_paths(ModelManager, d, d / "config.json")
        if role == "xtts":
            out.update(tts_checkpoint=d, tts_config_path=d / "config.json")
        elif role == "vocoder":
            out.update(vocoder_checkpoint=d / Path(weights[name]).name,
                       vocoder_config=d / "config.json")
        else:
            out.update(tts_checkpoint=d / Path(weights[name]).name,
                       tts_config_path=d / "config.json")
            for key, fname in (("tts_speakers_file", "speakers.json"),
                               ("encoder_checkpoint", "model_se.pth"),
                               ("encoder_config", "config_se.json")):
                if (d / fname).is_file():
                    out[key] = d / fname
    return out


def _read_audio_with_soundfile() -> None:
    """torchaudio.load goes through torchcodec, whose native library does not load beside the
    CPU torch of this environment (see the torchaudio-no-native fix-up): read files with
    soundfile instead, returning what torchaudio.load returns ((channels, samples), rate)."""
    import soundfile as sf
    import torch
    import torchaudio

    def load(path: Any, *args: Any, **kwargs: Any) -> tuple[Any, int]:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(x.T.copy()), rate

    torchaudio.load = load


class Engine:
    def __init__(self, config: dict):
        from TTS.utils.synthesizer import Synthesizer

        _read_audio_with_soundfile()

        opts = config["options"]
        self.system = opts["system"]
        self.language = opts.get("language")
        cache = Path(config["cache_dir"])
        if config["random_weights"]:
            root = cache / f"seed-{config['seed']}"
            done = root / "paths.json"  # written last: a half-built layout is rebuilt
            if not done.is_file():
                shutil.rmtree(root, ignore_errors=True)
                seed_all(config["seed"])
                built = RANDOM[self.system](root)
                done.write_text(json.dumps({k: str(v) for k, v in built.items()}))
            paths = json.loads(done.read_text())
        else:
            paths = _real_paths(self.system, config["weights"], cache)
        self.synth = Synthesizer(**{k: str(v) for k, v in paths.items()},
                                 use_cuda=config["device"].startswith("cuda"))
        self.rate = self.synth.output_sample_rate
        self.info = {"system": self.system, "sample_rate": self.rate,
                     "random_weights": config["random_weights"]}

    def generate(self, sample: dict, out_dir: str) -> dict:
        kwargs: dict[str, Any] = {"split_sentences": True}
        if self.system != "glowtts":  # GlowTTS (LJSpeech) is single-speaker: it cannot clone
            # no speaker name: the voice is cloned from the profile, never cached or reused
            kwargs.update(speaker_wav=sample["voice_profile"], speaker_name=None)
        if self.language:
            kwargs["language_name"] = self.language
        wav = self.synth.tts(sample["text"], **kwargs)
        if len(wav) == 0:
            raise EngineError("the model returned no samples")
        path = write_wav(os.path.join(out_dir, "audio.wav"), wav, self.rate)
        return {"audio": path, "meta": {"sample_rate": self.rate, **{
            k: v for k, v in kwargs.items() if k not in ("speaker_wav", "speaker_name")}}}


def load(config: dict) -> Engine:
    return Engine(config)
