"""STOI (Taal et al. 2011) and ESTOI (Jensen & Taal 2016) with pystoi, the reference
implementation (PROTOCOLS.md §7).

Both signals are the suite's 16 kHz mono audio; pystoi resamples them to 10 kHz itself. pystoi
needs equal lengths and generated speech is not time-aligned with the ground truth, so the
alignment is part of the id:
- `truncate` (the default; what a paper reporting plain STOI on generated speech must have done):
  both signals cut to the shorter one, sample i against sample i;
- `dtw-mfcc`: the generated signal warped onto the ground truth's timeline (metrics.align), then
  compared over the ground truth's full length. It measures intelligibility, not timing.
Silent generated speech scores about 0 (nothing intelligible); silent ground truth is a per-sample
error. ESTOI's eps-scale noise is drawn from a fixed seed, so values repeat to the bit.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from pystoi import stoi as pystoi_stoi

from bench.errors import BadInputError
from metrics.align import align_to
from metrics.base import Pair, PerSampleMetric, register_metric

_MIN_SECONDS = 0.4  # pystoi needs 30 frames of 12.8 ms at 10 kHz after silence removal


def stoi_truncate(clean: np.ndarray, processed: np.ndarray, rate: int, extended: bool = False) -> float:
    """pystoi (E)STOI of two signals truncated to the shorter length."""
    n = min(len(clean), len(processed))
    if n < _MIN_SECONDS * rate:
        raise BadInputError(None, f"audio too short for STOI: {n / rate:.2f} s < {_MIN_SECONDS} s")
    if not np.any(clean[:n]):
        raise BadInputError(None, "ground-truth audio is silent: STOI undefined")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # pystoi only warns (and returns 1e-5) when too short
        state = np.random.get_state()
        np.random.seed(0)  # ESTOI's normalisation adds eps-scale noise from numpy's global RNG: made repeatable
        try:
            return float(pystoi_stoi(clean[:n], processed[:n], rate, extended=extended))
        except RuntimeWarning as exc:
            raise BadInputError(None, f"STOI undefined: {exc}") from exc
        finally:
            np.random.set_state(state)


class _STOI(PerSampleMetric):
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = True
    parallel = True
    extended: ClassVar[bool] = False
    aligned: ClassVar[bool] = False

    def compute(self, pair: Pair) -> float:
        gt, gen = pair.gt.audio, pair.gen.audio
        if self.aligned:
            gen = align_to(gt, gen)
        return stoi_truncate(gt, gen, pair.gt.sample_rate, self.extended)


@register_metric
class STOI(_STOI):
    id = "stoi@pystoi/16k/truncate"
    default = True
    description = "short-time objective intelligibility vs ground truth (pystoi; truncated to the shorter signal)"


@register_metric
class STOIAligned(_STOI):
    id = "stoi@pystoi/16k/dtw-mfcc"
    aligned = True
    description = "STOI after warping the generated speech onto the ground truth's timeline (MFCC DTW)"


@register_metric
class ESTOI(_STOI):
    id = "estoi@pystoi/16k/truncate"
    default = True
    extended = True
    description = "extended STOI (pystoi extended=True; truncated to the shorter signal)"


@register_metric
class ESTOIAligned(_STOI):
    id = "estoi@pystoi/16k/dtw-mfcc"
    extended = True
    aligned = True
    description = "extended STOI after warping the generated speech onto the ground truth's timeline (MFCC DTW)"
