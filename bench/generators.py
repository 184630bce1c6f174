"""The generator interface every model fits: built-in controls, precomputed outputs, the baseline
adapters (external repos run in subprocesses) and the paper's model.

A generator receives one preprocessed `Sample` and a work directory and writes a video and/or a
WAV there. What a model needs beyond the sample (EAT's emotion and driving folder, SadTalker's
pose style, Hallo's YAML) comes from its spec argument (`name:arg`) and the `GenContext`; what it
produces is declared, so metrics that need a modality it lacks are recorded as not applicable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from bench.errors import ConfigError, GeneratorError
from bench.sample import Sample

NEEDS = frozenset({"text", "source_image", "voice_profile", "gt_video", "gt_audio"})

@dataclass(frozen=True)
class GenContext:
    """Run-wide facts a generator may use: the ids of every sample in the split (not only this
    shard's, so cross-sample controls are shard-independent), a loader for any of them
    (preprocessed on demand), the device and the seed."""

    sample_ids: tuple[str, ...]
    load: Callable[[str], Sample]
    device: str = "cpu"
    seed: int = 0

@dataclass(frozen=True)
class Generated:
    """What `generate` wrote (paths inside its work directory) plus free-form metadata."""

    video: Path | None = None
    audio: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

class Generator(ABC):
    """Turns a sample into a talking video and/or speech."""

    name: ClassVar[str]
    description: ClassVar[str]
    produces: ClassVar[frozenset[str]]  # subset of {"video", "audio"}
    needs: ClassVar[frozenset[str]]  # subset of NEEDS

    def __init__(self, arg: str | None = None):
        self.arg = arg

    @property
    def label(self) -> str:
        """The model's name in results: `name`, or `name:arg` when an argument selects a variant."""
        return f"{self.name}:{Path(self.arg).name}" if self.arg else self.name

    def setup(self, ctx: GenContext) -> None:
        """Load models once before the first sample (default: nothing to load)."""

    def check(self, sample: Sample) -> None:
        """Fail early, with a clear message, when the sample lacks something this model needs."""
        if "text" in self.needs and not sample.text:
            raise GeneratorError(f"{sample.raw.get('video', sample.id)}: no transcript (the dataset has none and no "
                                 f"--asr backend was configured); model '{self.name}' needs text")

    @abstractmethod
    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        """Write outputs for one sample into workdir; raise GeneratorError on failure."""

_REGISTRY: dict[str, type[Generator]] = {}

def register_generator(cls: type[Generator]) -> type[Generator]:
    """Class decorator: make a generator available by its `name`."""
    assert cls.produces <= {"video", "audio"} and cls.needs <= NEEDS, cls
    _REGISTRY[cls.name] = cls
    return cls

def _load_builtin() -> None:
    import baselines  # noqa: F401  (registers the built-in generators)

def make_generator(spec: str) -> Generator:
    """`gt`, `static`, `precomputed:/dir`, ... -> a generator instance."""
    _load_builtin()
    name, _, arg = spec.partition(":")
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}'; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](arg or None)

def list_generators() -> list[type[Generator]]:
    _load_builtin()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]
