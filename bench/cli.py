"""`bench`: command-line entry point (run, train, report, compare, split, weights, env, runs,
datasets, models, metrics)."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import signal
import sys
import threading
import warnings
from pathlib import Path

from bench.errors import BenchError


def _run(args: argparse.Namespace) -> int:
    from bench import config
    from bench.runner import Runner
    from reports.console import summary_table

    file_data = config.load_file(args.config) if args.config else None
    pre = {k: v for k, v in {"crop": args.crop, "size": args.size}.items() if v is not None}
    if file_data and file_data.get("preprocess"):
        pre = {**file_data["preprocess"], **pre}
    cli = {"dataset": args.dataset, "root": args.root, "split": args.split, "models": args.models,
           "metrics": args.metrics, "device": args.device, "limit": args.limit, "out": args.out, "seed": args.seed,
           "asr": args.asr, "shard": args.shard, "strict": args.strict or None,
           "random_weights": args.random_weights or None, "workers": args.workers, "preprocess": pre or None,
           "bootstrap": args.bootstrap, "set_bootstrap": args.set_bootstrap, "delivery": args.delivery,
           "retry_failed": args.retry_failed or None}
    cfg = config.build(cli, file_data)
    result = Runner(cfg).run()
    print(summary_table(result.summary))
    print(f"\nrun {result.run_id}: results in {result.run_dir}")
    return result.exit_code


def _train(args: argparse.Namespace) -> int:
    from baselines.mels import require_full
    from baselines.mels import train as mels
    from baselines.mels.config import load_config
    from bench.datasets import get_dataset
    from bench.errors import ConfigError
    from bench.runner import resolve_device

    sets = dict(s.partition("=")[::2] for s in args.set)
    if any(not v for v in sets.values()):
        raise ConfigError("--set takes KEY=VALUE (e.g. --set te=ste --set dc=false)")
    cfg = load_config(args.config, sets)
    if cfg.name == "full":
        require_full()
    adapter = get_dataset(args.dataset)
    items = adapter.training_items(adapter.resolve_root(args.root))
    split, held = mels.load_splits(args.dataset, items, args.split, args.eval_split)
    examples, failed = mels.load_examples(split.items, cfg)
    meta = {"dataset": args.dataset, "train_split": split.sha256,
            "eval_split": held["manifest_sha256"], "failed_samples": failed}
    out = Path(args.out)
    record = mels.train(cfg, examples, out, resolve_device(args.device), args.max_steps,
                        args.save_every, meta)
    last = record["history"][-1] if record["history"] else {}
    print(f"mels {cfg.name} {cfg.variant}: step {record['step']}/{record['of']}, loss "
          f"{last.get('loss', float('nan')):.4f} ({len(examples)} samples, {len(failed)} "
          f"skipped, {record['seconds']} s); checkpoint {out / mels.CHECKPOINT}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from reports.report import make_report

    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    print(make_report(args.runs, args.format, args.out, tables, args.layout, args.with_paper, args.ci,
                      args.media_samples, args.gt_relative))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from reports.compare import compare, load_tolerances, markdown
    from reports.runs import load_run

    base, new = load_run(args.base), load_run(args.new)
    result = compare(base, new, load_tolerances(args.tolerance))
    print(markdown(result, base, new))
    return result.exit_code


def _split(args: argparse.Namespace) -> int:
    from bench.datasets import get_dataset
    from bench.splits import make_manifest, write_manifest

    adapter = get_dataset(args.dataset)
    root = adapter.resolve_root(args.root)
    items = adapter.training_items(root) if args.training else adapter.discover(root)
    manifest = make_manifest(args.dataset, items, args.n, args.seed)
    out = Path(args.out or f"{args.dataset}-n{manifest['selection']['n']}-seed{args.seed}.json")
    write_manifest(out, manifest)
    print(f"{out}: {manifest['selection']['n']} of {manifest['selection']['available']} samples, "
          f"manifest sha256 {manifest['manifest_sha256']}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from bench.index import list_runs

    runs = list_runs()
    if not runs:
        print("no runs indexed yet")
    for r in runs:
        print(f"{r['run_id']}  {r['status']:8s}  {r['dataset']:10s}  N={r['n_samples']:<4d} "
              f"coverage={r['coverage']:.0%}  models={','.join(json.loads(r['models']))}  {r['path']}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from bench.datasets import list_datasets

    for d in list_datasets():
        print(f"{d.name}  (root: --root, config datasets.{d.name}.root, or ${d.env_var})\n  obtain: {d.obtain}")
        print("  " + d.layout.replace("\n", "\n  ") + "\n")
    return 0


def _models(args: argparse.Namespace) -> int:
    from bench.generators import list_generators

    for g in list_generators():
        print(f"{g.name:12s} produces {','.join(sorted(g.produces)):11s} {g.description}")
        for key, opt in g.options.items():
            print(f"{'':14s}:{key}={opt.default if opt.default is not None else '...'}  {opt.help}")
    return 0


def _env(args: argparse.Namespace) -> int:
    from bench import envs

    if args.action == "list":
        for name in envs.spec_names():
            spec, rec = envs.load_spec(name), envs.record(name) or {}
            print(f"{name:10s} {envs.state(name):14s} {spec.description}\n"
                  f"{'':11s}{envs.env_dir(name)}"
                  + (f"  (python {rec.get('python')}, built {rec.get('built_at')})" if rec else ""))
            for fix in rec.get("fixups", []):
                print(f"{'':11s}fix-up: {fix}")
            for patch in spec.patches:
                print(f"{'':11s}patch: {patch}: {envs.patch_reason(patch)}")
        return 0
    if args.action == "install":
        rec = envs.install(args.name, args.source, args.force)
        print(f"{args.name}: installed at {envs.env_dir(args.name)} ({len(rec.get('freeze', []))} "
              f"packages, {rec.get('seconds', 0):.0f} s)")
        return 0
    from bench.envcheck import check

    return check(args.name, args.random_weights)


def _metrics(args: argparse.Namespace) -> int:
    from metrics import list_metrics

    for m in list_metrics():
        print(f"{m.id:28s} {'↑' if m.higher_is_better else '↓'} {m.kind:14s} {m.description}")
    return 0


def _weights(args: argparse.Namespace) -> int:
    from bench import weights

    names = [args.name] if getattr(args, "name", None) else sorted(weights.REGISTRY)
    if args.action == "list":
        for n in names:
            e = weights.entry(n)
            state, where = weights.status(n)
            print(f"{n:24s} {state:26s} {e.filename}\n  used by: {e.used_by}\n  sha256:  {e.sha256}\n"
                  f"  licence: {e.licence}\n  file:    {where or weights.path(n)}")
            for src in e.sources_text:
                print(f"  source:  {src}")
            if e.notes:
                print(f"  notes:   {e.notes}")
        return 0
    if args.action == "fetch":
        print(f"{args.name}: installed at {weights.fetch(args.name)}")
        return 0
    if args.action == "import":
        print(f"{args.name}: installed at {weights.import_file(args.name, args.file)}")
        return 0
    bad = 0
    for n in names:  # verify
        state, where = weights.status(n)
        print(f"{n:24s} {state}  {where or ''}")
        bad += state == "hash mismatch"
    return 1 if bad else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="generate outputs, compute metrics, store results, print a table")
    r.add_argument("--dataset", help="dataset name (bench datasets lists them)")
    r.add_argument("--root", help="dataset root directory")
    r.add_argument("--split", help="split manifest JSON (default: the shipped one for demo, else all samples)")
    r.add_argument("--models", help="comma-separated models with options, e.g. gt,static,precomputed:DIR "
                   "(name:key=value:key=value; speech+video for a cascade)")
    r.add_argument("--metrics", help="comma-separated metric ids or family names")
    r.add_argument("--device", choices=["cpu", "cuda", "auto"])
    r.add_argument("--limit", type=int, help="only the first N samples of the split")
    r.add_argument("--out", help="run directory (default bench-runs/<run id>)")
    r.add_argument("--seed", type=int)
    r.add_argument("--shard", help="k/N: this process runs every N-th sample starting at the k-th")
    r.add_argument("--strict", action="store_true", help="exit non-zero if any sample failed")
    r.add_argument("--workers", type=int, help="worker processes for DSP metrics (default: one per CPU core; 1 = inline)")
    r.add_argument("--asr", help="transcription backend for datasets without transcripts, e.g. faster-whisper:DIR")
    r.add_argument("--crop", choices=["face", "center", "none"], help="preprocessing crop (default face)")
    r.add_argument("--size", type=int, help="preprocessed frame size (default 512)")
    r.add_argument("--bootstrap", type=int, help="bootstrap resamples for per-sample metrics' CIs (default 1000)")
    r.add_argument("--set-bootstrap", type=int,
                   help="evaluation-set resamples for distributional metrics' CIs, one Fréchet distance each (default 100)")
    r.add_argument("--random-weights", action="store_true",
                   help="run network metrics and systems on seeded random weights (results marked "
                   "uncalibrated)")
    r.add_argument("--delivery", help="re-encode every system's output through a delivery codec "
                   "before scoring, e.g. h264-crf23-aac (default: none)")
    r.add_argument("--retry-failed", action="store_true",
                   help="generate again the outputs that failed in an earlier run of this "
                   "command (without it they stay failed and the rest resumes)")
    r.add_argument("--config", help="YAML/JSON config file; flags override it")
    r.set_defaults(func=_run)

    t = sub.add_parser("train", help="train the paper's generator (mels) on a training split")
    t.add_argument("system", choices=["mels"])
    t.add_argument("--config", default="tiny", help="tiny (default), full, or a YAML/JSON file")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. the ablation switches te=ste, dc=false")
    t.add_argument("--dataset", required=True)
    t.add_argument("--root", help="dataset root directory")
    t.add_argument("--split", help="training split manifest (default: the dataset's shipped one)")
    t.add_argument("--eval-split", help="the evaluation split it must not overlap (default: "
                   "the shipped one)")
    t.add_argument("--out", required=True, help="checkpoint directory (a re-run resumes it)")
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    t.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    t.add_argument("--save-every", type=int, default=10, help="checkpoint every N steps (and "
                   "at the end)")
    t.set_defaults(func=_train)

    rp = sub.add_parser("report", help="the paper's tables (md, latex, csv) or an HTML report from stored runs")
    rp.add_argument("runs", nargs="+", help="run directories or run ids (bench runs lists them)")
    rp.add_argument("--format", default="md", choices=["md", "latex", "csv", "html"])
    rp.add_argument("--out", help="directory to write into (default: print; html: ./report.html)")
    rp.add_argument("--tables", help="comma-separated: table1..table5, supp2, fts-video, fts-speech, all (default: every one with data)")
    rp.add_argument("--layout", help="YAML: display names and the models that are Tables 4-5 / supp2's rows")
    rp.add_argument("--with-paper", action="store_true", help="add the papers' published numbers as reference rows")
    rp.add_argument("--gt-relative", action="store_true",
                    help="add THEval's GT-relative score (1 - |m - GT| / |GT|) beside every column")
    rp.add_argument("--ci", default="pm", choices=["pm", "interval", "none"],
                    help="CI as ± half-width (default), [lo, hi], or not shown")
    rp.add_argument("--media-samples", type=int, default=2, help="html: samples with frame strips, spectrograms, videos")
    rp.set_defaults(func=_report)

    cp = sub.add_parser("compare", help="CI gate: metric deltas NEW vs BASE (exit 1 regression, 2 incomparable)")
    cp.add_argument("base", help="baseline run directory or id")
    cp.add_argument("new", help="new run directory or id")
    cp.add_argument("--tolerance", help="YAML {default: {abs, rel}, <metric id or family>: {abs, rel}}")
    cp.set_defaults(func=_compare)

    s = sub.add_parser("split", help="write a held-out split manifest")
    s.add_argument("--dataset", required=True)
    s.add_argument("--root")
    s.add_argument("--n", type=int, help="samples to draw (default: all)")
    s.add_argument("--training", action="store_true", help="draw from the items a training "
                   "split may use (the demo's training identities; elsewhere every clip)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", help="output JSON path")
    s.set_defaults(func=_split)

    w = sub.add_parser("weights", help="the weights registry: list | fetch NAME | import NAME FILE | verify")
    wsub = w.add_subparsers(dest="action", required=True)
    wsub.add_parser("list", help="every registered network, its sources, hash, licence and state")
    wsub.add_parser("verify", help="check installed files against their SHA-256").add_argument("name", nargs="?")
    wsub.add_parser("fetch", help="download and verify").add_argument("name")
    imp = wsub.add_parser("import", help="install a file copied by hand (air-gapped machines)")
    imp.add_argument("name")
    imp.add_argument("file")
    w.set_defaults(func=_weights)

    e = sub.add_parser("env", help="managed environments of external systems: "
                       "list | install NAME | check NAME")
    esub = e.add_subparsers(dest="action", required=True)
    esub.add_parser("list", help="every environment spec, its state and build record")
    ei = esub.add_parser("install", help="build an environment from its pinned spec")
    ei.add_argument("name")
    ei.add_argument("--source", help="the official code as a directory or archive (air-gapped "
                    "machines; default: git clone at the pinned commit)")
    ei.add_argument("--force", action="store_true", help="rebuild even when installed")
    ec = esub.add_parser("check", help="imports, weights, and a one-sample smoke generation per "
                         "system of the environment")
    ec.add_argument("name")
    ec.add_argument("--random-weights", action="store_true",
                    help="smoke-generate on seeded random weights when real ones are missing")
    e.set_defaults(func=_env)

    sub.add_parser("runs", help="list indexed runs").set_defaults(func=_runs)
    sub.add_parser("datasets", help="list datasets with their layouts").set_defaults(func=_datasets)
    sub.add_parser("models", help="list models (generators)").set_defaults(func=_models)
    sub.add_parser("metrics", help="list metrics").set_defaults(func=_metrics)
    return p


class Terminated(Exception):
    """SIGTERM (a scheduler's or `timeout`'s stop): unwinds like Ctrl-C, so workers are stopped and
    the results file is closed; a re-run of the same command resumes."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _os_error(exc: OSError) -> str:
    """One line naming the path and the cause (no traceback: the environment is at fault)."""
    where = exc.filename or ""
    cause = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "read-only file system", errno.EACCES: "permission denied"}.get(
        exc.errno or 0, exc.strerror or str(exc))
    return f"{where}: {cause}" if where else cause


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # pyworld/pysptk (pymcd's stack) import pkg_resources, which warns on every run
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        return args.func(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        logging.getLogger("bench").debug("environment error", exc_info=True)
        print(f"bench: error: {_os_error(exc)} (nothing is lost: fix it and re-run the same "
              "command)", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as exc:
        print("bench: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
