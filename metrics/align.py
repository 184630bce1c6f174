"""Time alignment of generated speech to its ground truth, for paired metrics on unaligned signals.

Generated speech says the same text as the ground truth but not on the same timeline, so
frame-by-frame comparisons (STOI) need an alignment decision. This one is named in the metric ids
as `dtw-mfcc`: 13 MFCCs without c0 (loudness-free) from the VGGish log-mel front end (25 ms
frames, 10 ms hop, 64 bands 125-7500 Hz), a fastdtw path (radius 1, Euclidean - the DTW pymcd and
ESPnet use), then the generated signal is rebuilt on the ground truth's timeline by overlap-adding,
for every ground-truth frame, the 20 ms Hann-windowed generated segment its path points to (the
first match when a frame maps to several). The result has the ground truth's length.
"""

from __future__ import annotations

import numpy as np
from fastdtw import fastdtw
from scipy.fft import dct
from scipy.spatial.distance import euclidean

from metrics.nets.vggish import HOP, log_mel

N_MFCC = 13


def mfcc(x: np.ndarray) -> np.ndarray:
    """[frames, 12] MFCCs c1..c12 of a 16 kHz signal (10 ms hop)."""
    mel = log_mel(x).numpy()
    return dct(mel, type=2, norm="ortho", axis=1)[:, 1:N_MFCC]


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[(i, j), ...] fastdtw path between two feature sequences (radius 1, Euclidean)."""
    _, path = fastdtw(a, b, radius=1, dist=euclidean)
    return np.asarray(path, dtype=np.int64)


def align_to(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`other` warped onto `reference`'s timeline (both 16 kHz mono); same length as `reference`."""
    path = dtw_path(mfcc(reference), mfcc(other))
    first = np.full(int(path[:, 0].max()) + 1, -1, dtype=np.int64)
    for i, j in path[::-1]:  # reversed, so the first match of each reference frame wins
        first[i] = j
    # positions past the last analysis frame continue at the generated signal's own pace
    n_pos = len(reference) // HOP + 2
    tail = first[-1] + np.arange(1, n_pos - len(first) + 1)
    jmax = len(other) // HOP + 1
    first = np.minimum(np.concatenate([first, tail]), jmax)
    win = np.hanning(2 * HOP + 1)[:-1].astype(np.float32)  # periodic Hann: overlap-add with hop HOP sums to 1
    padded = np.pad(other.astype(np.float32), (HOP, 4 * HOP))
    out = np.zeros(n_pos * HOP + 2 * HOP, dtype=np.float32)
    for i, j in enumerate(first):
        out[i * HOP:i * HOP + 2 * HOP] += win * padded[j * HOP:j * HOP + 2 * HOP]
    return out[HOP:HOP + len(reference)]
