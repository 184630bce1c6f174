"""Shared fixtures: an isolated BENCH_HOME for the session and the real media in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("BENCH_REAL_FIXTURES", REPO.parent / "shared" / "fixtures" / "real"))


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
