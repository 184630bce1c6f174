"""ECAPA-TDNN over WavLM hidden states (UniSpeech's `ECAPA_TDNN_SMALL`, feat_type `wavlm_large`):
the speaker encoder of seed-tts-eval's SIM, in plain torch (PROTOCOLS.md §9).

Parameter names follow `downstreams/speaker_verification/models/ecapa_tdnn.py`, so the
`model` dict of `wavlm_large_finetune.pth` loads as is (`feature_extract.model.*` is the WavLM).
Pipeline: softmax-weighted sum of the 25 WavLM hidden states (+1e-6), InstanceNorm over time (no
affine), Conv1d-ReLU-BN (k5, 512), three SE-Res2Blocks (k3, dilation 2/3/4, scale 8, SE bottleneck
128), concatenation -> 1x1 conv to 1536 + ReLU, attentive statistics pooling (tanh attention,
128 channels), BatchNorm, linear to 256.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from metrics.nets.wavlm import WavLM, WavLMConfig


class Conv1dReluBn(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 1, padding: int = 0, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, padding=padding, dilation=dilation)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Res2Conv1dReluBn(nn.Module):
    """Res2Net split: each width-slice gets the previous slice's output added, conv -> ReLU -> BN;
    the last slice passes through."""

    def __init__(self, channels: int, kernel: int, padding: int, dilation: int, scale: int) -> None:
        super().__init__()
        self.width, self.nums = channels // scale, scale - 1
        self.convs = nn.ModuleList(nn.Conv1d(self.width, self.width, kernel, padding=padding, dilation=dilation)
                                   for _ in range(self.nums))
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(self.nums))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.width, 1)
        out, sp = [], None
        for i in range(self.nums):
            sp = parts[i] if sp is None else sp + parts[i]
            sp = self.bns[i](F.relu(self.convs[i](sp)))
            out.append(sp)
        return torch.cat([*out, parts[self.nums]], dim=1)


class SEConnect(nn.Module):
    def __init__(self, channels: int, bottleneck: int = 128) -> None:
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(channels, bottleneck), nn.Linear(bottleneck, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))[:, :, None]


class SERes2Block(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.Conv1dReluBn1 = Conv1dReluBn(channels, channels)
        self.Res2Conv1dReluBn = Res2Conv1dReluBn(channels, 3, dilation, dilation, scale=8)
        self.Conv1dReluBn2 = Conv1dReluBn(channels, channels)
        self.SE_Connect = SEConnect(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.Conv1dReluBn2(self.Res2Conv1dReluBn(self.Conv1dReluBn1(x)))
        return self.SE_Connect(y) + x


class AttentiveStatsPool(nn.Module):
    def __init__(self, dim: int, attention: int = 128) -> None:
        super().__init__()
        self.linear1 = nn.Conv1d(dim, attention, 1)
        self.linear2 = nn.Conv1d(attention, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.softmax(self.linear2(torch.tanh(self.linear1(x))), dim=2)
        mean = (alpha * x).sum(dim=2)
        std = torch.sqrt(((alpha * x * x).sum(dim=2) - mean * mean).clamp(min=1e-9))
        return torch.cat([mean, std], dim=1)


class ECAPAHead(nn.Module):
    """The ECAPA part: a list of hidden states (each [B, T, dim]) -> [B, emb_dim]."""

    def __init__(self, dim: int = 1024, n_states: int = 25, channels: int = 512, emb_dim: int = 256) -> None:
        super().__init__()
        self.feature_weight = nn.Parameter(torch.zeros(n_states))
        self.instance_norm = nn.InstanceNorm1d(dim)
        self.layer1 = Conv1dReluBn(dim, channels, kernel=5, padding=2)
        self.layer2, self.layer3, self.layer4 = (SERes2Block(channels, d) for d in (2, 3, 4))
        self.conv = nn.Conv1d(channels * 3, 1536, 1)
        self.pooling = AttentiveStatsPool(1536)
        self.bn = nn.BatchNorm1d(1536 * 2)
        self.linear = nn.Linear(1536 * 2, emb_dim)

    def head(self, states: list[torch.Tensor]) -> torch.Tensor:
        w = torch.softmax(self.feature_weight, dim=-1)[:, None, None, None]
        x = (w * torch.stack(states)).sum(dim=0).transpose(1, 2) + 1e-6
        out1 = self.layer1(self.instance_norm(x))
        out2 = self.layer2(out1)
        out3 = self.layer3(out2)
        out4 = self.layer4(out3)
        out = F.relu(self.conv(torch.cat([out2, out3, out4], dim=1)))
        return self.linear(self.bn(self.pooling(out)))


class _Upstream(nn.Module):
    """Holds the WavLM under `.model`, as s3prl's UpstreamExpert does (checkpoint key layout)."""

    def __init__(self, cfg: WavLMConfig) -> None:
        super().__init__()
        self.model = WavLM(cfg)


class WavLMECAPA(ECAPAHead):
    """Waveform (16 kHz) -> 256-d speaker embedding."""

    def __init__(self, cfg: WavLMConfig = WavLMConfig()) -> None:
        super().__init__(cfg.dim, cfg.layers + 1)
        self.feature_extract = _Upstream(cfg)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.head(self.feature_extract.model.hidden_states(wav))
