"""WavLM (Chen et al. 2022) in plain torch, inference only: the speaker-similarity front end of
seed-tts-eval's SIM (WavLM-Large + ECAPA-TDNN, PROTOCOLS.md §9).

Parameter names follow s3prl's `upstream/wavlm/WavLM.py` (the model the UniSpeech speaker-
verification checkpoint wraps as `feature_extract.model`), so those state dicts load as they are.
What runs: the 7-layer conv feature extractor (layer norm in every block for `layer_norm` mode,
one group norm in the first block for `default`), layer norm, projection to the model width, a
weight-normalised grouped positional convolution, and pre- or post-norm transformer layers with
WavLM's gated relative position bias (bucketed, computed once in layer 0 and gated per layer).
`hidden_states` returns what s3prl's expert hooks collect: the input of every transformer layer,
then the encoder's output (25 tensors for WavLM-Large). No masking, dropout or padding: one
utterance at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class WavLMConfig:
    """WavLM-Large by default (the s3prl `wavlm_large` checkpoint's configuration)."""

    layers: int = 24
    dim: int = 1024
    ffn: int = 4096
    heads: int = 16
    extractor_mode: str = "layer_norm"
    conv_bias: bool = False
    layer_norm_first: bool = True
    normalize: bool = True  # the waveform is layer-normalised first (s3prl's expert does it)
    conv_pos: int = 128
    conv_pos_groups: int = 16
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True


CONV_LAYERS = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


class _Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


def _conv_block(cin: int, cout: int, k: int, stride: int, norm: str, bias: bool) -> nn.Sequential:
    """(conv, dropout slot, norm, GELU): the index layout of fairseq/s3prl's blocks."""
    conv = nn.Conv1d(cin, cout, k, stride=stride, bias=bias)
    if norm == "layer":
        return nn.Sequential(conv, nn.Identity(), nn.Sequential(_Transpose(), nn.LayerNorm(cout), _Transpose()),
                             nn.GELU())
    if norm == "group":
        return nn.Sequential(conv, nn.Identity(), nn.GroupNorm(cout, cout), nn.GELU())
    return nn.Sequential(conv, nn.Identity(), nn.GELU())


class FeatureExtractor(nn.Module):
    def __init__(self, cfg: WavLMConfig) -> None:
        super().__init__()
        blocks, cin = [], 1
        for i, (cout, k, stride) in enumerate(CONV_LAYERS):
            norm = "layer" if cfg.extractor_mode == "layer_norm" else ("group" if i == 0 else "none")
            blocks.append(_conv_block(cin, cout, k, stride, norm, cfg.conv_bias))
            cin = cout
        self.conv_layers = nn.ModuleList(blocks)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = wav[:, None]
        for block in self.conv_layers:
            x = block(x)
        return x  # [B, 512, T]


class WeightNormConv(nn.Module):
    """Conv1d with weight normalisation over dim 2 (`nn.utils.weight_norm(conv, dim=2)`'s parameters)."""

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.randn(dim, dim // groups, kernel) * 0.02)
        self.bias = nn.Parameter(torch.zeros(dim))
        self.groups, self.padding = groups, kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch._weight_norm(self.weight_v, self.weight_g, 2)
        return F.conv1d(x, w, self.bias, padding=self.padding, groups=self.groups)


class PosConv(nn.Module):
    """pos_conv = Sequential(weight-normed conv, SamePad (drops the last step for even kernels), GELU)."""

    def __init__(self, cfg: WavLMConfig) -> None:
        super().__init__()
        self.add_module("0", WeightNormConv(cfg.dim, cfg.conv_pos, cfg.conv_pos_groups))
        self.remove = 1 if cfg.conv_pos % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, "0")(x)
        return F.gelu(x[:, :, : x.shape[2] - self.remove])


class SelfAttention(nn.Module):
    def __init__(self, cfg: WavLMConfig, has_bias_table: bool) -> None:
        super().__init__()
        d = cfg.dim
        self.heads, self.head_dim = cfg.heads, d // cfg.heads
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.num_buckets, self.max_distance = cfg.num_buckets, cfg.max_distance
        if has_bias_table:
            self.relative_attention_bias = nn.Embedding(cfg.num_buckets, cfg.heads)
        self.gru_rel_pos = cfg.gru_rel_pos
        if cfg.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, cfg.heads, 1, 1))

    def _buckets(self, rel: torch.Tensor) -> torch.Tensor:
        """T5-style bidirectional buckets: exact below a quarter of the buckets, log-spaced above."""
        half = self.num_buckets // 2
        out = (rel > 0).long() * half
        rel = rel.abs()
        exact = half // 2
        large = exact + (torch.log(rel.clamp(min=1).float() / exact) / math.log(self.max_distance / exact)
                         * (half - exact)).long()
        large = torch.clamp(large, max=half - 1)
        return out + torch.where(rel < exact, rel, large)

    def position_bias(self, t: int) -> torch.Tensor:
        """[H, T, T] relative position bias (only layer 0 holds the table)."""
        pos = torch.arange(t)
        buckets = self._buckets(pos[None, :] - pos[:, None]).to(self.relative_attention_bias.weight.device)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x [B, T, D] (already layer-normed when pre-norm); bias [H, T, T], gated per query here."""
        b, t, _ = x.shape
        split = (b, t, self.heads, self.head_dim)
        q = self.q_proj(x).view(split).transpose(1, 2) * self.head_dim ** -0.5
        k = self.k_proj(x).view(split).transpose(1, 2)
        v = self.v_proj(x).view(split).transpose(1, 2)
        if self.gru_rel_pos:
            g = torch.sigmoid(self.grep_linear(x.view(split).transpose(1, 2)).view(b, self.heads, t, 2, 4).sum(-1))
            gate_a, gate_b = g.chunk(2, dim=-1)
            bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias
        attn = torch.softmax(q @ k.transpose(-2, -1) + bias, dim=-1)
        return self.out_proj((attn @ v).transpose(1, 2).reshape(b, t, -1))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: WavLMConfig, has_bias_table: bool) -> None:
        super().__init__()
        self.self_attn = SelfAttention(cfg, has_bias_table)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.dim)
        self.fc1, self.fc2 = nn.Linear(cfg.dim, cfg.ffn), nn.Linear(cfg.ffn, cfg.dim)
        self.final_layer_norm = nn.LayerNorm(cfg.dim)
        self.pre_norm = cfg.layer_norm_first

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.self_attn(self.self_attn_layer_norm(x), bias)
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x + self.self_attn(x, bias))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class Encoder(nn.Module):
    def __init__(self, cfg: WavLMConfig) -> None:
        super().__init__()
        self.pos_conv = PosConv(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg, i == 0) for i in range(cfg.layers))
        self.layer_norm = nn.LayerNorm(cfg.dim)
        self.pre_norm = cfg.layer_norm_first

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        if not self.pre_norm:
            x = self.layer_norm(x)
        bias = self.layers[0].self_attn.position_bias(x.shape[1])[None]
        states = []
        for layer in self.layers:
            states.append(x)
            x = layer(x, bias)
        states.append(self.layer_norm(x) if self.pre_norm else x)
        return states


class WavLM(nn.Module):
    def __init__(self, cfg: WavLMConfig = WavLMConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.feature_extractor = FeatureExtractor(cfg)
        self.layer_norm = nn.LayerNorm(CONV_LAYERS[-1][0])
        self.post_extract_proj = nn.Linear(CONV_LAYERS[-1][0], cfg.dim)
        self.mask_emb = nn.Parameter(torch.zeros(cfg.dim))  # pre-training only; kept so checkpoints load strictly
        self.encoder = Encoder(cfg)

    def hidden_states(self, wav: torch.Tensor) -> list[torch.Tensor]:
        """[B, samples] 16 kHz -> the input of every layer and the encoder output, each [B, T, D]."""
        if self.cfg.normalize:
            wav = F.layer_norm(wav, wav.shape[-1:])
        x = self.layer_norm(self.feature_extractor(wav).transpose(1, 2))
        return self.encoder(self.post_extract_proj(x))
