"""Test-only plugins: a distributional metric, a metric whose weights are missing, and a
generator that needs text. They exercise the runner paths that the built-ins do not."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.atomic import link_or_copy
from bench.clip import Clip
from bench.errors import MissingWeightsError
from bench.generators import GenContext, Generated, Generator, Option, register_generator
from bench.sample import Sample
from bench.worker import WORKER_OPTIONS, WorkerGenerator
from metrics.base import DistributionalMetric, FeatureSet, register_metric
from metrics.frechet import set_distance


@register_metric
class MeanColourFrechet(DistributionalMetric):
    """Fréchet distance between per-frame mean RGB colours: a tiny stand-in for FID's data flow."""

    id = "test-frechet@mean-rgb"
    extractor = "mean-rgb"
    needs = frozenset({"gen_video", "gt_video"})
    higher_is_better = False
    description = "test only"

    def features(self, clip: Clip) -> np.ndarray:
        return clip.frames.reshape(len(clip.frames), -1, 3).mean(1)

    def reduce(self, generated: FeatureSet, reference: FeatureSet) -> float:
        return set_distance(generated, reference, 3, 1, reference.cache_path("gauss-ddof1"))


@register_metric
class NeedsAbsentWeights(DistributionalMetric):
    id = "test-missing@weights"
    extractor = "absent-net"
    needs = frozenset({"gen_video"})
    higher_is_better = False
    description = "test only"
    weights = ("absent-net",)

    def setup(self, device: str) -> None:
        raise MissingWeightsError("absent-net.pth is not installed: fetch it from https://example.invalid/absent-net.pth "
                                  "and run `bench weights import absent-net FILE`")

    def features(self, clip: Clip) -> np.ndarray:
        raise AssertionError("never called when weights are missing")

    def reduce(self, generated: FeatureSet, reference: FeatureSet) -> float:
        raise AssertionError("never called when weights are missing")


@register_generator
class EchoText(Generator):
    name = "test-needs-text"
    description = "test only: copies GT audio, but declares that it needs the transcript"
    produces = frozenset({"audio"})
    needs = frozenset({"text", "gt_audio"})

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        link_or_copy(sample.audio, workdir / "audio.wav")
        return Generated(audio=workdir / "audio.wav")


@register_generator
class Faulty(WorkerGenerator):
    """A worker system that misbehaves per sample as its plan file says (tests/engines/faulty.py);
    it runs under bench's own interpreter, so the failure paths need no managed environment."""

    name = "test-faulty"
    description = "test only: crashes, hangs, writes nothing or bad files on purpose"
    produces = frozenset({"video", "audio"})
    needs = frozenset()
    env_name = "test-faulty"
    engine = Path(__file__).with_name("engines") / "faulty.py"
    options = {"plan": Option(None, "JSON: sample id -> behaviour", path=True),
               **WORKER_OPTIONS}

    def interpreter(self) -> Path:
        return Path(sys.executable)
