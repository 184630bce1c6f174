"""SyncNet (Chung & Zisserman 2016), the `syncnet_v2.model` network of joonson/syncnet_python, in
plain torch with the same parameter names, so the official state dict loads as it is.

Two towers: a 3-D conv lip tower on 5 frames of 224×224 BGR floats 0–255 (no normalisation), and
a 2-D conv audio tower on 13 MFCCs × 20 steps (0.2 s); both end in a 1024-d embedding, not
L2-normalised. LSE-D/LSE-C compare these embeddings over ±15 frame offsets (metrics.lse).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def _conv_bn(conv: nn.Module, bn: nn.Module, inplace: bool = True) -> list[nn.Module]:
    return [conv, bn, nn.ReLU(inplace=inplace)]


def _audio_tower() -> nn.Sequential:
    """1×13×20 MFCC window -> 512×1×1 (layer indices match `netcnnaud.N` of the state dict)."""
    return nn.Sequential(
        *_conv_bn(nn.Conv2d(1, 64, 3, 1, 1), nn.BatchNorm2d(64)),
        nn.MaxPool2d(1, 1),
        *_conv_bn(nn.Conv2d(64, 192, 3, 1, 1), nn.BatchNorm2d(192)),
        nn.MaxPool2d(3, (1, 2)),
        *_conv_bn(nn.Conv2d(192, 384, 3, padding=1), nn.BatchNorm2d(384)),
        *_conv_bn(nn.Conv2d(384, 256, 3, padding=1), nn.BatchNorm2d(256)),
        *_conv_bn(nn.Conv2d(256, 256, 3, padding=1), nn.BatchNorm2d(256)),
        nn.MaxPool2d(3, 2),
        *_conv_bn(nn.Conv2d(256, 512, (5, 4)), nn.BatchNorm2d(512), inplace=False),
    )


def _lip_tower() -> nn.Sequential:
    """3×5×224×224 BGR frames -> 512×1×1×1 (layer indices match `netcnnlip.N`)."""
    return nn.Sequential(
        *_conv_bn(nn.Conv3d(3, 96, (5, 7, 7), (1, 2, 2)), nn.BatchNorm3d(96)),
        nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
        *_conv_bn(nn.Conv3d(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)), nn.BatchNorm3d(256)),
        nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        *_conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256)),
        *_conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256)),
        *_conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256)),
        nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
        *_conv_bn(nn.Conv3d(256, 512, (1, 6, 6)), nn.BatchNorm3d(512)),
    )


def _head() -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 1024))


class SyncNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.netcnnaud = _audio_tower()
        self.netfcaud = _head()
        self.netfclip = _head()
        self.netcnnlip = _lip_tower()

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """[N, 1, 13, 20] MFCC windows -> [N, 1024]."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, frames: torch.Tensor) -> torch.Tensor:
        """[N, 3, 5, 224, 224] BGR 0–255 -> [N, 1024]."""
        return self.netfclip(self.netcnnlip(frames).flatten(1))


def load_syncnet(state: Mapping[str, torch.Tensor] | None) -> SyncNet:
    """The network with the official state dict copied in (None: keep the caller-seeded random init).

    The 2016 checkpoint predates BatchNorm's `num_batches_tracked` buffers; any other missing or
    unexpected name means the file is not syncnet_v2.model and is refused.
    """
    net = SyncNet()
    if state is not None:
        missing, unexpected = net.load_state_dict(dict(state), strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"not a SyncNet state dict: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return net.eval()
