"""Where bench keeps things on disk: one home directory (env `BENCH_HOME`, default
~/.cache/bench) holding the preprocessing cache, the generated demo data, weights and the runs index."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("BENCH_HOME", Path.home() / ".cache" / "bench")).expanduser()


def preprocessed_dir() -> Path:
    return home() / "preprocessed"


def demo_dir() -> Path:
    return home() / "demo"


def index_path() -> Path:
    return home() / "runs.sqlite"
