"""`static`: the source image frozen for the whole clip, with the ground-truth audio.

A lower bound for motion and lip-sync metrics: perfect identity, no movement at all.
"""

from __future__ import annotations

from itertools import repeat
from pathlib import Path

import cv2

from bench.atomic import link_or_copy
from bench.errors import GeneratorError
from bench.generators import GenContext, Generated, Generator, register_generator
from bench.sample import Sample
from bench.video import write_video


@register_generator
class StaticImage(Generator):
    name = "static"
    description = "source image repeated for every frame + ground-truth audio (no-motion control)"
    produces = frozenset({"video", "audio"})
    needs = frozenset({"source_image", "gt_audio"})

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        img = cv2.imread(sample.source_image, cv2.IMREAD_COLOR)
        if img is None:
            raise GeneratorError(f"{sample.source_image}: unreadable source image")
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        video = workdir / "video.mkv"
        write_video(video, repeat(rgb, sample.num_frames), sample.fps)
        link_or_copy(sample.audio, workdir / "audio.wav")
        return Generated(video, workdir / "audio.wav")
