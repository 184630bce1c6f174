"""`MELS`, the paper's generator ("Playing for You", sec. 3; supplement Table 1) in plain torch.

Encoding: the voice profile gives f_a (HiFi-GAN speaker encoder) and f_s (wav2vec 2.0), the text
gives f_t, the source image gives its VAE latent f_i and face/lip masks f_fm, f_lm from facial
landmarks. The multi-entangled latent space is two cross-attention transformer encoders: audio
queries L(f_a ⊕ f_s) attend to L(f_t ⊕ f_i ⊕ f_lm ⊕ f_fm) (eq. 1); visual queries
L(f_i ⊕ f_fm ⊕ f_lm) attend to L(f_t ⊕ f_a ⊕ f_s) (eq. 2); their outputs together are f_av.
Decoding: a GPT-2-style spectrogram synthesiser whose prefix is f_av's audio part (f_a, f_s
"disentangled" by position) and the text, then a HiFi-GAN vocoder; a denoising UNet with
embedding cross-attention (EC) to f_av and diffusion cross-attention (DC) with the audio
branch, whose latents 4 x f x h x w the VAE decodes to frames.

Reading of the parameter count: the paper's 1,575,936 parameters are one encoder of Table 1 (the
main text calls it the total); the pretrained families (VAE, wav2vec, HiFi-GAN, XTTS's GPT-2,
SD-1.5 UNet) are frozen or fine-tuned on top of it. `parameter_report` lists every part.

DC without a cycle: the audio branch's prefix states (causal, so independent of the spectrogram
frames) are what the UNet attends to; the spectrogram positions attend to the UNet's bottleneck
tokens of the final denoising step. With DC off neither link exists, and the audio output does
not depend on any video activation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.mels.config import MelsConfig


class EntanglingEncoder(nn.Module):
    """Supplement Table 1: LayerNorm → MultiheadAttention → LayerNorm → Linear → LayerNorm →
    Linear, attention and linears without bias. At width 512: 1,575,936 parameters. The first
    LayerNorm normalises queries and keys/values alike; both sub-blocks are residual."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, bias=False, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width, bias=False)
        self.norm3 = nn.LayerNorm(width)
        self.fc2 = nn.Linear(width, width, bias=False)

    def forward(self, query: Tensor, context: Tensor,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        q, kv = self.norm1(query), self.norm1(context)
        attended, weights = self.attn(q, kv, kv, need_weights=need_weights)
        x = query + attended
        return x + self.fc2(F.gelu(self.norm3(self.fc1(self.norm2(x))))), weights


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Sinusoidal embeddings [*, dim] of real-valued positions (diffusion steps, seconds)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class CrossAttention(nn.Module):
    """Pre-norm residual cross-attention from tokens of width `dim` to a context of width `ctx`."""

    def __init__(self, dim: int, ctx: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, kdim=ctx, vdim=ctx, batch_first=True)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        return self.attn(self.norm(x), context, context, need_weights=False)[0]


# -- the frozen pretrained families (random in `tiny`) --------------------------------------------

class SpeakerEncoder(nn.Module):
    """The HiFi-GAN speaker encoder family (XTTS): a voice profile's spectrogram → f_a tokens."""

    def __init__(self, n_mels: int, channels: int, tokens: int):
        super().__init__()
        self.tokens = tokens
        self.net = nn.Sequential(
            nn.Conv1d(n_mels, channels, 3, padding=1), nn.SiLU(),
            nn.Conv1d(channels, channels, 3, padding=1, stride=2), nn.SiLU(),
            nn.Conv1d(channels, channels, 3, padding=1))

    def forward(self, mel: Tensor) -> Tensor:  # [B, T, n_mels] -> [B, tokens, channels]
        h = self.net(mel.transpose(1, 2))
        return F.adaptive_avg_pool1d(h, self.tokens).transpose(1, 2)


class Wav2VecEncoder(nn.Module):
    """wav2vec 2.0's convolutional feature encoder (stride 320: 50 frames per second at 16 kHz)."""

    KERNELS = (10, 3, 3, 3, 3, 2, 2)
    STRIDES = (5, 2, 2, 2, 2, 2, 2)

    def __init__(self, channels: int, tokens: int):
        super().__init__()
        self.tokens = tokens
        layers: list[nn.Module] = []
        for i, (k, s) in enumerate(zip(self.KERNELS, self.STRIDES)):
            layers += [nn.Conv1d(1 if i == 0 else channels, channels, k, stride=s), nn.GELU()]
        self.net = nn.Sequential(*layers)

    def forward(self, wav: Tensor) -> Tensor:  # [B, N] -> [B, tokens, channels]
        h = self.net(wav[:, None])
        return F.adaptive_avg_pool1d(h, self.tokens).transpose(1, 2)


class VAE(nn.Module):
    """An SD-style autoencoder at 1/8 resolution with SD's latent scaling factor."""

    SCALE = 0.18215

    def __init__(self, channels: int, latent: int):
        super().__init__()
        c = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.SiLU(),
            *[m for _ in range(3) for m in (nn.Conv2d(c, c, 4, stride=2, padding=1), nn.SiLU())],
            nn.Conv2d(c, 2 * latent, 1))
        self.decoder = nn.Sequential(
            nn.Conv2d(latent, c, 3, padding=1), nn.SiLU(),
            *[m for _ in range(3) for m in (nn.Upsample(scale_factor=2.0),
                                              nn.Conv2d(c, c, 3, padding=1), nn.SiLU())],
            nn.Conv2d(c, 3, 3, padding=1))

    def encode(self, image: Tensor) -> Tensor:  # [B, 3, H, W] in [-1, 1] -> scaled mean latent
        return self.encoder(image).chunk(2, dim=1)[0] * self.SCALE

    def decode(self, latent: Tensor) -> Tensor:
        return self.decoder(latent / self.SCALE)


class Vocoder(nn.Module):
    """HiFi-GAN generator family: log-mel [B, T, n_mels] → waveform [B, T * hop]."""

    def __init__(self, n_mels: int, channels: int, hop: int):
        super().__init__()
        factors = _factorise(hop)
        self.pre = nn.Conv1d(n_mels, channels, 7, padding=3)
        ups, res, c = [], [], channels
        for u in factors:
            ups.append(nn.ConvTranspose1d(c, max(c // 2, 8), u, stride=u))
            c = max(c // 2, 8)
            res.append(nn.ModuleList(nn.Conv1d(c, c, 3, padding=d, dilation=d) for d in (1, 3, 5)))
        self.ups, self.res = nn.ModuleList(ups), nn.ModuleList(res)
        self.post = nn.Conv1d(c, 1, 7, padding=3)

    def forward(self, mel: Tensor) -> Tensor:
        x = self.pre(mel.transpose(1, 2))
        for up, convs in zip(self.ups, self.res):
            x = up(F.leaky_relu(x, 0.1))
            for conv in convs:
                x = x + conv(F.leaky_relu(x, 0.1))
        return torch.tanh(self.post(F.leaky_relu(x, 0.1)))[:, 0]


def _factorise(hop: int) -> list[int]:
    """Upsampling factors whose product is the hop (largest first, as HiFi-GAN's 8-8-2-2)."""
    out, rest = [], hop
    for f in (8, 5, 4, 3, 2):
        while rest % f == 0 and rest > 1:
            out.append(f)
            rest //= f
    if rest != 1:
        raise ValueError(f"hop {hop} is not a product of 2, 3, 5")
    return out


# -- the decoders ------------------------------------------------------------------------------

class GPTBlock(nn.Module):
    """A GPT-2 block (causal self-attention, MLP) with an optional DC cross-attention to video
    tokens that only the spectrogram positions receive."""

    def __init__(self, width: int, heads: int, video_width: int | None):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.dc = CrossAttention(width, video_width, heads) if video_width else None
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width))

    def forward(self, x: Tensor, n_prefix: int, video: Tensor | None) -> Tensor:
        n = x.shape[1]
        causal = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
        h = self.norm1(x)
        x = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        if self.dc is not None and video is not None and n > n_prefix:
            mel = x[:, n_prefix:]
            x = torch.cat([x[:, :n_prefix], mel + self.dc(mel, video)], dim=1)
        return x + self.mlp(self.norm2(x))


class SpectrogramGPT(nn.Module):
    """XTTS's GPT-2 family: a decoder-only transformer generating spectrogram frames after a
    prefix of f_a / f_s tokens (from f_av) and text tokens."""

    def __init__(self, cfg: MelsConfig, video_width: int | None, max_positions: int):
        super().__init__()
        w = cfg.gpt_width
        self.prefix_in = nn.Linear(cfg.width, w)
        self.mel_in = nn.Linear(cfg.n_mels, w)
        self.positions = nn.Embedding(max_positions, w)
        self.blocks = nn.ModuleList(GPTBlock(w, cfg.gpt_heads, video_width)
                                    for _ in range(cfg.gpt_layers))
        self.norm = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.n_mels)

    def _embed(self, prefix: Tensor, mel_in: Tensor | None) -> Tensor:
        x = self.prefix_in(prefix)
        if mel_in is not None:
            x = torch.cat([x, self.mel_in(mel_in)], dim=1)
        pos = torch.arange(x.shape[1], device=x.device)
        return x + self.positions(pos)

    def prefix_states(self, prefix: Tensor) -> Tensor:
        """The prefix positions' final states: what the video branch's DC attends to (causal, so
        the same whatever spectrogram frames follow)."""
        x = self._embed(prefix, None)
        for block in self.blocks:
            x = block(x, x.shape[1], None)
        return self.norm(x)

    def forward(self, prefix: Tensor, mel_in: Tensor, video: Tensor | None) -> Tensor:
        """Teacher-forced next-frame prediction: [B, T, n_mels] for inputs [B, T, n_mels]."""
        x = self._embed(prefix, mel_in)
        for block in self.blocks:
            x = block(x, prefix.shape[1], video)
        return self.head(self.norm(x[:, prefix.shape[1]:]))

    @torch.no_grad()
    def generate(self, prefix: Tensor, frames: int, video: Tensor | None) -> Tensor:
        """Autoregressive generation of `frames` spectrogram frames."""
        mel = torch.zeros(prefix.shape[0], 1, self.head.out_features, device=prefix.device)
        for _ in range(frames):
            nxt = self.forward(prefix, mel, video)[:, -1:]
            mel = torch.cat([mel, nxt], dim=1)
        return mel[:, 1:]


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(min(8, cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.temb(t)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class VideoUNet(nn.Module):
    """Hallo's denoising UNet family at any width: per-frame ResBlocks, a reference latent
    concatenated to the input (the source identity), and at the bottleneck a temporal
    (motion-module) attention, EC to f_av and DC to the audio branch's prefix states."""

    def __init__(self, cfg: MelsConfig, dc_width: int | None):
        super().__init__()
        chans, lat = cfg.unet_channels, cfg.latent_channels
        self.temb_dim = 4 * chans[0]
        self.temb = nn.Sequential(nn.Linear(chans[0], self.temb_dim), nn.SiLU(),
                                  nn.Linear(self.temb_dim, self.temb_dim))
        self.inp = nn.Conv2d(2 * lat, chans[0], 3, padding=1)
        self.down = nn.ModuleList(ResBlock(c0, c1, self.temb_dim)
                                  for c0, c1 in zip((chans[0],) + chans[:-1], chans))
        self.pool = nn.AvgPool2d(2)
        mid, heads = chans[-1], max(1, chans[-1] // 32)
        self.mid1 = ResBlock(mid, mid, self.temb_dim)
        self.temporal = nn.MultiheadAttention(mid, heads, batch_first=True)
        self.temporal_norm = nn.LayerNorm(mid)
        self.ec = CrossAttention(mid, cfg.width, heads) if cfg.ec else None
        self.dc = CrossAttention(mid, dc_width, heads) if dc_width else None
        self.mid2 = ResBlock(mid, mid, self.temb_dim)
        self.up = nn.ModuleList(ResBlock(c1 + c1, c0, self.temb_dim)
                                for c0, c1 in zip((chans[0],) + chans[:-1], chans))
        self.out = nn.Conv2d(chans[0], lat, 3, padding=1)
        self.width = mid

    def forward(self, x: Tensor, ref: Tensor, step: Tensor, times: Tensor, f_av: Tensor,
                audio: Tensor | None) -> tuple[Tensor, Tensor]:
        """Noise prediction for latents x [F, lat, h, w] and the bottleneck tokens [1, F*hw, C]."""
        t = self.temb(sinusoid(step.expand(x.shape[0]), self.temb[0].in_features))
        h = self.inp(torch.cat([x, ref.expand_as(x)], dim=1))
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, t)
            skips.append(h)
            if i < len(self.down) - 1:
                h = self.pool(h)
        h = self.mid1(h, t)
        f, c, hh, ww = h.shape
        tokens = h.permute(2, 3, 0, 1).reshape(hh * ww, f, c) + sinusoid(times, c)[None]
        q = self.temporal_norm(tokens)
        tokens = tokens + self.temporal(q, q, q, need_weights=False)[0]
        tokens = tokens.permute(1, 0, 2).reshape(1, f * hh * ww, c)  # [1, F*hw, C], frame-major
        if self.ec is not None:
            tokens = tokens + self.ec(tokens, f_av)
        if self.dc is not None and audio is not None:
            tokens = tokens + self.dc(tokens, audio)
        h = tokens.reshape(f, hh * ww, c).transpose(1, 2).reshape(f, c, hh, ww)
        h = self.mid2(h, t)
        for i, block in reversed(list(enumerate(self.up))):
            if h.shape[-1] != skips[i].shape[-1]:
                h = F.interpolate(h, size=skips[i].shape[-2:], mode="nearest")
            h = block(torch.cat([h, skips[i]], dim=1), t)
        return self.out(h), tokens


# -- the whole model ---------------------------------------------------------------------------

@dataclass
class Inputs:
    """One sample's tensors (batch of one): what `MELS` encodes."""

    profile_wav: Tensor  # [1, N] voice profile, 16 kHz
    profile_mel: Tensor  # [1, T_ref, n_mels]
    text: Tensor  # [1, text_tokens] byte ids (0 = padding)
    source: Tensor  # [1, 3, S, S] in [-1, 1]
    masks: Tensor  # [1, 2, S, S] face mask, lip mask in {0, 1}
    frames: int  # video frames to generate (25 fps)
    fps: float = 25.0


@dataclass
class Output:
    video: Tensor  # [F, 3, S, S], unclamped decoder output (~[-1, 1])
    mel: Tensor  # [1, T, n_mels]


class MELS(nn.Module):
    """The generator. `train_parameters` are what the optimiser updates."""

    def __init__(self, cfg: MelsConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        # frozen pretrained families
        self.speaker = SpeakerEncoder(cfg.n_mels, cfg.speaker_channels, cfg.fa_tokens) \
            if cfg.hifigan else None
        self.wav2vec = Wav2VecEncoder(cfg.wav2vec_channels, cfg.fs_tokens) if cfg.wav2vec else None
        self.text_embedding = nn.Embedding(257, w)  # XTTS's text embedding family (bytes in tiny)
        self.vae = VAE(cfg.vae_channels, cfg.latent_channels)
        self.vocoder = Vocoder(cfg.n_mels, cfg.vocoder_channels, cfg.hop)
        # trainable: the L(·) projections and the multi-entangled latent space
        self.proj_fa = nn.Linear(cfg.speaker_channels, w) if cfg.hifigan else None
        self.proj_fs = nn.Linear(cfg.wav2vec_channels, w) if cfg.wav2vec else None
        self.proj_visual = nn.Linear(cfg.latent_channels + 2, w)
        # which stream has an encoder; with STE the one instance (enc_audio) serves both
        self._audio_encoder = cfg.te != "none" and cfg.tokens in ("both", "audio")
        self._visual_encoder = cfg.te != "none" and cfg.tokens in ("both", "visual")
        shared = cfg.te == "ste"
        self.enc_audio = EntanglingEncoder(w, cfg.heads) if self._audio_encoder or (
            shared and self._visual_encoder) else None
        self.enc_visual = EntanglingEncoder(w, cfg.heads) if (
            self._visual_encoder and not shared) else None
        # decoders (fine-tuned)
        self.unet = VideoUNet(cfg, cfg.gpt_width if cfg.dc else None)
        max_pos = cfg.fa_tokens + cfg.fs_tokens + cfg.text_tokens + 1 + int(
            cfg.max_seconds * cfg.sample_rate / cfg.hop) + 8
        self.gpt = SpectrogramGPT(cfg, self.unet.width if cfg.dc else None, max_pos)
        betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2  # SD's scaled-linear
        self.register_buffer("alphas", torch.cumprod(1 - betas, 0), persistent=False)

    def frozen_modules(self) -> list[nn.Module]:
        mods = [self.speaker, self.wav2vec, self.text_embedding, self.vae, self.vocoder]
        if not self.cfg.finetune_decoders:
            mods += [self.unet, self.gpt]
        return [m for m in mods if m is not None]

    def train_parameters(self) -> list[nn.Parameter]:
        frozen = {id(p) for m in self.frozen_modules() for p in m.parameters()}
        return [p for p in self.parameters() if id(p) not in frozen]

    def parameter_report(self) -> dict[str, int]:
        """Parameters per part (the paper's 1,575,936 is one `encoder`)."""
        parts = {"encoder_audio": self.enc_audio, "encoder_visual": self.enc_visual,
                 "projections": nn.ModuleList(m for m in (self.proj_fa, self.proj_fs,
                                                          self.proj_visual) if m is not None),
                 "speaker_encoder": self.speaker, "wav2vec": self.wav2vec,
                 "text_embedding": self.text_embedding, "vae": self.vae, "vocoder": self.vocoder,
                 "unet": self.unet, "gpt": self.gpt}
        out = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items() if m is not None}
        out["trainable"] = sum(p.numel() for p in self.train_parameters())
        return out

    # -- encoding and the entangled latent space --
    def entangle(self, x: Inputs) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(f_av, the audio stream's output z_a, the text tokens f_t, the source latent f_i)."""
        cfg = self.cfg
        profile = []
        if self.speaker is not None:
            profile.append(self.proj_fa(self.speaker(x.profile_mel)))
        if self.wav2vec is not None:
            profile.append(self.proj_fs(self.wav2vec(x.profile_wav)))
        audio_q = torch.cat(profile, dim=1)  # L(f_a ⊕ f_s)
        f_t = self.text_embedding(x.text)
        f_i = self.vae.encode(x.source)
        masks = F.adaptive_avg_pool2d(x.masks, f_i.shape[-2:])  # f_fm, f_lm at the latent grid
        fused = F.adaptive_avg_pool2d(torch.cat([f_i, masks], 1), cfg.visual_grid)
        visual_q = self.proj_visual(fused.flatten(2).transpose(1, 2))  # L(f_i ⊕ f_fm ⊕ f_lm)
        z_a = audio_q
        if self._audio_encoder:
            z_a = self.enc_audio(audio_q, torch.cat([f_t, visual_q], 1))[0]  # eq. 1
        z_v = visual_q
        if self._visual_encoder:
            enc = self.enc_audio if cfg.te == "ste" else self.enc_visual
            z_v = enc(visual_q, torch.cat([f_t, audio_q], 1))[0]  # eq. 2
        return torch.cat([z_a, z_v], 1), z_a, f_t, f_i

    def _prefix(self, z_a: Tensor, f_t: Tensor) -> Tensor:
        return torch.cat([z_a, f_t], 1)

    # -- decoding --
    def timesteps(self) -> list[int]:
        n = self.cfg.steps
        return [int(round(999 - i * 999 / n)) for i in range(n)]

    def denoise(self, noise: Tensor, f_i: Tensor, f_av: Tensor, audio: Tensor | None,
                fps: float) -> tuple[Tensor, Tensor]:
        """DDIM (eta 0) from noise [F, lat, h, w]: the clean latents and the final step's
        bottleneck tokens."""
        x, times = noise, torch.arange(noise.shape[0], device=noise.device) / fps
        steps = self.timesteps()
        tokens = noise.new_zeros(0)
        for i, t in enumerate(steps):
            a = self.alphas[t]
            a_prev = self.alphas[steps[i + 1]] if i + 1 < len(steps) else x.new_tensor(1.0)
            eps, tokens = self.unet(x, f_i, x.new_tensor(float(t)), times, f_av, audio)
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x, tokens

    def noise(self, x: Inputs, generator: torch.Generator) -> Tensor:
        s = self.cfg.image_size // 8
        return torch.randn(x.frames, self.cfg.latent_channels, s, s, generator=generator,
                           device="cpu").to(x.source.device)

    def mel_frames(self, video_frames: int, fps: float) -> int:
        return int(round(video_frames / fps * self.cfg.sample_rate / self.cfg.hop))

    def forward(self, x: Inputs, target_mel: Tensor, noise: Tensor) -> Output:
        """Training pass: video through the unrolled sampler, spectrogram teacher-forced."""
        f_av, z_a, f_t, f_i = self.entangle(x)
        prefix = self._prefix(z_a, f_t)
        audio_ctx = self.gpt.prefix_states(prefix) if self.cfg.dc else None
        latents, tokens = self.denoise(noise, f_i, f_av, audio_ctx, x.fps)
        mel_in = torch.cat([torch.zeros_like(target_mel[:, :1]), target_mel[:, :-1]], 1)
        mel = self.gpt(prefix, mel_in, tokens if self.cfg.dc else None)
        return Output(self.vae.decode(latents), mel)

    @torch.no_grad()
    def generate(self, x: Inputs, noise: Tensor) -> tuple[Output, Tensor]:
        """Inference: frames, the spectrogram (autoregressive) and the waveform [N]."""
        f_av, z_a, f_t, f_i = self.entangle(x)
        prefix = self._prefix(z_a, f_t)
        audio_ctx = self.gpt.prefix_states(prefix) if self.cfg.dc else None
        latents, tokens = self.denoise(noise, f_i, f_av, audio_ctx, x.fps)
        mel = self.gpt.generate(prefix, self.mel_frames(x.frames, x.fps),
                                tokens if self.cfg.dc else None)
        return Output(self.vae.decode(latents), mel), self.vocoder(mel)[0]


def build(cfg: MelsConfig, device: str = "cpu") -> MELS:
    """The model with its seeded initialisation (`device="meta"`: shapes only, no memory)."""
    if device == "meta":
        with torch.device("meta"):
            return MELS(cfg)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(cfg.seed)
    try:
        model = MELS(cfg)
    finally:
        torch.random.set_rng_state(gen_state)
    for module in model.frozen_modules():
        module.requires_grad_(False)
    return model.to(device)
