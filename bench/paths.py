"""Where bench keeps things on disk: one home directory (env `BENCH_HOME`, default
~/.cache/bench) holding the preprocessing cache, the generated demo data, weights and the runs index."""

from __future__ import annotations

import os
import re
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("BENCH_HOME", Path.home() / ".cache" / "bench")).expanduser()


def preprocessed_dir() -> Path:
    return home() / "preprocessed"


def demo_dir() -> Path:
    return home() / "demo"


def index_path() -> Path:
    return home() / "runs.sqlite"


def safe_name(name: str) -> str:
    """A model label or extractor id as one path component."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def output_dir(run_dir: Path, model: str, sample: str) -> Path:
    """Where a run keeps one model's outputs for one sample."""
    return run_dir / "outputs" / safe_name(model) / sample
