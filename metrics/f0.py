"""Log-F0 RMSE between generated and ground-truth speech (ESPnet's evaluate_f0.py; PROTOCOLS.md §9).

Protocol `f0rmse@espnet-harvest/16k/log/dtw-mcep`, as ESPnet's recipe at 16 kHz: samples scaled as
int16 (ESPnet reads int16), WORLD Harvest F0 with range 40-800 Hz and frame period n_shift/fs
(256 samples = 16 ms); CheapTrick (fft 1024) + `pysptk.sp2mc` mel-cepstra (order 23, alpha 0.42,
ESPnet's choice for 16 kHz) used only for the fastdtw path (all coefficients, Euclidean, radius 1);
RMSE of natural-log F0 over path frames voiced in both. One value per utterance; the suite's mean
over samples is ESPnet's "Average" (the std is in the per-sample records).
"""

from __future__ import annotations

import numpy as np
import pysptk
import pyworld

from bench.errors import BadInputError
from metrics.align import dtw_path
from metrics.base import Pair, PerSampleMetric, register_metric

RATE = 16_000
F0_MIN, F0_MAX = 40.0, 800.0
N_SHIFT, N_FFT = 256, 1024
MCEP_ORDER, MCEP_ALPHA = 23, 0.42


def world_f0_mcep(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F0 [frames], mel-cepstrum [frames, 24]) of a 16 kHz float signal, ESPnet's analysis."""
    x = np.round(np.clip(x, -1.0, 32767 / 32768) * 32768).astype(np.float64)  # int16 scale
    f0, t = pyworld.harvest(x, RATE, f0_floor=F0_MIN, f0_ceil=F0_MAX, frame_period=N_SHIFT / RATE * 1000)
    sp = pyworld.cheaptrick(x, f0, t, RATE, fft_size=N_FFT)
    return f0, pysptk.sp2mc(sp, MCEP_ORDER, MCEP_ALPHA)


def log_f0_rmse(ref: np.ndarray, gen: np.ndarray) -> float:
    f0_ref, mc_ref = world_f0_mcep(ref)
    f0_gen, mc_gen = world_f0_mcep(gen)
    path = dtw_path(mc_gen, mc_ref)
    g, r = f0_gen[path[:, 0]], f0_ref[path[:, 1]]
    voiced = (g > 0) & (r > 0)
    if not voiced.any():
        raise BadInputError(None, "no frame is voiced in both signals: log-F0 RMSE undefined")
    return float(np.sqrt(np.mean((np.log(g[voiced]) - np.log(r[voiced])) ** 2)))


@register_metric
class F0RMSE(PerSampleMetric):
    id = "f0rmse@espnet-harvest/16k/log/dtw-mcep"
    default = True
    parallel = True
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = False
    description = "RMSE of natural-log F0 (WORLD Harvest) on DTW-aligned frames voiced in both signals"

    def compute(self, pair: Pair) -> float:
        return log_f0_rmse(pair.gt.audio_at(RATE), pair.gen.audio_at(RATE))
