"""The metric interface and registry.

A metric declares its stable `id` (protocol in the name: changing the protocol means a new id),
what it needs, which direction is better and which registered weights it uses. Two kinds:
- per-sample: one value per (model, sample) pair, aggregated by the mean over scored samples;
- distributional: features per clip (cached by the runner), then one number from the generated
  set's features and the reference set's features (FID-like).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from bench.clip import Clip
from bench.errors import ConfigError
from bench.sample import Sample

NEEDS = frozenset({"gen_video", "gen_audio", "gt_video", "gt_audio", "text", "source_image", "voice_profile"})


@dataclass
class Pair:
    """What a metric sees for one (model, sample): the generated clip, the ground truth, the sample."""

    sample: Sample
    gen: Clip
    gt: Clip


class Metric(ABC):
    """Common declarations; see PerSampleMetric and DistributionalMetric."""

    id: ClassVar[str]
    kind: ClassVar[Literal["per_sample", "distributional"]]
    needs: ClassVar[frozenset[str]]
    higher_is_better: ClassVar[bool]
    description: ClassVar[str]
    weights: ClassVar[tuple[str, ...]] = ()  # names in the weights registry
    device: ClassVar[Literal["cpu", "gpu-able"]] = "cpu"

    def __init__(self) -> None:
        self.loaded_weights: dict[str, str] = {}  # registry name -> SHA-256 of what setup() loaded

    def setup(self, device: str) -> None:
        """Load networks once (raise MissingWeightsError with the fix when weights are absent)."""


class PerSampleMetric(Metric):
    kind = "per_sample"

    @abstractmethod
    def compute(self, pair: Pair) -> float:
        """The metric's value for one pair; raise BadInputError for unusable inputs."""


class DistributionalMetric(Metric):
    kind = "distributional"

    @abstractmethod
    def features(self, clip: Clip) -> np.ndarray:
        """Feature rows [n, d] of one clip (the reference side uses the ground-truth clip)."""

    @abstractmethod
    def reduce(self, generated: np.ndarray, reference: np.ndarray) -> float:
        """One number from the stacked features of the two sets."""


_REGISTRY: dict[str, type[Metric]] = {}


def register_metric(cls: type[Metric]) -> type[Metric]:
    """Class decorator: make a metric available by its id (and its family name, the part before '@')."""
    assert cls.needs <= NEEDS, cls
    _REGISTRY[cls.id] = cls
    return cls


def _load_builtin() -> None:
    from metrics import mcd, stoi  # noqa: F401


def get_metric(name: str) -> Metric:
    """A metric by full id, or by family name when the family has one default variant."""
    _load_builtin()
    if name in _REGISTRY:
        return _REGISTRY[name]()
    family = [m for m in _REGISTRY.values() if m.id.split("@")[0] == name and getattr(m, "default", False)]
    if len(family) == 1:
        return family[0]()
    raise ConfigError(f"unknown metric '{name}'; known: {', '.join(sorted(_REGISTRY))}")


def list_metrics() -> list[type[Metric]]:
    _load_builtin()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]
