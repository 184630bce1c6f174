"""`bench env check NAME`: is a managed environment usable? Its imports, the weights of every
system that runs in it, and one smoke generation per system on the first demo sample, through
the same path a run takes (worker, normalisation, a cheap metric)."""

from __future__ import annotations

import shutil

from bench import envs, paths, weights
from bench.errors import BenchError


def _systems(name: str) -> list[type]:
    from bench.generators import list_generators
    from bench.worker import WorkerGenerator

    return [g for g in list_generators()
            if issubclass(g, WorkerGenerator) and g.env_name == name]


def check(name: str, random_weights: bool) -> int:
    """Print one line per check; 0 when all pass, 1 when any fails, 2 when not installed."""
    from bench import config
    from bench.runner import Runner

    st = envs.state(name)
    print(f"{name}: {st} at {envs.env_dir(name)}")
    if st != "installed":
        print(f"  fix: bench env install {name}")
        return 2
    bad = 0
    try:
        envs.check_imports(name)
        print(f"  imports ok: {', '.join(envs.load_spec(name).imports)}")
    except BenchError as exc:
        print(f"  FAILED {exc}")
        bad += 1
    for g in _systems(name):
        states = {w: weights.status(w)[0] for w in g().weights}  # the default configuration's
        have = all(s.startswith("ok") for s in states.values())
        for w, s in states.items():
            where = (f"; linked into the official tree as {g.layout[w]}" if w in g.layout
                     else "")
            if s == "missing":
                e = weights.entry(w)
                what = (f"DIR (the folder with {e.filename} and {', '.join(e.companions)})"
                        if e.companions else "FILE")
                s = (f"MISSING {e.filename}: goes to {weights.path(w)} (bench weights import "
                     f"{w} {what}); from {', '.join(e.sources_text) or e.used_by}")
            print(f"  {g.name}: weights {w}: {s}{where}")
        if not have and not random_weights:
            print(f"  {g.name}: smoke generation skipped (weights missing; --random-weights runs "
                  "it on seeded random weights)")
            bad += 1
            continue
        # a real run directory, made afresh (kept afterwards: its worker log is inspectable)
        out = paths.home() / "env-checks" / f"{g.name}{'-random' if not have else ''}"
        shutil.rmtree(out, ignore_errors=True)
        metric = "psnr" if "video" in g.produces else "stoi"  # a cheap check of what it makes
        cfg = config.build({"dataset": "demo", "models": [g.name], "limit": 1, "out": str(out),
                            "metrics": [metric], "random_weights": not have})
        result = Runner(cfg).run()
        gen = [f for f in result.summary["failures"] if f["stage"] == "generate"]
        why = result.summary["missing_systems"].get(g.name) or (gen[0]["error"] if gen else None)
        if why:
            print(f"  {g.name}: smoke generation FAILED: {why}\n  (run directory {out})")
            bad += 1
        else:
            kind = "random weights" if not have else "installed weights"
            print(f"  {g.name}: smoke generation ok on 1 demo sample ({kind})")
    return 1 if bad else 0
