"""`shuffled`: ground-truth video with another sample's audio, a negative control for sync metrics.

The pairing is a fixed derangement over the whole split (sorted ids, each sample takes the audio
of the next one, cyclically), so it does not depend on sharding, order or seed. The borrowed audio
is cut or zero-padded to this sample's duration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.atomic import link_or_copy
from bench.audio import load_audio, write_wav
from bench.errors import BenchError, GeneratorError
from bench.generators import GenContext, Generated, Generator, register_generator
from bench.sample import Sample


def donor_id(sample_id: str, sample_ids: tuple[str, ...]) -> str:
    """The id of the sample whose audio `sample_id` borrows."""
    ids = sorted(sample_ids)
    if len(ids) < 2:
        raise GeneratorError(f"{sample_id}: 'shuffled' needs at least two samples in the split")
    return ids[(ids.index(sample_id) + 1) % len(ids)]


@register_generator
class ShuffledAudio(Generator):
    name = "shuffled"
    description = "ground-truth video + the next sample's audio (mismatched-sync control)"
    produces = frozenset({"video", "audio"})
    needs = frozenset({"gt_video", "gt_audio"})

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        other_id = donor_id(sample.id, ctx.sample_ids)
        try:
            other = ctx.load(other_id)
        except BenchError as exc:
            raise GeneratorError(f"{sample.id}: the audio donor {other_id} is unusable ({exc})") from exc
        sound = load_audio(other.audio, sample.sample_rate)
        n = int(round(sample.duration * sample.sample_rate))
        sound = np.pad(sound[:n], (0, max(0, n - len(sound))))
        video = workdir / f"video{Path(sample.video).suffix}"
        link_or_copy(sample.video, video)
        write_wav(workdir / "audio.wav", sound, sample.sample_rate)
        return Generated(video, workdir / "audio.wav", {"audio_from": other_id})
