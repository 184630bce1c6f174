"""The worker that runs inside a system's managed environment (standard library only: it runs
under that environment's interpreter, which has none of bench's packages).

    <env>/bin/python -u bench/serve.py ENGINE_FILE

Protocol: one JSON object per line. Requests come on stdin; replies go to the process's
original stdout, which is then pointed at stderr, so whatever the official code prints lands in
the worker's log and never in a reply.

    {"op": "init", "config": {...}}          -> {"ok": true, "info": {...}}
    {"op": "generate", "sample": {...}, "out_dir": DIR}
                                              -> {"ok": true, "video": P|null, "audio": P|null,
                                                  "meta": {...}, "seconds": S}
    {"op": "shutdown"}                        -> {"ok": true}, then exit 0
    any failure                               -> {"ok": false, "error": "...", "kind": K,
                                                  "traceback": "..."}

`config` holds the adapter's options, `random_weights`, `seed`, `device`, `weights` (registry
name -> verified file), `cache_dir` (where random-init checkpoints are kept) and `source` (the
official code's directory, when the environment has one). ENGINE_FILE defines
`load(config) -> engine`, and the engine `generate(sample, out_dir) -> {"video", "audio",
"meta"}`. Every generate is seeded from (seed, sample id), so outputs do not depend on the order
samples are served in or on worker restarts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench.engine_api

from bench.engine_api import EngineError, seed_all, sample_seed  # noqa: E402


def _load_engine(path: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_engine_{Path(path).parent.name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _failure(exc: BaseException) -> dict[str, Any]:
    kind = getattr(exc, "kind", "error") if isinstance(exc, EngineError) else "error"
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": kind,
            "traceback": "".join(traceback.format_exception(exc))[-4000:]}


def main() -> int:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the official code's prints go to the log
    sys.stdout = sys.stderr
    module = _load_engine(sys.argv[1])
    engine = None
    seed = 0
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "init":
                seed = int(req["config"].get("seed", 0))
                seed_all(seed)
                engine = module.load(req["config"])
                reply = {"ok": True, "info": getattr(engine, "info", {})}
            elif op == "generate":
                if engine is None:
                    raise EngineError("generate before init")
                seed_all(sample_seed(seed, req["sample"]["id"]))
                t0 = time.perf_counter()
                got = engine.generate(req["sample"], req["out_dir"])
                reply = {"ok": True, "video": got.get("video"), "audio": got.get("audio"),
                         "meta": got.get("meta", {}), "seconds": time.perf_counter() - t0}
            elif op == "shutdown":
                replies.write(json.dumps({"ok": True}) + "\n")
                return 0
            else:
                raise EngineError(f"unknown op {op!r}")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reply, the worker lives
            print(f"[serve] {op} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            reply = _failure(exc)
        replies.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
