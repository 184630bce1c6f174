"""Score CPU-bound per-sample metrics (MCD, STOI, F0 RMSE, PESQ: pure DSP, seconds per pair) in
worker processes, while the main process decodes, runs networks and writes records.

Workers are spawned (not forked: the parent may hold torch/OpenMP threads), each rebuilds the
metrics it is sent by id once, and receives the pair with its decoded audio (a Clip pickles
without its video frames). Records are written by the main process as jobs finish, so a killed
run loses only the jobs in flight, which a re-run recomputes. Values do not depend on the number
of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from bench.errors import BenchError
from bench.results import Record, ResultsWriter
from metrics.base import Metric, Pair, PerSampleMetric, Score, get_metric

log = logging.getLogger("bench")


def score_record(m: PerSampleMetric, pair: Pair, label: str, sid: str) -> Record:
    """One (model, sample, metric) outcome: the value, or the failure with its cause."""
    t0 = time.perf_counter()
    try:
        got = m.compute(pair)
    except BenchError as exc:
        log.error("%s on %s/%s failed: %s", m.id, label, sid, exc)
        return Record("metric", sid, "failed", model=label, metric=m.id, error=str(exc), error_kind=exc.kind,
                      seconds=time.perf_counter() - t0)
    extra: dict[str, Any] = {}
    if isinstance(got, Score):
        if got.offered is not None:
            extra.update(frames_used=got.used, frames_offered=got.offered)
        extra.update(got.extra)
    value = got.value if isinstance(got, Score) else got
    return Record("metric", sid, "ok", model=label, metric=m.id, value=float(value),
                  seconds=time.perf_counter() - t0, extra=extra)


_WORKER_METRICS: dict[tuple[str, bool], Metric] = {}


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core already


def _score_in_worker(metric_id: str, random_weights: bool, pair: Pair, label: str, sid: str) -> Record:
    key = (metric_id, random_weights)
    if key not in _WORKER_METRICS:
        m = get_metric(metric_id, random_weights)
        m.setup("cpu")
        _WORKER_METRICS[key] = m
    m = _WORKER_METRICS[key]
    assert isinstance(m, PerSampleMetric)
    return score_record(m, pair, label, sid)


class ParallelScorer:
    """Scores parallel metrics in `workers` processes (inline when workers <= 1)."""

    def __init__(self, writer: ResultsWriter, workers: int) -> None:
        self.writer = writer
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: set[Future[Record]] = set()

    def submit(self, m: PerSampleMetric, pair: Pair, label: str, sid: str) -> None:
        if self.workers <= 1 or not m.parallel:
            self.writer.write(score_record(m, pair, label, sid))
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker)
        self._pending.add(self._pool.submit(_score_in_worker, m.id, m.random_weights, pair, label, sid))
        if len(self._pending) >= 4 * self.workers:  # bound memory: at most a few pairs queued per worker
            self._collect(FIRST_COMPLETED)

    def _collect(self, how: str) -> None:
        done, self._pending = wait(self._pending, return_when=how)
        for f in done:
            self.writer.write(f.result())

    def close(self) -> None:
        """Wait for every job, write its record, stop the workers."""
        try:
            if self._pending:
                self._collect("ALL_COMPLETED")
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
