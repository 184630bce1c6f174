"""Mel-cepstral distortion with the pymcd 0.2.1 protocol, computed on decoded arrays.

pymcd's own entry point re-reads files with librosa; this reimplements its computation on the
arrays the runner already decoded (decode once) and is tested to give pymcd's numbers on the same
signals. Protocol facts (PROTOCOLS.md sec. 6), kept as pymcd has them:
- 22050 Hz; WORLD (DIO + StoneMask + CheapTrick) envelope with 5 ms frames, fft 512;
- SPTK mcep order 13 (c0..c13), alpha 0.65, itype 3 (pymcd's quirk: CheapTrick gives a power
  envelope, itype 3 declares amplitude - kept for comparability);
- the distance includes c0; the DTW path (fastdtw, radius 1, Euclidean) is computed on c1..c13;
- modes: plain (zero-pad the shorter waveform, frame i to frame i), dtw, dtw_sl (dtw times the
  length ratio of the mcep sequences).
Audio reaches it at the suite's 16 kHz and is resampled to 22050 Hz with a polyphase filter
(pymcd uses librosa's soxr), which the id states as `/16k`.

The corrected variant (`mcd@pymcd-corrected/itype4-noc0/...`) fixes both quirks and changes
nothing else: itype 4, SPTK's code for a power spectrum, which is what CheapTrick returns (with
itype 3 SPTK squares its input once more before the log, so pymcd analyses the squared envelope;
itype 4 on the envelope equals itype 3 on its square root, which the tests check), and c0 (frame
energy, which depends on recording gain) left out of the distance, as in most of the MCD
literature. Its values are not comparable with pymcd's.
"""

from __future__ import annotations

import math

import numpy as np
import pysptk
import pyworld

from bench.errors import BadInputError
from metrics.align import dtw_path
from metrics.base import Pair, PerSampleMetric, register_metric

RATE = 22050
FRAME_PERIOD_MS = 5.0
DB_CONST = 10.0 / math.log(10.0) * math.sqrt(2.0)


def mcep(x: np.ndarray, itype: int = 3, alpha: float = 0.65, fft_size: int = 512) -> np.ndarray:
    """pymcd's features: [frames, 14] mel-cepstra of a 22050 Hz signal (itype 3: pymcd's quirk)."""
    _, sp, _ = pyworld.wav2world(x.astype(np.double), fs=RATE, frame_period=FRAME_PERIOD_MS, fft_size=fft_size)
    return pysptk.sptk.mcep(sp, order=13, alpha=alpha, maxiter=0, etype=1, eps=1.0e-8, min_det=0.0, itype=itype)


def mcd(ref: np.ndarray, syn: np.ndarray, mode: str, corrected: bool = False) -> float:
    """MCD in dB between two 22050 Hz signals, pymcd semantics (or the corrected variant)."""
    if mode == "plain":
        n = max(len(ref), len(syn))
        ref, syn = np.pad(ref, (0, n - len(ref))), np.pad(syn, (0, n - len(syn)))
    itype = 4 if corrected else 3
    a, b = mcep(ref, itype), mcep(syn, itype)
    if mode == "plain":
        path = np.repeat(np.arange(len(a))[:, None], 2, axis=1)
    else:
        path = dtw_path(a[:, 1:], b[:, 1:])
    first = 1 if corrected else 0  # pymcd keeps c0 in the distance
    diff = a[path[:, 0], first:] - b[path[:, 1], first:]
    value = DB_CONST * np.sqrt((diff * diff).sum(-1)).sum() / len(path)
    if mode == "dtw_sl":
        value *= max(len(a), len(b)) / min(len(a), len(b))
    return float(value)


class _MCD(PerSampleMetric):
    mode: str
    corrected: bool = False
    parallel = True
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = False

    def compute(self, pair: Pair) -> float:
        ref, syn = pair.gt.audio_at(RATE), pair.gen.audio_at(RATE)
        for name, x in (("ground truth", ref), ("generated", syn)):
            if len(x) < RATE * FRAME_PERIOD_MS / 1000 * 4 or not np.any(x):
                raise BadInputError(None, f"{name} audio is empty or silent: MCD undefined")
        return mcd(ref, syn, self.mode, self.corrected)


@register_metric
class MCDDTW(_MCD):
    id = "mcd@pymcd/dtw/16k"
    default = True
    mode = "dtw"
    description = "mel-cepstral distortion, dB, pymcd 'dtw' mode (fastdtw path on c1..c13; c0 in the distance)"


@register_metric
class MCDPlain(_MCD):
    id = "mcd@pymcd/plain/16k"
    mode = "plain"
    description = "mel-cepstral distortion, dB, pymcd 'plain' mode (zero-padded, frame-to-frame)"


@register_metric
class MCDDTWSL(_MCD):
    id = "mcd@pymcd/dtw_sl/16k"
    mode = "dtw_sl"
    description = "mel-cepstral distortion, dB, pymcd 'dtw_sl' mode (dtw times the length ratio)"


@register_metric
class MCDCorrectedDTW(_MCD):
    id = "mcd@pymcd-corrected/itype4-noc0/dtw/16k"
    mode = "dtw"
    corrected = True
    description = "mel-cepstral distortion, dB, pymcd's dtw protocol with itype 4 (power envelope) and c0 excluded"


@register_metric
class MCDCorrectedPlain(_MCD):
    id = "mcd@pymcd-corrected/itype4-noc0/plain/16k"
    mode = "plain"
    corrected = True
    description = "mel-cepstral distortion, dB, pymcd's plain protocol with itype 4 and c0 excluded"
