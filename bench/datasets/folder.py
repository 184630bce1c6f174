"""`folder`: any directory of talking videos, with optional same-name .txt transcripts."""

from __future__ import annotations

from bench.datasets.base import GlobAdapter, register_dataset


@register_dataset
class FolderDataset(GlobAdapter):
    name = "folder"
    obtain = "your own videos: any directory tree of video files (mp4, mpg, avi, mov, mkv, webm)"
    layout = """ROOT/**/<name>.<mp4|mpg|avi|mov|mkv|webm>   talking clip with an audio track
ROOT/**/<name>.txt                             optional transcript (plain text, or LRS 'Text:' line)
Sample id = the path below ROOT without suffix, '/' replaced by '--'."""
