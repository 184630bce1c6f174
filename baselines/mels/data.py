"""A preprocessed `Sample` as `MELS` tensors: the model's inputs (voice profile, text, source
image, face and lip masks from FaceMesh landmarks) and its targets (frames, log-mel).

Everything is derived from the suite's preprocessed files, so the model trains and is scored on
exactly what every other system receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
from torch import Tensor

from baselines.mels.config import MelsConfig
from baselines.mels.model import Inputs
from bench.audio import load_audio
from bench.errors import BadInputError
from bench.sample import Sample
from bench.video import read_frames


@dataclass
class Example:
    """Inputs plus the targets a training step or a held-out score compares against."""

    inputs: Inputs
    frames: Tensor  # [F, 3, S, S] in [-1, 1]
    mel: Tensor  # [1, T, n_mels]
    sample_id: str


@lru_cache(maxsize=4)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)).float()


def log_mel(wav: np.ndarray, cfg: MelsConfig) -> Tensor:
    """Natural-log mel magnitudes [1, T, n_mels] (T = len / hop + 1), floor 1e-5."""
    x = torch.from_numpy(np.asarray(wav, np.float32))
    spec = torch.stft(x, cfg.n_fft, cfg.hop, window=torch.hann_window(cfg.n_fft),
                      return_complex=True).abs()
    mel = _mel_basis(cfg.sample_rate, cfg.n_fft, cfg.n_mels) @ spec
    return mel.clamp_min(1e-5).log().T[None]


def text_tokens(text: str, n: int) -> Tensor:
    """UTF-8 byte ids + 1, padded with 0 to n (longer texts are cut: stated in the README)."""
    ids = [b + 1 for b in text.encode("utf-8")][:n]
    return torch.tensor([ids + [0] * (n - len(ids))], dtype=torch.long)


def _to_tensor(rgb: np.ndarray, size: int) -> Tensor:
    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(small).permute(2, 0, 1).float() / 127.5 - 1


def face_masks(rgb: np.ndarray, size: int, where: str) -> Tensor:
    """Face-oval and lip masks [2, size, size] from FaceMesh landmarks of the source image."""
    from metrics.nets.facemesh import MeshProtocol, require_mediapipe, run_pass

    proto = MeshProtocol(refine=False)
    require_mediapipe(proto.weights)  # names the install command when mediapipe is absent
    import mediapipe as mp
    lm = run_pass([rgb], proto)[0]
    if np.isnan(lm).any():
        raise BadInputError(f"{where}: no face found by FaceMesh (mels needs the face and lip "
                            "masks of the source image)")
    out = np.zeros((2, size, size), np.float32)
    mesh = mp.solutions.face_mesh
    for k, edges in enumerate((mesh.FACEMESH_FACE_OVAL, mesh.FACEMESH_LIPS)):
        idx = sorted({i for e in edges for i in e})
        pts = np.round(lm[idx, :2] * size).astype(np.int32)
        plane = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(plane, cv2.convexHull(pts), 1)
        out[k] = plane
    return torch.from_numpy(out)


def inputs_of(sample: Sample, cfg: MelsConfig) -> Inputs:
    """What the model gets at inference: no ground-truth video or audio, only its length."""
    if not sample.text:
        raise BadInputError(f"{sample.raw.get('video', sample.id)}: no transcript; mels needs text")
    bgr = cv2.imread(sample.source_image, cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadInputError(f"{sample.source_image}: unreadable source image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    profile = load_audio(sample.voice_profile, cfg.sample_rate)
    if len(profile) < cfg.n_fft:
        raise BadInputError(f"{sample.voice_profile}: voice profile of {len(profile)} samples is "
                            f"too short (mels needs at least {cfg.n_fft})")
    frames = min(sample.num_frames, int(cfg.max_seconds * sample.fps))
    return Inputs(torch.from_numpy(profile)[None], log_mel(profile, cfg),
                  text_tokens(sample.text, cfg.text_tokens), _to_tensor(rgb, cfg.image_size)[None],
                  face_masks(rgb, cfg.image_size, sample.source_image)[None], frames, sample.fps)


def example_of(sample: Sample, cfg: MelsConfig) -> Example:
    """Inputs and targets of a training or held-out sample."""
    x = inputs_of(sample, cfg)
    frames = read_frames(sample.video, sample.fps, x.frames / sample.fps)[: x.frames]
    if len(frames) < x.frames:
        raise BadInputError(f"{sample.video}: {len(frames)} frames decoded, {x.frames} expected")
    video = torch.stack([_to_tensor(f, cfg.image_size) for f in frames])
    wav = load_audio(sample.audio, cfg.sample_rate)
    mel = log_mel(wav, cfg)
    t = int(round(x.frames / x.fps * cfg.sample_rate / cfg.hop))
    if mel.shape[1] < t:
        pad = mel.new_full((1, t - mel.shape[1], cfg.n_mels), float(np.log(1e-5)))
        mel = torch.cat([mel, pad], 1)
    return Example(x, video, mel[:, :t], sample.id)
