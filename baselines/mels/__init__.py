"""`mels`: the paper's own generator ("Playing for You": Multi-Entangled Latent Space), trained
with `bench train mels` and run like every other system, so its rows share the output path and
the tables ("Our Model" in the report layout).

`mels:checkpoint=DIR` runs a trained checkpoint; its ablation switches (te, dc, ec, tokens,
hifigan, wav2vec) come from the checkpoint and are part of the label, so each variant is its own
row of Tables 4-5 / supplement Table 2. Giving a switch that differs from the checkpoint's is an
error: a switch changes the network, so it cannot be flipped at inference. With
--random-weights and no checkpoint, a freshly initialised model of `config=` runs.

Outputs are marked uncalibrated unless every pretrained part is the real one: `tiny` has random
frozen parts by design, and loading the real families into `full` is not implemented (see
`require_full`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baselines.mels.config import TE_CHOICES, TOKEN_CHOICES, variant_defaults
from bench.errors import ConfigError, GeneratorError, MissingWeightsError
from bench.generators import GenContext, Generated, Generator, Option, register_generator
from bench.sample import Sample

_SWITCH_HELP = {
    "te": "transformer encoders: ete (two), ste (one shared), none (Table 4)",
    "dc": "diffusion cross-attention between the audio and video branches (Table 4)",
    "ec": "embedding cross-attention from f_av in every denoising step (Table 4)",
    "tokens": "both encoders, or only the visual / audio one (Table 5)",
    "hifigan": "f_a from the HiFi-GAN speaker encoder (Table 5: No Hifi-GAN)",
    "wav2vec": "f_s from wav2vec 2.0 (Table 5: No Wav2Vec)",
}
_KINDS: dict[str, Any] = {"dc": bool, "ec": bool, "hifigan": bool, "wav2vec": bool}
_CHOICES = {"te": TE_CHOICES, "tokens": TOKEN_CHOICES}

# What `full` needs from the weights registry: the same families the baselines load.
PRETRAINED = {
    "xtts-v2": "GPT-2 spectrogram synthesiser, text embedding, HiFi-GAN vocoder and speaker "
               "encoder (XTTS v2 model.pth)",
    "hallo-sd15-unet": "denoising UNet (SD-1.5, as Hallo)",
    "hallo-motion-module": "temporal attention (AnimateDiff motion module, as Hallo)",
    "hallo-vae": "VAE encoder / decoder (sd-vae-ft-mse)",
    "hallo-wav2vec": "wav2vec 2.0 encoder (wav2vec2-base-960h)",
    "facemesh-landmarks": "face and lip masks from landmarks (MediaPipe FaceMesh)",
}


def require_full() -> None:
    """Refuse `full` for real: name each missing pretrained file; with all present, say that
    mapping them into these classes is not implemented (never run on random parts instead)."""
    from bench import weights

    missing = [f"{name} ({role}): {weights.path(name)}" for name, role in PRETRAINED.items()
               if not weights.status(name)[0].startswith("ok")]
    if missing:
        raise MissingWeightsError("mels full needs these pretrained files (bench weights list "
                                  "names their sources):\n  " + "\n  ".join(missing))
    raise MissingWeightsError("mels full: loading the official XTTS / SD-1.5 / wav2vec tensors "
                              "into the model's classes is not implemented yet; train `tiny`")


@register_generator
class Mels(Generator):
    name = "mels"
    description = "the paper's generator (multi-entangled latent space; bench train mels)"
    produces = frozenset({"video", "audio"})
    needs = frozenset({"text", "source_image", "voice_profile"})
    uses_weights = True
    options = {
        "checkpoint": Option(None, "directory written by `bench train mels --out DIR`", path=True),
        "config": Option("tiny", "with --random-weights and no checkpoint: the config to "
                         "initialise", choices=("tiny", "full")),
        **{k: Option(variant_defaults()[k], h, kind=_KINDS.get(k, str),
                     choices=_CHOICES.get(k, ())) for k, h in _SWITCH_HELP.items()},
    }

    def __init__(self, options: dict[str, str] | None = None):
        super().__init__(options)
        self._given = set(options or {})
        self._state: dict[str, Any] | None = None
        ckpt = self.opts.get("checkpoint")
        if ckpt:
            from baselines.mels.train import load_checkpoint

            self._state = load_checkpoint(Path(ckpt))
            trained = self._state["config"]
            for key in _SWITCH_HELP:
                if key in self._given and self.opts[key] != trained[key]:
                    raise ConfigError(f"mels: {key}={self.opts[key]} but {ckpt} was trained with "
                                      f"{key}={trained[key]}; train that variant with "
                                      f"`bench train mels --set {key}=...`")
                self.opts[key] = trained[key]
            self.opts["config"] = trained["name"] if trained["name"] in ("tiny", "full") else "tiny"
        self.model: Any = None
        self.cfg: Any = None

    @property
    def calibrated(self) -> bool:
        return False  # tiny's frozen parts are random; full cannot load the real ones yet

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        if self._state is not None:
            info["trained"] = {"step": self._state["step"], "meta": self._state.get("meta", {})}
        return info

    def setup(self, ctx: GenContext) -> None:
        from baselines.mels.config import MelsConfig, load_config
        from baselines.mels.model import build

        if self._state is None:
            if not ctx.random_weights:
                raise MissingWeightsError(
                    "mels needs checkpoint=DIR: train one with `bench train mels --config tiny "
                    "--dataset demo --out DIR`, or run on --random-weights (uncalibrated)")
            cfg = load_config(self.opts["config"], {k: str(self.opts[k]).lower()
                                                    for k in _SWITCH_HELP})
        else:
            cfg = MelsConfig.from_dict(self._state["config"])
        if cfg.name == "full":
            require_full()
        self.cfg = cfg
        self.model = build(cfg, ctx.device)
        if self._state is not None:
            self.model.load_state_dict(self._state["model"])
        self.model.eval()

    def teardown(self) -> None:
        self.model = None

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        import numpy as np
        import torch

        from baselines.mels.data import inputs_of
        from baselines.mels.train import noise_for, to_device
        from bench.audio import write_wav
        from bench.errors import BadInputError
        from bench.video import write_video

        try:
            x = inputs_of(sample, self.cfg)
        except BadInputError as exc:
            raise GeneratorError(str(exc)) from exc
        dev = torch.device(ctx.device)
        with torch.no_grad():
            noise = noise_for(self.model, x, ctx.seed, "run", sample.id)
            out, wav = self.model.generate(to_device(x, dev), noise.to(dev))
        frames = ((out.video.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
        video = workdir / "video.mkv"
        write_video(video, iter(frames.cpu().numpy()), sample.fps)
        audio = workdir / "audio.wav"
        write_wav(audio, wav.cpu().numpy().astype(np.float32), self.cfg.sample_rate)
        return Generated(video, audio, {
            "mels": {"config": self.cfg.name, **self.cfg.variant, "frames": x.frames,
                     "size": self.cfg.image_size, "steps": self.cfg.steps,
                     "length": "the ground-truth clip's frame count (oracle duration)",
                     "text_tokens": f"UTF-8 bytes, first {self.cfg.text_tokens}"}})
