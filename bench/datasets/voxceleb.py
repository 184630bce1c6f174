"""`voxceleb`: VoxCeleb1 and VoxCeleb2 (Nagrani et al. 2017; Chung et al. 2018)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.datasets.base import GlobAdapter, register_dataset

_SPEAKER = re.compile(r"^id\d+$")


@register_dataset
class VoxCelebDataset(GlobAdapter):
    name = "voxceleb"
    obtain = ("https://www.robots.ox.ac.uk/~vgg/data/voxceleb/: request access; VoxCeleb2 ships mp4 "
              "(vox2_dev_mp4 / vox2_test_mp4); for VoxCeleb1 cut the videos from the YouTube ids.")
    layout = """ROOT/**/id<NNNNN>/<youtube_id>/<NNNNN>.mp4   VoxCeleb2 (dev/mp4/..., test/mp4/...) or VoxCeleb1 layout
ROOT/**/id<NNNNN>/<youtube_id>/<NNNNN>.txt   optional transcript (VoxCeleb's own .txt have none; --asr)
Sample id = <speaker>_<youtube_id>_<clip>; speaker = the id<NNNNN> folder."""

    def include(self, rel: Path) -> bool:
        return rel.suffix.lower() == ".mp4" and len(rel.parts) >= 3 and bool(_SPEAKER.match(rel.parts[-3]))

    def item_id(self, rel: Path) -> str:
        return f"{rel.parts[-3]}_{rel.parts[-2]}_{rel.stem}"

    def speaker(self, rel: Path) -> str | None:
        return rel.parts[-3]
