"""What the four talking-face baselines share on the bench side: the inputs each system's
authors ask for, prepared from the sample (the portrait cropped and sized, the driving audio as
a 16 kHz mono WAV), the weights layout `bench env check` reports, and the metadata every output
carries. The engine (inside the system's environment) runs the official entry point on these
files; the framework's output path normalises what it writes, as for every other system.

Video systems are driven by the sample's ground-truth audio (the paper's Table 1 setting) or,
in a cascade `speech+video`, by the speech system's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from bench import audio as audio_io
from bench.errors import GeneratorError
from bench.generators import GenContext, Generated, Option
from bench.sample import Sample
from bench.worker import WorkerGenerator

VIDEO_OPTIONS = {
    "seconds": Option(None, "drive with only the first N seconds of the audio (short runs, "
                      "tests; default: the whole clip)", float),
}


def square_crop(img: np.ndarray) -> np.ndarray:
    """The centred square of the shorter side: every system asks for a square portrait (the
    preprocessed one already is a square face crop, which this keeps whole)."""
    h, w = img.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return img[y:y + side, x:x + side]


class VideoSystem(WorkerGenerator):
    """A talking-face system run by its official code: image + audio in, video out.

    `image_size` is the square side the authors ask for (None: the portrait as it is, when the
    official code resizes itself); `image_ext` the format their loader accepts."""

    produces = frozenset({"video"})
    needs = frozenset({"source_image", "gt_audio"})
    image_size: ClassVar[int | None] = None
    image_ext: ClassVar[str] = "png"
    audio_rate: ClassVar[int] = 16000
    input_notes: ClassVar[str] = ""

    def inputs(self, sample: Sample, workdir: Path) -> dict[str, str]:
        d = workdir.resolve() / "inputs"
        d.mkdir(parents=True, exist_ok=True)
        img = cv2.imread(sample.source_image, cv2.IMREAD_COLOR)
        if img is None:
            raise GeneratorError(f"{sample.source_image}: the portrait cannot be read")
        img = square_crop(img)
        if self.image_size:
            img = cv2.resize(img, (self.image_size, self.image_size),
                             interpolation=cv2.INTER_AREA)
        image = d / f"source.{self.image_ext}"
        cv2.imwrite(str(image), img)
        x = audio_io.load_audio(sample.audio, self.audio_rate)
        if self.opts.get("seconds"):
            x = x[: int(round(self.opts["seconds"] * self.audio_rate))]
        if len(x) < self.audio_rate // 25:
            raise GeneratorError(f"{sample.audio}: less than one video frame of driving audio")
        wav = d / "audio.wav"
        audio_io.write_wav(wav, x, self.audio_rate)
        return {"image": str(image), "audio": str(wav)}

    def input_description(self) -> dict[str, Any]:
        side = f"{self.image_size}²" if self.image_size else "as preprocessed (the official "\
            "code resizes it)"
        return {"image": f"the sample's square face crop, {side}, {self.image_ext.upper()}",
                "audio": f"{self.audio_rate} Hz mono 16-bit WAV"
                         + (f", first {self.opts['seconds']:g} s" if self.opts.get("seconds")
                            else ""),
                "notes": self.input_notes}

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        got = super().generate(sample, ctx, workdir)
        # paths in the metadata relative to the output folder (workdir is renamed afterwards)
        meta = json.loads(json.dumps(got.meta).replace(str(workdir.resolve()), "<native>"))
        return Generated(got.video, None, {**meta, "inputs": self.input_description(),
                                           "options": self.engine_options()})
