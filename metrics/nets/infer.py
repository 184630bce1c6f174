"""Prepare a 2-D conv net for fast inference (the FAD VGGish path)."""

from __future__ import annotations

import warnings

import torch
from torch import nn


def for_inference(model: nn.Module, example: torch.Tensor, device: str) -> nn.Module:
    """A 2-D conv net ready for inference on `device`, channels-last.

    On CPU it is also traced, frozen and passed through `torch.jit.optimize_for_inference`, which
    keeps oneDNN layouts between layers and fuses conv+ReLU (VGGish: 1.4x over eager channels-last,
    same outputs to float32 rounding). The trace does not depend on the batch size.
    """
    model = model.eval().to(device, memory_format=torch.channels_last)
    if device != "cpu":
        return model
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated, not removed (torch 2.13)
        x = example.to(memory_format=torch.channels_last)
        return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
