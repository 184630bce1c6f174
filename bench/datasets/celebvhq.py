"""`celebvhq`: CelebV-HQ (Zhu et al., ECCV 2022)."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import GlobAdapter, register_dataset


@register_dataset
class CelebVHQDataset(GlobAdapter):
    name = "celebvhq"
    obtain = ("https://github.com/CelebV-HQ/CelebV-HQ: download with its download_and_process.py "
              "(celebvhq_info.json), which writes the 35,666 clips as <ytid>_<n>.mp4 files.")
    layout = """ROOT/**/<clip>.mp4     e.g. ROOT/35666/_0tf2n3rlJU_0.mp4 (the downloader's output folder)
ROOT/**/<clip>.txt     optional transcript; else --asr is used
Sample id = file stem (CelebV-HQ has no speaker ids)."""

    def include(self, rel: Path) -> bool:
        return rel.suffix.lower() == ".mp4"

    def item_id(self, rel: Path) -> str:
        return rel.stem
