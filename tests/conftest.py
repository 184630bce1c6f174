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


BENCHMARKS = Path(__file__).resolve().parent / "benchmarks"
TIERS = ("default", "slow", "bench", "systems", "videosystems")
_TIER_COUNTS: dict[str, int] = {}


def _tier(item: pytest.Item) -> str:
    if item.get_closest_marker("bench"):
        return "bench"
    if item.get_closest_marker("systems"):
        return "systems"
    if item.get_closest_marker("videosystems"):
        return "videosystems"
    return "slow" if item.get_closest_marker("slow") else "default"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/benchmarks is in the `bench` tier; count the tiers (and the parity
    tests in each) before `-m` deselects any, for the summary line .ci/run shows."""
    for item in items:
        if BENCHMARKS in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.bench)
    _TIER_COUNTS.clear()
    for item in items:
        tier = _tier(item)
        _TIER_COUNTS[tier] = _TIER_COUNTS.get(tier, 0) + 1
        if item.get_closest_marker("parity"):
            _TIER_COUNTS[f"parity-{tier}"] = _TIER_COUNTS.get(f"parity-{tier}", 0) + 1


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _TIER_COUNTS:
        return
    parts = [f"{t} {_TIER_COUNTS.get(t, 0)} (parity {_TIER_COUNTS.get('parity-' + t, 0)})"
             for t in TIERS]
    terminalreporter.write_line(f"test tiers collected: {', '.join(parts)}; selected by -m "
                                f"{config.getoption('markexpr') or '(all)'!r}")


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
