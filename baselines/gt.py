"""`gt`: ground-truth passthrough, the paper's "Groundtruth" row and the upper-bound control."""

from __future__ import annotations

from pathlib import Path

from bench.atomic import link_or_copy
from bench.generators import GenContext, Generated, Generator, register_generator
from bench.sample import Sample


@register_generator
class GroundTruth(Generator):
    name = "gt"
    description = "ground truth video and audio, unchanged (upper bound)"
    produces = frozenset({"video", "audio"})
    needs = frozenset({"gt_video", "gt_audio"})

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        video = workdir / f"video{Path(sample.video).suffix}"
        link_or_copy(sample.video, video)
        link_or_copy(sample.audio, workdir / "audio.wav")
        return Generated(video, workdir / "audio.wav")
