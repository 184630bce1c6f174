"""The configuration of `mels` as data: `full` (the paper's dimensions) and `tiny` (the same
classes, small enough to train on a 2-core CPU), plus the ablation switches of the paper's
Tables 4-5 and supplement Table 2.

A switch changes what `MELS` computes (which modules exist and which inputs reach them), never
only a flag written into a file; tests/test_mels.py checks each one against the graph.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bench.errors import ConfigError

TE_CHOICES = ("ete", "ste", "none")  # explicit (two encoders), shared (one), no encoder
TOKEN_CHOICES = ("both", "visual", "audio")  # Table 5: which prompt-guided encoder is kept


@dataclass(frozen=True)
class MelsConfig:
    """Every number that shapes the model, its inputs and its training."""

    name: str = "tiny"
    # -- ablation switches (the label of a trained variant is made of them) --
    te: str = "ete"
    dc: bool = True  # diffusion cross-attention between the audio and video branches
    ec: bool = True  # embedding cross-attention from f_av into every denoising step
    tokens: str = "both"
    hifigan: bool = True  # f_a from the HiFi-GAN speaker encoder
    wav2vec: bool = True  # f_s from the wav2vec 2.0 encoder
    # -- the multi-entangled latent space (supplement Table 1 at width 512) --
    width: int = 64
    heads: int = 4
    # -- inputs --
    image_size: int = 64  # frames the model sees and generates (the VAE works at 1/8)
    latent_channels: int = 4
    visual_grid: int = 8  # f_i ⊕ f_fm ⊕ f_lm pooled to grid² visual tokens (paper: 56² = 3136)
    fa_tokens: int = 4  # speaker-encoder tokens (XTTS's HiFi-GAN speaker encoder: one d-vector)
    fs_tokens: int = 16  # wav2vec frames of the voice profile, pooled to this many
    text_tokens: int = 64  # text tokens, padded (XTTS: up to 402 BPE tokens)
    sample_rate: int = 16_000
    n_mels: int = 40
    n_fft: int = 1024
    hop: int = 320  # 50 spectrogram frames per second: two per video frame at 25 fps
    max_seconds: float = 5.0
    # -- frozen pretrained families (random and frozen in `tiny`) --
    speaker_channels: int = 32
    wav2vec_channels: int = 32
    vae_channels: int = 32
    vocoder_channels: int = 32
    # -- decoders --
    gpt_width: int = 64
    gpt_layers: int = 2
    gpt_heads: int = 4
    unet_channels: tuple[int, ...] = (32, 64)
    steps: int = 2  # denoising steps, unrolled in training (the loss is on decoded pixels)
    finetune_decoders: bool = True  # the paper fine-tunes the UNet and synthesiser
    # -- training (paper sec. 4.1: AdamW, weight decay 1e-2, StepLR 1000 / 0.5, batch 8) --
    lr: float = 3e-3
    weight_decay: float = 1e-2
    step_size: int = 1000
    gamma: float = 0.5
    batch_size: int = 8
    epochs: int = 10
    audio_weight: float = 0.1  # λ of the total loss λ·L_audio + L_video
    seed: int = 0

    def __post_init__(self) -> None:
        if self.te not in TE_CHOICES:
            raise ConfigError(f"mels: te={self.te!r}; choose one of {', '.join(TE_CHOICES)}")
        if self.tokens not in TOKEN_CHOICES:
            raise ConfigError(f"mels: tokens={self.tokens!r}; choose one of "
                              f"{', '.join(TOKEN_CHOICES)}")
        if self.te == "none" and self.tokens != "both":
            raise ConfigError("mels: tokens=visual|audio keeps one of the encoders; te=none has "
                              "none")
        if not (self.hifigan or self.wav2vec):
            raise ConfigError("mels: hifigan=false and wav2vec=false leave no audio-profile tokens")
        if self.steps < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("mels: steps, epochs and batch_size must be at least 1")
        if self.image_size % 8:
            raise ConfigError("mels: image_size must be a multiple of 8 (the VAE works at 1/8)")
        if self.sample_rate % (self.hop * 25):
            raise ConfigError("mels: sample_rate / hop must be a whole number of spectrogram "
                              "frames per 25 fps video frame")

    @property
    def variant(self) -> dict[str, Any]:
        """The ablation switches: what makes two trained models different rows of a table."""
        return {k: getattr(self, k) for k in VARIANT_KEYS}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unet_channels"] = list(self.unet_channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MelsConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"base"})
        if unknown:
            raise ConfigError(f"mels config: unknown keys {unknown} (known: {sorted(known)})")
        base_name = data.get("base", "tiny")
        if base_name not in PRESETS:
            raise ConfigError(f"mels config: base {base_name!r}; choose tiny or full")
        base = PRESETS[base_name]
        values = {k: v for k, v in data.items() if k != "base"}
        if "unet_channels" in values:
            values["unet_channels"] = tuple(values["unet_channels"])
        return replace(base, **values)


VARIANT_KEYS = ("te", "dc", "ec", "tokens", "hifigan", "wav2vec")

TINY = MelsConfig()


def variant_defaults() -> dict[str, str]:
    """The full model's switches as a label writes them (a variant's label shows the others)."""
    return {k: str(getattr(TINY, k)).lower() for k in VARIANT_KEYS}

# The paper's dimensions. Width 512 and 8 heads give supplement Table 1's 1,575,936 parameters per
# encoder; the visual stream has 56² = 3136 query tokens as there. The pretrained families are
# the ones the baselines load: XTTS v2 (GPT-2 width 1024, 30 layers, 16 heads; 80 mels; one
# 512-d speaker vector), Hallo's SD-1.5 UNet channels and VAE, wav2vec2-base (768-d frames at
# 50 Hz). Training follows sec. 4.1: learning rate 1e-4, weight decay 1e-2, StepLR(1000, 0.5),
# batch 8, 10 epochs, 40 denoising steps at inference as Hallo.
FULL = replace(
    TINY, name="full", width=512, heads=8, image_size=512, visual_grid=56, fa_tokens=1,
    fs_tokens=100, text_tokens=402, n_mels=80, hop=160, max_seconds=20.0,
    speaker_channels=512, wav2vec_channels=768, vae_channels=128, vocoder_channels=512,
    gpt_width=1024, gpt_layers=30, gpt_heads=16, unet_channels=(320, 640, 1280, 1280),
    steps=40, lr=1e-4)

PRESETS = {"tiny": TINY, "full": FULL}


def parse_value(key: str, text: str) -> Any:
    """A `key=value` override typed by the field it sets."""
    types = {f.name: f.type for f in fields(MelsConfig)}
    if key not in types:
        raise ConfigError(f"mels config: unknown key {key!r} (known: {', '.join(types)})")
    kind = types[key]
    if kind == "bool":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"mels config: {key} takes true or false, not {text!r}")
        return text.lower() in ("true", "1", "yes")
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind.startswith("tuple"):
            return tuple(int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigError(f"mels config: {key} takes a {kind}, not {text!r}") from None
    return text


def load_config(spec: str, overrides: dict[str, str] | None = None) -> MelsConfig:
    """`tiny`, `full`, or a JSON/YAML file of fields (with an optional `base: tiny|full`)."""
    if spec in PRESETS:
        cfg = PRESETS[spec]
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"mels config {spec!r}: not tiny, full or a readable file")
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a mels config is a mapping of fields")
        cfg = MelsConfig.from_dict(data)
    typed = {k: parse_value(k, v) for k, v in (overrides or {}).items()}
    return replace(cfg, **typed)
