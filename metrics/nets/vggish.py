"""VGGish (Hershey et al. 2017) in plain torch, with its log-mel front end (PROTOCOLS.md §5).

The layer names match harritaylor/torchvggish, so its released state dict
(`vggish-10086976.pth`) loads as is. The front end reproduces torchvggish's numpy
`vggish_input.waveform_to_examples` for 16 kHz input: 25 ms periodic-Hann frames with a 10 ms hop
(no padding), |rfft| with 512 points, a 64-band HTK mel matrix from 125 to 7500 Hz whose DC row is
zero, log(mel + 0.01), then non-overlapping 96-frame examples (0.96 s), a trailing partial example
dropped. It runs in float64 (as numpy does) on the whole signal at once; the network sees float32.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

RATE = 16_000
WINDOW, HOP, NFFT = 400, 160, 512
BANDS, EXAMPLE = 64, 96
MEL_LO, MEL_HI, LOG_OFFSET = 125.0, 7500.0, 0.01
DIM = 128


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)


def mel_matrix() -> np.ndarray:
    """[257, 64] HTK triangular weights, DC row zeroed (torchvggish's spectrogram_to_mel_matrix)."""
    bins_mel = _hz_to_mel(np.linspace(0.0, RATE / 2, NFFT // 2 + 1))
    edges = np.linspace(_hz_to_mel(MEL_LO), _hz_to_mel(MEL_HI), BANDS + 2)
    lower = (bins_mel[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    upper = (edges[None, 2:] - bins_mel[:, None]) / (edges[2:] - edges[1:-1])
    m = np.maximum(0.0, np.minimum(lower, upper))
    m[0, :] = 0.0
    return m


_WINDOW = torch.from_numpy(0.5 - 0.5 * np.cos(2 * math.pi / WINDOW * np.arange(WINDOW)))
_MEL = torch.from_numpy(mel_matrix())


def log_mel(x: np.ndarray) -> torch.Tensor:
    """float64 [frames, 64] log-mel spectrogram of a 16 kHz mono signal."""
    t = torch.from_numpy(np.asarray(x, dtype=np.float64))
    if t.numel() < WINDOW:
        return torch.zeros(0, BANDS, dtype=torch.float64)
    frames = t.unfold(0, WINDOW, HOP) * _WINDOW
    return torch.log(torch.fft.rfft(frames, NFFT).abs() @ _MEL + LOG_OFFSET)


def examples(x: np.ndarray) -> torch.Tensor:
    """float32 [n, 1, 96, 64] network inputs: every complete 0.96 s example of the signal."""
    mel = log_mel(x)
    n = mel.shape[0] // EXAMPLE
    return mel[: n * EXAMPLE].reshape(n, 1, EXAMPLE, BANDS).float()


class VGGish(nn.Module):
    """The VGGish convolution stack and embedding MLP; `pre_relu` drops the last ReLU (the FAD
    package's default `use_activation=False`). No PCA/quantisation (its `use_pca=False`)."""

    def __init__(self, pre_relu: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True),
                                 nn.Linear(4096, DIM), nn.ReLU(True)]
        self.embeddings = nn.Sequential(*head)
        self.pre_relu = pre_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[n, 1, 96, 64] log-mel examples → [n, 128] embeddings."""
        x = self.features(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF's NHWC flattening order
        x = self.embeddings[:-1](x)  # up to the last Linear
        return x if self.pre_relu else torch.relu(x)
