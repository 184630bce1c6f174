"""`fakeavceleb`: FakeAVCeleb (Khalid et al. 2021), original (real) part only, as in the paper."""

from __future__ import annotations

import re
from pathlib import Path

from bench.datasets.base import GlobAdapter, register_dataset

REAL_PART = "RealVideo-RealAudio"
_SPEAKER = re.compile(r"^id\d+$")


@register_dataset
class FakeAVCelebDataset(GlobAdapter):
    name = "fakeavceleb"
    obtain = ("https://github.com/DASH-Lab/FakeAVCeleb: request access with the form in its README; "
              "unzip FakeAVCeleb_v1.2.")
    layout = f"""ROOT/{REAL_PART}/<ethnicity>/<gender>/id<NNNNN>/<clip>.mp4   only this part is used
(FakeVideo-* and *-FakeAudio folders are ignored: the paper evaluates on the original videos)
Sample id = <speaker>_<clip>; speaker = the id<NNNNN> folder."""

    def include(self, rel: Path) -> bool:
        return rel.suffix.lower() == ".mp4" and REAL_PART in rel.parts

    def item_id(self, rel: Path) -> str:
        return f"{self.speaker(rel)}_{rel.stem}"

    def speaker(self, rel: Path) -> str | None:
        return next((p for p in reversed(rel.parts[:-1]) if _SPEAKER.match(p)), rel.parts[-2])
