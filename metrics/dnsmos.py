"""DNSMOS (Reddy et al. 2022): a reference-free speech quality estimate, from the ONNX models that
ship inside the `speechmos` package (registered, hash-pinned weights; they run offline).

Protocol `dnsmos-*@speechmos-p835/16k`: speechmos 0.0.1.1's DNSMOS P.835 (non-personalised) on the
generated speech alone at 16 kHz: 9.01 s windows hopped by 1 s (shorter audio is tiled until it
is 9.01 s long, as the package does), the SIG/BAK/OVRL polynomial mapping, the mean over
windows; P.808 MOS from the separate mel model. Samples outside [-1, 1] are clipped first (the
package refuses them). The four numbers come from one pass per clip.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

import numpy as np

from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import Pair, PerSampleMetric, register_metric

RATE = 16_000


class _DNSMOS(PerSampleMetric):
    needs = frozenset({"gen_audio"})
    higher_is_better = True
    weights = ("dnsmos-p835", "dnsmos-p808")
    randomisable = False  # ONNX graphs: the real models always
    field: ClassVar[str]
    _scores: ClassVar[OrderedDict[str, dict[str, float]]] = OrderedDict()  # audio key -> the four scores

    def setup(self, device: str) -> None:
        from speechmos.dnsmos import DNSMOS

        primary, p808 = (self.shipped_weights_file(n) for n in self.weights)
        self.model = DNSMOS(str(primary), str(p808))

    def scores(self, clip: Clip) -> dict[str, float]:
        key = clip.audio_key
        if key not in self._scores:
            x = np.clip(clip.audio_at(RATE), -1.0, 1.0)
            if not np.any(x):
                raise BadInputError(clip.audio_path, "audio is silent: DNSMOS undefined")
            got = self.model(x, RATE, False)
            self._scores[key] = {k: float(got[k]) for k in ("ovrl_mos", "sig_mos", "bak_mos", "p808_mos")}
            while len(self._scores) > 64:
                self._scores.popitem(last=False)
        return self._scores[key]

    def compute(self, pair: Pair) -> float:
        return self.scores(pair.gen)[self.field]


@register_metric
class DNSMOSOverall(_DNSMOS):
    id = "dnsmos-ovrl@speechmos-p835/16k"
    default = True
    field = "ovrl_mos"
    description = "DNSMOS P.835 overall quality (1-5) of the generated speech, reference-free"


@register_metric
class DNSMOSSignal(_DNSMOS):
    id = "dnsmos-sig@speechmos-p835/16k"
    default = True
    field = "sig_mos"
    description = "DNSMOS P.835 speech signal quality (1-5), reference-free"


@register_metric
class DNSMOSBackground(_DNSMOS):
    id = "dnsmos-bak@speechmos-p835/16k"
    default = True
    field = "bak_mos"
    description = "DNSMOS P.835 background noise quality (1-5), reference-free"


@register_metric
class DNSMOSP808(_DNSMOS):
    id = "dnsmos-p808@speechmos-p808/16k"
    default = True
    field = "p808_mos"
    description = "DNSMOS P.808 overall MOS (1-5), reference-free"
