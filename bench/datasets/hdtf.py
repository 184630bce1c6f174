"""`hdtf`: the HDTF dataset (Zhang et al., CVPR 2021)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.datasets.base import GlobAdapter, register_dataset


@register_dataset
class HDTFDataset(GlobAdapter):
    name = "hdtf"
    obtain = ("https://github.com/MRzzm/HDTF: the repo lists YouTube ids and time intervals; download "
              "and cut the clips with its scripts (clips are named like WDA_BarackObama_000.mp4).")
    layout = """ROOT/**/<Source>_<Person>_<NNN>.mp4   one clip per file (e.g. WRA_KellyAyotte_000.mp4)
ROOT/**/<same name>.txt                 optional transcript; else --asr is used
Sample id = file stem; speaker = stem without the trailing _NNN."""

    def include(self, rel: Path) -> bool:
        return rel.suffix.lower() == ".mp4"

    def item_id(self, rel: Path) -> str:
        return rel.stem

    def speaker(self, rel: Path) -> str | None:
        return re.sub(r"_\d+$", "", rel.stem)
