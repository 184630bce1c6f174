"""PANN Cnn14 at 16 kHz (Kong et al. 2020) in plain torch: the FAD package's optional embedding.

Layer names follow qiuqiangkong/audioset_tagging_cnn (as vendored in frechet-audio-distance's
`models/pann.py`), so the `model` dict of `Cnn14_16k_mAP=0.438.pth` loads as is; the fixed STFT and
mel matrices of its torchlibrosa front end are rebuilt here instead of loaded. Front end: 512-point
periodic-Hann STFT with a 160-sample hop, centred with reflect padding, power spectrum, 64 Slaney mel
bands from 50 to 8000 Hz (librosa's filters, as torchlibrosa uses), 10·log10(max(x, 1e-10)), no
top-dB clamp. Network: BatchNorm over mel bins, six conv blocks (3x3 conv-BN-ReLU twice, 2x2 average
pooling but the last), mean over frequency, max + mean over time, fc1 + ReLU: one 2048-d embedding
per input signal (what `FrechetAudioDistance.get_embeddings` takes as `out['embedding']`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RATE, NFFT, HOP, BANDS, FMIN, FMAX = 16_000, 512, 160, 64, 50.0, 8000.0
DIM = 2048


def mel_matrix() -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=RATE, n_fft=NFFT, n_mels=BANDS, fmin=FMIN, fmax=FMAX).T.copy())


def log_mel(x: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """[B, samples] -> [B, 1, frames, 64] log-mel power spectrogram (torchlibrosa's front end)."""
    window = torch.hann_window(NFFT, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, NFFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = spec.real**2 + spec.imag**2  # [B, freq, frames]
    return (10.0 * torch.log10(torch.clamp(power.transpose(1, 2) @ mel, min=1e-10)))[:, None]


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class Cnn14(nn.Module):
    """Cnn14_16k up to the 2048-d embedding (eval mode: no SpecAugment, mixup or dropout)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mel", mel_matrix(), persistent=False)
        self.bn0 = nn.BatchNorm2d(BANDS)
        widths = (1, 64, 128, 256, 512, 1024, 2048)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(2048, 2048)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, samples] float32 at 16 kHz -> [B, 2048]."""
        x = log_mel(wav, self.mel)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, 2 if i < 5 else 1)
        x = x.mean(dim=3)
        x = x.max(dim=2).values + x.mean(dim=2)
        return F.relu(self.fc1(x))


def load_checkpoint(net: Cnn14, state: dict[str, torch.Tensor]) -> None:
    """Load a PANN checkpoint's `model` dict: every network weight must be there; the front end's
    fixed matrices and the AudioSet classifier (`fc_audioset`) are not used."""
    skip = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith(skip)}, strict=True)


def embed(net: Cnn14, x: np.ndarray, device: str) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(np.asarray(x, dtype=np.float32))[None].to(device)).cpu().numpy()
