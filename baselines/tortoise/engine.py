"""Inside the `tortoise` environment: Tortoise through the official package's
`tortoise.api.TextToSpeech.tts_with_preset`, as `tortoise/do_tts.py` calls it (voice samples
from the voice profile at 22.05 kHz, one candidate). See bench/serve.py for the protocol.

Random weights (--random-weights): the four networks `TextToSpeech.__init__` loads, built with
the exact constructor arguments of `tortoise/api.py` 3.0.0, with seeded random parameters,
saved under the official names (`autoregressive.pth`, `diffusion_decoder.pth`, `clvp2.pth`,
`vocoder.pth` holding `{"model_g": ...}`) and loaded by `TextToSpeech(models_dir=...)` itself.
Redaction is off: it needs a wav2vec2 download and only affects [bracketed] text.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.engine_api import EngineError, seed_all, write_wav

FILES = ("autoregressive.pth", "diffusion_decoder.pth", "clvp2.pth", "vocoder.pth")
REVISION = "0" * 40  # the snapshot name in the cache layout (no download ever happens)


def _snapshot(models_dir: Path) -> Path:
    """tortoise's `get_model_path` always asks `hf_hub_download(repo_id="Manmay/tortoise-tts",
    cache_dir=models_dir)`: the files go where the Hugging Face cache keeps a download, and the
    hub runs offline (HF_HUB_OFFLINE), so it reads them from there."""
    repo = models_dir / "models--Manmay--tortoise-tts"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    snap = repo / "snapshots" / REVISION
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def _random_models(d: Path) -> None:
    import torch
    from tortoise.models.autoregressive import UnifiedVoice
    from tortoise.models.clvp import CLVP
    from tortoise.models.diffusion_decoder import DiffusionTts
    from tortoise.models.vocoder import UnivNetGenerator

    ar = UnifiedVoice(max_mel_tokens=604, max_text_tokens=402, max_conditioning_inputs=2,
                      layers=30, model_dim=1024, heads=16, number_text_tokens=255,
                      start_text_token=255, checkpointing=False, train_solo_embeddings=False)
    torch.save(ar.state_dict(), d / "autoregressive.pth")
    diff = DiffusionTts(model_channels=1024, num_layers=10, in_channels=100, out_channels=200,
                        in_latent_channels=1024, in_tokens=8193, dropout=0, use_fp16=False,
                        num_heads=16, layer_drop=0, unconditioned_percentage=0)
    torch.save(diff.state_dict(), d / "diffusion_decoder.pth")
    clvp = CLVP(dim_text=768, dim_speech=768, dim_latent=768, num_text_tokens=256,
                text_enc_depth=20, text_seq_len=350, text_heads=12, num_speech_tokens=8192,
                speech_enc_depth=20, speech_heads=12, speech_seq_len=430, use_xformers=True)
    torch.save(clvp.state_dict(), d / "clvp2.pth")
    torch.save({"model_g": UnivNetGenerator().state_dict()}, d / "vocoder.pth")


class Engine:
    def __init__(self, config: dict):
        os.environ["HF_HUB_OFFLINE"] = "1"
        from tortoise.api import TextToSpeech

        opts = config["options"]
        if config["random_weights"]:
            d = Path(config["cache_dir"]) / f"seed-{config['seed']}"
            if not (d / "complete").is_file():
                shutil.rmtree(d, ignore_errors=True)
                seed_all(config["seed"])
                _random_models(_snapshot(d))
                (d / "complete").touch()
        else:
            d = Path(config["cache_dir"]) / "layout"  # links to the verified files
            snap = _snapshot(d)
            for path in config["weights"].values():
                link = snap / Path(path).name
                if not link.exists():
                    os.symlink(path, link)
        missing = [f for f in FILES if not (_snapshot(d) / f).is_file()]
        if missing:
            raise EngineError(f"{d}: missing {', '.join(missing)}")
        self.preset, self.max_mel_tokens = opts["preset"], opts["max_mel_tokens"]
        # as do_tts.py: kv_cache on, half precision where there is a GPU
        gpu = config["device"].startswith("cuda")
        self.tts = TextToSpeech(models_dir=str(d), enable_redaction=False, kv_cache=True,
                                half=gpu, autoregressive_batch_size=opts["batch"],
                                device=config["device"])
        self.info = {"models_dir": str(d), "preset": self.preset}

    def generate(self, sample: dict, out_dir: str) -> dict:
        from tortoise.utils.audio import load_audio

        voice = [load_audio(sample["voice_profile"], 22050)]
        # k=1: the candidate CLVP ranks best (do_tts.py writes its best 3)
        gen = self.tts.tts_with_preset(sample["text"], preset=self.preset, k=1,
                                       voice_samples=voice, max_mel_tokens=self.max_mel_tokens)
        wav = gen.squeeze().cpu().numpy()
        path = write_wav(os.path.join(out_dir, "audio.wav"), wav, 24000)
        return {"audio": path, "meta": {"sample_rate": 24000, "preset": self.preset}}


def load(config: dict) -> Engine:
    return Engine(config)
