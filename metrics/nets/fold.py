"""Fold inference-mode BatchNorm into the preceding convolution (one pass instead of two).

y = γ·(Wx + b − μ)/√(σ²+ε) + β  ==  W'x + b'  with  W' = W·γ/√(σ²+ε),  b' = (b − μ)·γ/√(σ²+ε) + β.
Computed in float64 and stored back in the conv's dtype, so outputs match the unfolded network
to float32 rounding (the parity tests compare against the unfolded reference).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """In place: every module with `.conv` and `.bn` children gets a folded conv and an identity bn."""
    for mod in model.modules():
        conv, bn = getattr(mod, "conv", None), getattr(mod, "bn", None)
        if not isinstance(conv, (nn.Conv2d, nn.Conv3d)) or not isinstance(bn, nn.modules.batchnorm._BatchNorm):
            continue
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        w = conv.weight.double() * scale.reshape(-1, *([1] * (conv.weight.dim() - 1)))
        b = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
        folded = type(conv)(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                            conv.dilation, conv.groups, bias=True)
        folded.weight.copy_(w.to(conv.weight.dtype))
        folded.bias.copy_(((b - bn.running_mean.double()) * scale + bn.bias.double()).to(conv.weight.dtype))
        mod.conv, mod.bn = folded, nn.Identity()
    return model

