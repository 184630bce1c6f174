"""The metric interface and registry.

A metric declares its stable `id` (protocol in the name: changing the protocol means a new id),
what it needs, which direction is better and which registered weights it uses. Two kinds:
- per-sample: one value per (model, sample) pair, aggregated by the mean over scored samples;
- distributional: features per clip (cached by the runner), then one number from the generated
  set's features and the reference set's features (FID-like).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from bench import paths
from bench import weights as registry
from bench.clip import Clip
from bench.errors import BadInputError, ConfigError
from bench.sample import Sample

RANDOM_SEED = 0  # random weights (only with --random-weights) are drawn from this seed

NEEDS = frozenset({"gen_video", "gen_audio", "gt_video", "gt_audio", "text", "source_image", "voice_profile"})


@dataclass
class Pair:
    """What a metric sees for one (model, sample): the generated clip, the ground truth, the sample."""

    sample: Sample
    gen: Clip
    gt: Clip


@dataclass(frozen=True)
class Score:
    """A per-sample value with what went into it: frame coverage (how many of the offered frames
    were usable) and/or `extra` detail recorded with the sample (e.g. WER's error counts)."""

    value: float
    used: int | None = None
    offered: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """A shared job: `fn(*args)` (a module-level function: it is sent to worker processes)."""

    key: tuple[str, ...]
    fn: Callable[..., None]
    args: tuple[Any, ...]


class Metric(ABC):
    """Common declarations; see PerSampleMetric and DistributionalMetric."""

    id: ClassVar[str]
    kind: ClassVar[Literal["per_sample", "distributional"]]
    needs: ClassVar[frozenset[str]]
    higher_is_better: ClassVar[bool]
    description: ClassVar[str]
    weights: ClassVar[tuple[str, ...]] = ()  # names in the weights registry
    device: ClassVar[Literal["cpu", "gpu-able"]] = "cpu"
    randomisable: ClassVar[bool] = True  # False: real weights always (e.g. dlib models, not torch modules)

    def __init__(self, random_weights: bool = False) -> None:
        self.random_weights = random_weights  # only when the user asked (--random-weights)
        self.loaded_weights: dict[str, str] = {}  # registry name -> SHA-256 of what setup() loaded

    @property
    def calibrated(self) -> bool:
        """False when a network runs on random weights: its numbers are not comparable to anything."""
        return not (self.random_weights and self.weights and self.randomisable)

    def setup(self, device: str) -> None:
        """Load networks once (raise MissingWeightsError with the fix when weights are absent)."""

    def weights_file(self, name: str) -> Path | None:
        """The verified file for registry entry `name`, or None when this run asked for random weights.

        In the random case the torch RNG is seeded, so the network the caller builds next is the
        same on every run; the provenance records "RANDOM(seed 0)" instead of a hash.
        """
        if self.random_weights and self.randomisable:
            torch.manual_seed(RANDOM_SEED)
            self.loaded_weights[name] = f"RANDOM(seed {RANDOM_SEED})"
            return None
        path, digest = registry.require(name)
        self.loaded_weights[name] = digest
        return path

    def shipped_weights_file(self, name: str) -> Path:
        """`weights_file` for metrics that always run on real weights (randomisable = False)."""
        assert not self.randomisable, f"{self.id} can run on random weights: use weights_file"
        path = self.weights_file(name)
        assert path is not None
        return path


class PerSampleMetric(Metric):
    kind = "per_sample"
    # True for CPU-bound DSP without networks (MCD, STOI, ...): the runner scores such metrics in
    # worker processes (`--workers`), which rebuild the metric by id and receive the decoded audio.
    parallel: ClassVar[bool] = False
    # Score.extra fields summed over samples for a corpus-level value (WER: errors / reference words)
    totals: ClassVar[tuple[str, ...]] = ()

    def prepare(self, pair: Pair) -> Prepared | None:
        """A job that computes (and caches) what several metrics of this pair read, keyed by
        content, so that parallel workers run it once before scoring them (None: nothing shared)."""
        return None

    def corpus(self, totals: dict[str, float]) -> float | None:
        """A corpus-level value from the summed `totals` (None for metrics that have none)."""
        return None

    @abstractmethod
    def compute(self, pair: Pair) -> float | Score:
        """The metric's value for one pair (a Score when only part of the clip could be used);
        raise BadInputError for unusable inputs."""


@dataclass(frozen=True)
class FeatureSet:
    """The cached per-clip feature files of one side (a model's outputs or the ground truth).

    `key` is a content key (extractor, weights, clip contents) when the set is worth caching
    statistics for (the reference side), else None. Iterating loads one clip's rows at a time.
    """

    files: tuple[Path, ...]
    key: str | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        for f in self.files:
            yield np.load(f)

    def __len__(self) -> int:
        return len(self.files)

    def cache_path(self, what: str) -> Path | None:
        """Where statistics `what` of this set are cached (None for sets without a content key)."""
        return paths.home() / "stats" / f"{self.key}-{what}.npz" if self.key else None

    def stack(self) -> np.ndarray:
        """All rows in memory: only for metrics that need them (KID subsets), not Fréchet sums."""
        return np.concatenate(list(self))


class DistributionalMetric(Metric):
    kind = "distributional"
    extractor: ClassVar[str]  # feature protocol id: metrics with the same one share cached features
    modality: ClassVar[Literal["video", "audio"]] = "video"  # what the features are computed from

    @abstractmethod
    def features(self, clip: Clip) -> np.ndarray:
        """Feature rows [n, d] of one clip (the reference side uses the ground-truth clip)."""

    @abstractmethod
    def reduce(self, generated: FeatureSet, reference: FeatureSet) -> float:
        """One number from the two sets' features."""

    def resampled(self, generated: FeatureSet, reference: FeatureSet, counts: np.ndarray) -> np.ndarray:
        """The metric on each set-bootstrap draw: counts[b, i] copies of clip i on both sides (the
        sets are paired clip by clip). Fréchet metrics implement it (metrics.frechet.FrechetReduce);
        others have no CI (KID: one reduce is 300 kernel products, a hundred draws is too slow)."""
        raise BadInputError(None, f"{self.id}: no set-resampling bootstrap for this metric")

    def feature_key(self) -> str:
        """Extractor id plus the loaded weights: what the cached features depend on (after setup)."""
        return self.extractor + "|" + ",".join(f"{k}={v}" for k, v in sorted(self.loaded_weights.items()))


_REGISTRY: dict[str, type[Metric]] = {}


def register_metric(cls: type[Metric]) -> type[Metric]:
    """Class decorator: make a metric available by its id (and its family name, the part before '@')."""
    assert cls.needs <= NEEDS, cls
    _REGISTRY[cls.id] = cls
    return cls


def _load_builtin() -> None:
    from metrics import (browdyn, csim, diversity, dnsmos, f0, fad, fid,  # noqa: F401
                         fvd, fvmd, headdyn, idsim, kid, lipdyn, lipsync, lmd, lse, mcd, paired,
                         pesq_wb, silentlip, stoi, wer)


def get_metric(name: str, random_weights: bool = False) -> Metric:
    """A metric by full id, or by family name when the family has one default variant."""
    _load_builtin()
    if name in _REGISTRY:
        return _REGISTRY[name](random_weights)
    if name.startswith("wer@ct2:"):  # WER with a user's own CTranslate2 Whisper directory
        from metrics.wer import from_spec

        return from_spec(name, random_weights)
    from metrics import lse

    if (m := lse.from_spec(name, random_weights)) is not None:  # LSE with another minimum track length
        return m
    family = [m for m in _REGISTRY.values() if m.id.split("@")[0] == name and getattr(m, "default", False)]
    if len(family) == 1:
        return family[0](random_weights)
    raise ConfigError(f"unknown metric '{name}'; known: {', '.join(sorted(_REGISTRY))}")


def list_metrics() -> list[type[Metric]]:
    _load_builtin()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]
