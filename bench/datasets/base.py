"""Dataset adapters: each knows where a dataset comes from and how its files are laid out on disk,
and turns a root directory into `RawItem`s. Registered by name; looked up by the runner and CLI."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, ClassVar

from bench.errors import ConfigError
from bench.sample import RawItem

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class DatasetAdapter(ABC):
    """Finds the talking clips of one dataset under a root directory."""

    name: ClassVar[str]
    obtain: ClassVar[str]  # where and how the dataset is obtained
    layout: ClassVar[str]  # the directory layout the adapter expects

    @property
    def env_var(self) -> str:
        return f"BENCH_{re.sub(r'[^A-Z0-9]', '_', self.name.upper())}_ROOT"

    def resolve_root(self, root: str | None) -> Path:
        """Root from the flag/config value, else the environment variable; a clear error otherwise."""
        chosen = root or os.environ.get(self.env_var)
        if not chosen:
            raise ConfigError(f"dataset '{self.name}' needs a root directory: pass --root DIR, set "
                              f"datasets.{self.name}.root in the config file, or export {self.env_var}=DIR.\n"
                              f"Obtain it: {self.obtain}\nExpected layout:\n{self.layout}")
        path = Path(chosen).expanduser()
        if not path.is_dir():
            raise ConfigError(f"dataset '{self.name}': root {path} is not a directory")
        return path

    @abstractmethod
    def discover(self, root: Path) -> list[RawItem]:
        """All items under root, sorted by id (the order splits are drawn from)."""

    def training_items(self, root: Path) -> list[RawItem]:
        """The items a training split may draw from (`bench train`, `bench split --training`):
        by default the same clips, and a split manifest disjoint from the evaluation one picks
        them; the demo keeps its training identities apart."""
        return self.discover(root)


def read_transcript(path: Path) -> str | None:
    """A transcript file's text: LRS-style files ("Text:  WORDS" first line) or plain text."""
    if not path.is_file():
        return None
    content = path.read_text(encoding="utf-8", errors="replace").strip()
    if not content:
        return None
    first = content.splitlines()[0]
    if first.startswith("Text:"):
        return first[len("Text:"):].strip() or None
    return " ".join(content.split())


class GlobAdapter(DatasetAdapter):
    """An adapter for datasets that are 'video files somewhere under root, maybe a .txt beside each'.

    Subclasses narrow the search (`include`) and name items and speakers from the path.
    """

    def include(self, rel: Path) -> bool:
        return True

    def item_id(self, rel: Path) -> str:
        return "--".join(rel.with_suffix("").parts)

    def speaker(self, rel: Path) -> str | None:
        return None

    def discover(self, root: Path) -> list[RawItem]:
        items = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file() or not self.include(rel):
                continue
            files = {"video": rel.as_posix()}
            txt = path.with_suffix(".txt")
            text = read_transcript(txt)
            if text is not None:
                files["transcript"] = txt.relative_to(root).as_posix()
            items.append(RawItem(self.item_id(rel), self.name, str(root), files, self.speaker(rel), text))
        ids = [i.id for i in items]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
            raise ConfigError(f"dataset '{self.name}' under {root}: duplicate sample ids {dup}")
        return sorted(items, key=lambda i: i.id)


_REGISTRY: dict[str, Callable[[], DatasetAdapter]] = {}


def register_dataset(cls: type[DatasetAdapter]) -> type[DatasetAdapter]:
    """Class decorator: make an adapter available by its `name`."""
    _REGISTRY[cls.name] = cls
    return cls


def get_dataset(name: str) -> DatasetAdapter:
    from bench.datasets import adapters  # noqa: F401  (registers the built-in adapters)

    if name not in _REGISTRY:
        raise ConfigError(f"unknown dataset '{name}'; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()


def list_datasets() -> list[DatasetAdapter]:
    from bench.datasets import adapters  # noqa: F401

    return [_REGISTRY[n]() for n in sorted(_REGISTRY)]
