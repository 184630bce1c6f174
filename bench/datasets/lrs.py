"""`lrs2` and `lrs3`: the Lip Reading Sentences datasets (Afouras et al.), used by the second protocol."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import GlobAdapter, register_dataset
from bench.sample import RawItem


@register_dataset
class LRS2Dataset(GlobAdapter):
    name = "lrs2"
    obtain = ("https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrs2.html: BBC licence agreement; "
              "unpack mvlrs_v1 (main/, pretrain/, and the split lists test.txt etc.).")
    layout = """ROOT/main/<video_id>/<NNNNN>.mp4 + <NNNNN>.txt ('Text:  WORDS' first line)
ROOT/test.txt   when present, only the clips it lists (lines '<video_id>/<NNNNN>') are used,
                i.e. the official test set; otherwise every clip under main/
Sample id = <video_id>_<clip>."""

    def include(self, rel: Path) -> bool:
        return rel.suffix.lower() == ".mp4" and rel.parts[0] == "main"

    def item_id(self, rel: Path) -> str:
        return f"{rel.parts[-2]}_{rel.stem}"

    def discover(self, root: Path) -> list[RawItem]:
        items = super().discover(root)
        listing = root / "test.txt"
        if not listing.is_file():
            return items
        wanted = {line.split()[0].replace("/", "_") for line in listing.read_text().splitlines() if line.strip()}
        return [i for i in items if i.id in wanted]


@register_dataset
class LRS3Dataset(GlobAdapter):
    name = "lrs3"
    obtain = ("https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrs3.html: TED licence (CC BY-NC-ND); "
              "unpack lrs3_v0.4 (pretrain/, trainval/, test/).")
    layout = """ROOT/test/<youtube_id>/<NNNNN>.mp4 + <NNNNN>.txt ('Text:  WORDS' first line)
When ROOT/test exists only it is used (the official test set); otherwise every clip under ROOT.
Sample id = <youtube_id>_<clip>."""

    def include(self, rel: Path) -> bool:
        return rel.suffix.lower() == ".mp4" and len(rel.parts) >= 2

    def item_id(self, rel: Path) -> str:
        return f"{rel.parts[-2]}_{rel.stem}"

    def discover(self, root: Path) -> list[RawItem]:
        test = root / "test"
        if not test.is_dir():
            return super().discover(root)
        # ids and paths stay relative to ROOT so manifests are layout-independent
        return [RawItem(i.id, i.dataset, str(root), {k: f"test/{v}" for k, v in i.files.items()}, i.speaker, i.text)
                for i in super().discover(test)]
