"""Shared fixtures: an isolated BENCH_HOME for the session and the real media in ../shared."""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("BENCH_REAL_FIXTURES", REPO.parent / "shared" / "fixtures" / "real"))
# Reference implementations installed `pip install --no-deps --target DIR` (never on sys.path, never
# imported through their package __init__, which would pull torchvision): see .ci/run.
REFERENCE = [Path(p) for p in os.environ.get("BENCH_REFERENCE_PACKAGES", "").split(os.pathsep) if p] + [
    REPO / ".venv-ci" / "reference", REPO / ".venv" / "reference"]


@pytest.fixture(scope="session", autouse=True)
def bench_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One BENCH_HOME per test session: caches are shared between tests, never with the user's."""
    home = tmp_path_factory.mktemp("bench_home")
    old = os.environ.get("BENCH_HOME")
    os.environ["BENCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("BENCH_HOME", None)
    else:
        os.environ["BENCH_HOME"] = old


@pytest.fixture(scope="session")
def real() -> Path:
    """../shared/fixtures/real, or skip the test when it is absent."""
    if not (REAL / "MANIFEST.csv").is_file():
        pytest.skip(f"real fixtures not found at {REAL}")
    return REAL


def reference_module(package: str, module: str) -> types.ModuleType:
    """`package.module` from the reference-packages dir, importing the package as a bare namespace
    (its __init__ is skipped); skip the test when the package is absent."""
    root = next((d for d in REFERENCE if (d / package).is_dir()), None)
    if root is None:
        pytest.skip(f"reference package {package} not installed (pip install --no-deps --target .venv/reference)")
    if package not in sys.modules or not hasattr(sys.modules[package], "__path__"):
        pkg = types.ModuleType(package)
        pkg.__path__ = [str(root / package)]
        sys.modules[package] = pkg
    return importlib.import_module(f"{package}.{module}")


def score_to_file(metrics: list, pairs: list, workers: int, path: Path) -> list[dict]:
    """Score (sample id, Pair) items with the runner's ParallelScorer into a JSONL file; its records."""
    import json

    from bench.parallel import ParallelScorer
    from bench.results import ResultsWriter

    writer = ResultsWriter(path)
    scorer = ParallelScorer(writer, workers)
    for sid, pair in pairs:
        for m in metrics:
            scorer.submit(m, pair, "model", sid)
    scorer.close()
    writer.close()
    return [json.loads(line) for line in path.read_text().splitlines()]
