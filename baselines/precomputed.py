"""`precomputed:DIR`: evaluate outputs made elsewhere (another machine, a model not wrapped yet).

DIR holds, per sample id, `<id>.<mp4|mkv|avi|mov|webm>` and/or `<id>.wav` (or `<id>/video.*`,
`<id>/audio.wav`). A video's own audio track is used when there is no separate WAV. The row is
`precomputed:<DIR's name>@<hash of its absolute path>`, so two directories never share a row.
"""

from __future__ import annotations

from pathlib import Path

from bench.atomic import link_or_copy
from bench.errors import ConfigError, GeneratorError
from bench.generators import GenContext, Generated, Generator, Option, register_generator
from bench.sample import Sample

_VIDEO = (".mp4", ".mkv", ".avi", ".mov", ".webm")


def _find(root: Path, sample_id: str) -> tuple[Path | None, Path | None]:
    for base in (root / sample_id, root / sample_id / "video"):
        video = next((base.with_suffix(s) for s in _VIDEO if base.with_suffix(s).is_file()), None)
        if video:
            break
    audio = next((p for p in (root / f"{sample_id}.wav", root / sample_id / "audio.wav") if p.is_file()), None)
    return video, audio


@register_generator
class Precomputed(Generator):
    name = "precomputed"
    description = "outputs already on disk: precomputed:DIR with <sample id>.mp4 and/or <sample id>.wav"
    produces = frozenset({"video", "audio"})
    needs = frozenset()
    options = {"dir": Option(None, "the directory holding the outputs", path=True)}
    positional = "dir"

    def __init__(self, options: dict[str, str] | None = None):
        super().__init__(options)
        if not self.opts.get("dir"):
            raise ConfigError("precomputed needs a directory: --models precomputed:/path/to/outputs")
        self.root = Path(self.opts["dir"])
        if not self.root.is_dir():
            raise ConfigError(f"precomputed:{self.root}: not a directory")

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        video, audio = _find(self.root, sample.id)
        if video is None and audio is None:
            raise GeneratorError(f"{self.root}: no output for sample '{sample.id}' (expected {sample.id}.mp4 or .wav)")
        out_video = workdir / f"video{video.suffix}" if video else None
        if video:
            link_or_copy(video, out_video)
        out_audio = None
        if audio:
            out_audio = workdir / "audio.wav"
            link_or_copy(audio, out_audio)
        return Generated(out_video, out_audio, {"source": str(video or audio)})
