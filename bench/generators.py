"""The system-under-test interface every model fits: today the built-in controls and
precomputed outputs; the external systems (official code in managed environments) build on it.

A model is named `name[:key=value[:key=value...]]` on the command line (`yourtts:language=en`,
`sadtalker:size=512:still=true`; `:` never collides with the comma that separates models).
Each generator declares its options; those that change outputs make up its `label`, the row
name and output directory, so two configurations never share a row or a cache entry. This
module is kept standard-library only, so that adapters can import it inside their systems' own
environments.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ClassVar

from bench.errors import ConfigError, GeneratorError
from bench.sample import Sample

NEEDS = frozenset({"text", "source_image", "voice_profile", "gt_video", "gt_audio"})
_RESERVED = set(":+,=")


@dataclass(frozen=True)
class Option:
    """One adapter option: its default (as the official inference uses it), type and meaning.

    `affects_output` options are part of the label and so of the run hash; the others (a
    timeout, where an environment lives) are not. A `path` option is labelled by its base name
    and a hash of its absolute path, so two directories of the same name stay apart."""

    default: str | None
    help: str
    kind: type = str
    choices: tuple[str, ...] = ()
    affects_output: bool = True
    path: bool = False

    def parse(self, model: str, key: str, text: str) -> Any:
        if self.choices and text not in self.choices:
            raise ConfigError(f"{model}: {key}={text!r}; choose one of {', '.join(self.choices)}")
        if self.kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ConfigError(f"{model}: {key} takes true or false, not {text!r}")
            return text.lower() in ("true", "1", "yes")
        if self.kind in (int, float):
            try:
                return self.kind(text)
            except ValueError:
                what = "an integer" if self.kind is int else "a number"
                raise ConfigError(f"{model}: {key} takes {what}, not {text!r}") from None
        return str(Path(text).expanduser().resolve()) if self.path else text


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """`name:k=v:k=v` -> (name, {k: v}); a bare value (`precomputed:DIR`) has the key ''."""
    name, *parts = spec.strip().split(":")
    opts: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        key, value = (key.strip(), value.strip()) if eq else ("", part.strip())
        if key in opts:
            raise ConfigError(f"model {spec!r}: option {key or 'value'!r} given twice")
        opts[key] = value
    if not name:
        raise ConfigError(f"model {spec!r} has no name")
    return name, opts


def spec_text(name: str, options: dict[str, Any]) -> str:
    """The inverse of `parse_spec` (a config file's `models:` mapping becomes this string)."""
    parts = [name]
    for key, value in options.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if any(c in text for c in ",+:") or any(c in key for c in _RESERVED):
            raise ConfigError(f"model {name}: option {key}={text!r} may not contain , + or :")
        parts.append(f"{key}={text}" if key else text)
    return ":".join(parts)


@dataclass(frozen=True)
class GenContext:
    """Run-wide facts a generator may use: the ids of every sample in the split (not only this
    shard's, so cross-sample controls are shard-independent), a loader for any of them
    (preprocessed on demand), the device, the seed, whether systems run on random weights,
    and where worker logs go."""

    sample_ids: tuple[str, ...]
    load: Callable[[str], Sample]
    device: str = "cpu"
    seed: int = 0
    random_weights: bool = False
    log_dir: Path | None = None


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
    options: ClassVar[dict[str, Option]] = {}
    positional: ClassVar[str | None] = None  # the option a bare value sets (`precomputed:DIR`)
    uses_weights: ClassVar[bool] = False  # a network system: --random-weights applies to it
    random_weights = False  # set by make_generator from the run's --random-weights

    def __init__(self, options: dict[str, str] | None = None):
        self.opts: dict[str, Any] = {}
        given = dict(options or {})
        if "" in given:
            if self.positional is None:
                raise ConfigError(f"{self.name}: options are key=value (known: {self._known()})")
            given.setdefault(self.positional, given.pop(""))
        for key, text in given.items():
            if key not in self.options:
                raise ConfigError(f"{self.name}: unknown option {key!r} (known: {self._known()})")
            self.opts[key] = self.options[key].parse(self.name, key, text)
        for key, opt in self.options.items():
            if key not in self.opts and opt.default is not None:
                self.opts[key] = opt.parse(self.name, key, opt.default)

    def _known(self) -> str:
        return ", ".join(self.options) or "none"

    @property
    def label(self) -> str:
        """The row name: `name` plus every output-changing option that differs from its default."""
        parts = [self.name]
        for key in sorted(self.options):
            opt = self.options[key]
            value = self.opts.get(key)
            if not opt.affects_output or value is None:
                continue
            if opt.default is not None and value == opt.parse(self.name, key, opt.default):
                continue
            if opt.path:
                digest = hashlib.sha256(str(value).encode()).hexdigest()[:6]
                text = f"{os.path.basename(str(value))}@{digest}"
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(text if key == self.positional else f"{key}={text}")
        return ":".join(parts)

    @property
    def calibrated(self) -> bool:
        """False when the outputs come from random weights (every number made from them is then
        marked uncalibrated)."""
        return not (self.uses_weights and self.random_weights)

    def describe(self) -> dict[str, Any]:
        """What the run's provenance records about this system."""
        return {"label": self.label, "name": self.name, "options": self.opts,
                "calibrated": self.calibrated}

    def setup(self, ctx: GenContext) -> None:
        """Load models once before the first sample (default: nothing to load)."""

    def teardown(self) -> None:
        """Release what `setup` started; called once at the end of a run."""

    def check(self, sample: Sample) -> None:
        """Fail early, with a clear message, when the sample lacks something this model needs."""
        if "text" in self.needs and not sample.text:
            raise GeneratorError(f"{sample.raw.get('video', sample.id)}: no transcript (the "
                                 "dataset has none and no --asr backend was configured); model "
                                 f"'{self.name}' needs text")

    @abstractmethod
    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        """Write outputs for one sample into workdir; raise GeneratorError on failure."""


_REGISTRY: dict[str, type[Generator]] = {}


def register_generator(cls: type[Generator]) -> type[Generator]:
    """Class decorator: make a generator available by its `name` (one name, one class)."""
    if not (cls.produces <= {"video", "audio"} and cls.needs <= NEEDS):
        raise TypeError(f"{cls.__name__}: produces/needs outside {{video, audio}} / "
                        f"{sorted(NEEDS)}")
    if not cls.name or _RESERVED & set(cls.name):
        raise TypeError(f"{cls.__name__}: a model name may not contain : + , or =")
    known = _REGISTRY.get(cls.name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise TypeError(f"model name '{cls.name}' is taken by "
                        f"{known.__module__}.{known.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    import baselines  # noqa: F401  (registers the built-in generators)


def make_generator(spec: str, random_weights: bool = False) -> Generator:
    """`gt`, `precomputed:/dir`, `yourtts:language=en`, `kokoro+static` (a cascade) -> a
    generator; `random_weights` puts network systems on seeded random weights."""
    _load_builtin()
    if "+" in spec:
        parts = [make_generator(p, random_weights) for p in spec.split("+")]
        if len(parts) != 2:
            raise ConfigError(f"model {spec!r}: a cascade is SPEECH+VIDEO (two systems)")
        return Cascade(*parts)
    name, opts = parse_spec(spec)
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}'; known: {', '.join(sorted(_REGISTRY))}")
    g = _REGISTRY[name](opts)
    g.random_weights = random_weights
    return g


def list_generators() -> list[type[Generator]]:
    _load_builtin()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


class Cascade(Generator):
    """`speech+video`: the speech system's output, normalised to the run's rate, drives the
    video system in place of the ground-truth audio; the row holds the video system's frames and
    the speech system's audio and records both systems. (Video systems driven by ground-truth
    audio stay the default: the paper's Table 1 setting.)"""

    name = "cascade"
    description = "SPEECH+VIDEO: synthesised speech drives a video system"
    produces = frozenset({"video", "audio"})
    needs = frozenset()

    def __init__(self, speech: Generator, video: Generator):
        super().__init__()
        if speech.produces != {"audio"}:
            raise ConfigError(f"cascade {speech.label}+{video.label}: {speech.label} is not a "
                              "speech system (the first system of a cascade makes the speech)")
        if "video" not in video.produces or "gt_audio" not in video.needs:
            raise ConfigError(f"cascade {speech.label}+{video.label}: {video.label} is not an "
                              "audio-driven video system")
        self.speech, self.video = speech, video
        self.needs = speech.needs | (video.needs - {"gt_audio"})  # type: ignore[misc]

    @property
    def label(self) -> str:
        return f"{self.speech.label}+{self.video.label}"

    @property
    def calibrated(self) -> bool:
        return self.speech.calibrated and self.video.calibrated

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "name": self.name, "calibrated": self.calibrated,
                "cascade": {"speech": self.speech.describe(), "video": self.video.describe()}}

    def setup(self, ctx: GenContext) -> None:
        self.speech.setup(ctx)
        try:
            self.video.setup(ctx)
        except BaseException:
            self.speech.teardown()
            raise

    def teardown(self) -> None:
        try:
            self.speech.teardown()
        finally:
            self.video.teardown()

    def check(self, sample: Sample) -> None:
        self.speech.check(sample)

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        from bench.normalise import speech_track

        (workdir / "speech").mkdir()
        said = self.speech.generate(sample, ctx, workdir / "speech")
        if said.audio is None:
            raise GeneratorError(f"{self.speech.label} wrote no audio for {sample.id}")
        wav, seconds, conv = speech_track(said.audio, sample.sample_rate, workdir / "speech16k")
        limit = self.video.opts.get("seconds")  # a video system driven by the first N s only:
        if limit and seconds > limit:  # the row's speech is cut the same way, so both agree
            from bench import audio as audio_io

            x = audio_io.load_audio(wav, sample.sample_rate)[: int(limit * sample.sample_rate)]
            wav = workdir / "speech16k" / f"first-{limit:g}s.wav"
            audio_io.write_wav(wav, x, sample.sample_rate)
            seconds = len(x) / sample.sample_rate
            conv = {**conv, "cut": f"first {limit:g} s (the video system's seconds option)"}
        frames = max(1, round(seconds * sample.fps))
        driven = replace(sample, audio=str(wav), duration=frames / sample.fps, num_frames=frames)
        self.video.check(driven)
        (workdir / "video").mkdir()
        shown = self.video.generate(driven, ctx, workdir / "video")
        if shown.video is None:
            raise GeneratorError(f"{self.video.label} wrote no video for {sample.id}")
        return Generated(shown.video, wav, {"speech": said.meta, "video": shown.meta,
                                            "speech_normalisation": conv})
