"""Decode speed and robustness on the real fixtures: PyAV (what bench uses) vs decord.

Run with `pytest tests/benchmarks --benchmark-enable`. decord is measured only when installed
(`pip install decord`); it is not a dependency. README "Decoding" records the figures.
"""

from __future__ import annotations

import pytest

from bench.video import iter_frames_cfr


def _videos(real):
    return sorted((real / "videos").iterdir())


def _pyav_all(paths) -> int:
    return sum(1 for p in paths for _ in iter_frames_cfr(p, 25))


def _decord_all(paths) -> int:
    import decord

    n = 0
    for p in paths:
        try:
            vr = decord.VideoReader(str(p))
            n += len(vr.get_batch(list(range(len(vr)))).asnumpy())
        except Exception:  # decord raises bare DECORDError / RuntimeError on unsupported input
            pass
    return n


@pytest.mark.real
def test_pyav_decode_speed(benchmark, real):
    frames = benchmark.pedantic(_pyav_all, args=(_videos(real),), rounds=2, iterations=1)
    assert frames > 1000


@pytest.mark.real
def test_decord_decode_speed(benchmark, real):
    pytest.importorskip("decord")
    frames = benchmark.pedantic(_decord_all, args=(_videos(real),), rounds=2, iterations=1)
    assert frames > 0
