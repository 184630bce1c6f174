"""Worker protocol overhead: 20 samples served by a worker process (JSON lines over pipes, the
engine in another interpreter) against the same engine called in-process. Target: <= 0.5 s per
sample beyond the engine's own time.

Run with `pytest tests/benchmarks/test_worker_overhead.py --benchmark-enable -s`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

from bench.worker import Worker

ENGINE = Path(__file__).resolve().parent.parent / "engines" / "faulty.py"
N = 20


def _samples(out: Path) -> list[dict]:
    return [{"id": f"s{i:02d}", "duration": 2.0} for i in range(N)]


def test_worker_overhead_per_sample_is_under_half_a_second(tmp_path, benchmark):
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    config = {"options": {"plan": str(plan)}, "seed": 0}
    spec = importlib.util.spec_from_file_location("faulty_engine", ENGINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = module.load(config)
    inproc_dir = tmp_path / "inproc"
    inproc_dir.mkdir()
    t0 = time.perf_counter()
    for s in _samples(inproc_dir):
        engine.generate(s, str(inproc_dir))
    inproc = time.perf_counter() - t0

    worker = Worker(Path(sys.executable), ENGINE, tmp_path / "worker.log", "bench")
    worker.request({"op": "init", "config": config}, 60, "init")
    out = tmp_path / "worker"
    out.mkdir()

    def serve() -> None:
        for s in _samples(out):
            worker.request({"op": "generate", "sample": s, "out_dir": str(out)}, 60, s["id"])

    try:
        benchmark.pedantic(serve, rounds=3, iterations=1)
    finally:
        worker.close()
    via = benchmark.stats.stats.mean if benchmark.stats else None
    if via is None:  # --benchmark-disable: time one pass ourselves
        t0 = time.perf_counter()
        worker = Worker(Path(sys.executable), ENGINE, tmp_path / "worker.log", "bench")
        worker.request({"op": "init", "config": config}, 60, "init")
        serve()
        worker.close()
        via = time.perf_counter() - t0
    overhead = (via - inproc) / N
    benchmark.extra_info.update(inproc_s=inproc, worker_s=via, overhead_per_sample_s=overhead)
    print(json.dumps({"samples": N, "in_process_s": round(inproc, 4), "worker_s": round(via, 4),
                      "overhead_per_sample_ms": round(overhead * 1000, 2)}))
    assert overhead <= 0.5
