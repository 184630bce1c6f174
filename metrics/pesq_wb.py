"""PESQ, wideband (ITU-T P.862.2), with the `pesq` package (the ITU reference C code).

Protocol `pesq@itu-p862.2/wb/16k`: ground truth as reference, generated speech as degraded, both
16 kHz mono; PESQ does its own time alignment, so no truncation is needed, but it only makes sense
for generated speech that follows the ground truth closely (resynthesis, vocoders, voice
conversion of the same utterance). Signals without detectable speech are per-sample errors.
"""

from __future__ import annotations

import numpy as np
from pesq import PesqError, pesq

from bench.errors import BadInputError
from metrics.base import Pair, PerSampleMetric, register_metric

RATE = 16_000


@register_metric
class PESQWideband(PerSampleMetric):
    id = "pesq@itu-p862.2/wb/16k"
    default = True
    parallel = True
    needs = frozenset({"gen_audio", "gt_audio"})
    higher_is_better = True
    description = "wideband PESQ (P.862.2 MOS-LQO, 1.04-4.64) of the generated speech against the ground truth"

    def compute(self, pair: Pair) -> float:
        ref, deg = pair.gt.audio_at(RATE), pair.gen.audio_at(RATE)
        for name, x in (("ground-truth", ref), ("generated", deg)):
            if not np.any(x):
                raise BadInputError(None, f"{name} audio is silent: PESQ undefined")
        try:
            return float(pesq(RATE, ref.astype(np.float32), deg.astype(np.float32), "wb"))
        except (PesqError, ValueError) as exc:  # the C code also fails with ValueError on degenerate input
            raise BadInputError(None, f"PESQ undefined: {type(exc).__name__} ({exc})") from exc
