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
import os
import signal
import threading
import time
from collections.abc import Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Any

from bench.errors import BenchError, NotApplicableError
from bench.results import Record, ResultsWriter
from metrics.base import Metric, Pair, PerSampleMetric, Score, get_metric

log = logging.getLogger("bench")


def score_record(m: PerSampleMetric, pair: Pair, label: str, sid: str) -> Record:
    """One (model, sample, metric) outcome: the value, or the failure with its cause."""
    t0 = time.perf_counter()
    try:
        got = m.compute(pair)
    except NotApplicableError as exc:
        return Record("metric", sid, "not_applicable", model=label, metric=m.id, error=str(exc),
                      error_kind=exc.kind, seconds=time.perf_counter() - t0)
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


def _watch_parent(parent: int) -> None:
    """Exit as soon as the parent is gone (kill -9, OOM, `timeout`): a worker must never outlive
    the run that started it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _init_worker(parent: int) -> None:
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
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


def _reused(record: Record, label: str, sid: str) -> Record:
    """`record` for another (model, sample) whose inputs have the same content."""
    return replace(record, model=label, sample=sid, seconds=0.0,
                   extra={**record.extra, "reused_from": f"{record.model}/{record.sample}"})


class ParallelScorer:
    """Scores parallel metrics in `workers` processes (inline when workers <= 1).

    A metric is a function of the inputs it declares, so a pair whose inputs have the same content
    as an earlier pair's (`key`: the controls share the GT video or audio) gets that pair's record,
    marked `reused_from`, instead of a second computation of the same number. Failures are not
    copied (their message names the other pair's file): such pairs are scored themselves.
    """

    def __init__(self, writer: ResultsWriter, workers: int) -> None:
        self.writer = writer
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[Future[Record], Hashable] = {}
        self._scored: dict[Hashable, Record] = {}
        # pairs with the key of one in flight, scored (or copied) when it finishes
        self._waiting: dict[Hashable, list[tuple[PerSampleMetric, Pair, str, str]]] = {}
        # shared jobs (metrics.base.Prepared: a clip's landmark pass) and the jobs behind them
        self._preps: dict[Future[None], Hashable] = {}
        self._prepared: set[Hashable] = set()
        self._behind: dict[Hashable, list[tuple[PerSampleMetric, Pair, str, str, Hashable]]] = {}

    def submit(self, m: PerSampleMetric, pair: Pair, label: str, sid: str,
               key: Hashable = None) -> None:
        if key is not None:
            if key in self._scored:
                self.writer.write(_reused(self._scored[key], label, sid))
                return
            if key in self._waiting:
                self._waiting[key].append((m, pair, label, sid))
                return
            self._waiting[key] = []
        if self.workers <= 1 or not m.parallel:
            self._done(score_record(m, pair, label, sid), key)
            return
        prep = m.prepare(pair)
        if prep is not None and prep.key not in self._prepared:
            if prep.key not in self._behind:
                self._behind[prep.key] = []
                self._preps[self._start().submit(prep.fn, *prep.args)] = prep.key
            self._behind[prep.key].append((m, pair, label, sid, key))
        else:
            self._submit_job(m, pair, label, sid, key)
        if len(self._pending) + len(self._preps) >= 4 * self.workers:  # bounded memory
            self._collect(FIRST_COMPLETED)

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(os.getpid(),))
        return self._pool

    def _submit_behind(self, key: Hashable) -> None:
        """Score the jobs that waited for shared job `key`. Whether it succeeded or not: a failed
        pass fails again inside each metric, which records the cause."""
        self._prepared.add(key)
        for m, pair, label, sid, k in self._behind.pop(key, []):
            self._submit_job(m, pair, label, sid, k)

    def _submit_job(self, m: PerSampleMetric, pair: Pair, label: str, sid: str,
                    key: Hashable) -> None:
        job = self._start().submit(_score_in_worker, m.id, m.random_weights, pair, label, sid)
        self._pending[job] = key

    def _done(self, record: Record, key: Hashable) -> None:
        self.writer.write(record)
        if key is None:
            return
        waiting = self._waiting.pop(key, [])
        if record.status == "ok":
            self._scored[key] = record
            for _, _, label, sid in waiting:
                self.writer.write(_reused(record, label, sid))
        else:
            for m, pair, label, sid in waiting:
                self.submit(m, pair, label, sid)

    def _collect(self, how: str) -> None:
        done, _ = wait([*self._pending, *self._preps], return_when=how)
        for f in done:
            if f in self._preps:
                if f.exception() is not None:
                    log.debug("shared job failed (its metrics record the cause): %s", f.exception())
                self._submit_behind(self._preps.pop(f))
            else:
                self._done(f.result(), self._pending.pop(f))

    def close(self) -> None:
        """Wait for every job, write its record, stop the workers."""
        try:
            while self._pending or self._preps:  # a failure can queue its waiting pairs anew
                self._collect("ALL_COMPLETED")
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None

    def abort(self) -> None:
        """Stop at once (interrupt, fatal error): jobs in flight are dropped, and a re-run
        recomputes them; the workers are killed, not waited for."""
        pool, self._pool = self._pool, None
        self._pending.clear()
        self._waiting.clear()
        self._preps.clear()
        self._behind.clear()
        if pool is not None:
            procs = list((pool._processes or {}).values())  # the executor has no public handle
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.join(5)
