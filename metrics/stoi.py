"""STOI (Taal et al. 2011) with pystoi, the reference implementation.

Protocol `stoi@pystoi/16k/truncate`: ground truth and generated speech at 16 kHz mono (pystoi
resamples both to 10 kHz internally); generated speech is not time-aligned with the ground truth
and pystoi requires equal lengths, so both are truncated to the shorter one - what a paper that
reports plain STOI on generated speech must have done. (A DTW-aligned variant is issue #4.)
"""

from __future__ import annotations

import warnings

import numpy as np
from pystoi import stoi as pystoi_stoi

from bench.errors import BadInputError
from metrics.base import Pair, PerSampleMetric, register_metric

_MIN_SECONDS = 0.4  # pystoi needs 30 frames of 12.8 ms at 10 kHz after silence removal


def stoi_truncate(clean: np.ndarray, processed: np.ndarray, rate: int, extended: bool = False) -> float:
    """pystoi STOI of two signals truncated to the shorter length."""
    n = min(len(clean), len(processed))
    if n < _MIN_SECONDS * rate:
        raise BadInputError(None, f"audio too short for STOI: {n / rate:.2f} s < {_MIN_SECONDS} s")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # pystoi only warns (and returns 1e-5) when too short
        try:
            return float(pystoi_stoi(clean[:n], processed[:n], rate, extended=extended))
        except RuntimeWarning as exc:
            raise BadInputError(None, f"STOI undefined: {exc}") from exc


@register_metric
class STOI(PerSampleMetric):
    id = "stoi@pystoi/16k/truncate"
    default = True
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = True
    description = "short-time objective intelligibility vs ground truth (pystoi; truncated to the shorter signal)"

    def compute(self, pair: Pair) -> float:
        return stoi_truncate(pair.gt.audio, pair.gen.audio, pair.gt.sample_rate)
