"""The benchmark runner: dataset -> split -> preprocess -> generate -> decode once -> metrics ->
results -> summary.

The unit of work is (model, sample): each one's outputs are written atomically and each
(model, sample, metric) outcome is a line in the shard's JSONL, so a killed run resumes where it
stopped and shards (`--shard k/N`, samples i with i % N == k-1) merge exactly by reading every
shard's lines. Per-sample failures (bad input, generator failure, missing transcript) are
recorded with the file and the cause, and the run goes on.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench import cache, index, paths, provenance
from bench.asr import make_transcriber
from bench.atomic import clean_stale, make_temp_dir, write_json
from bench.bootstrap import BootstrapConfig, draws, percentile_ci
from bench.clip import Clip
from bench.config import RunConfig
from bench.datasets import get_dataset
from bench.errors import BenchError, ConfigError, ManifestError, MissingWeightsError
from bench.generators import GenContext, Generator, make_generator
from bench.hashing import sha256_json
from bench.normalise import Target, normalise
from bench.parallel import ParallelScorer
from bench.preprocess import preprocess
from bench.results import Record, ResultsWriter, RunLock, done_keys, read_records
from bench.sample import RawItem, Sample
from bench.splits import check_items, load_manifest, make_manifest, shipped_manifest
from bench.summary import summarize
from metrics.base import DistributionalMetric, FeatureSet, Metric, Pair, get_metric

log = logging.getLogger("bench")
REFERENCE = "__reference__"  # model name under which a distributional metric's GT features are stored


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    exit_code: int


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu, cuda or auto, not {device!r}")
    return device


def _split(cfg: RunConfig, items: list[RawItem]) -> dict[str, Any]:
    if cfg.split:
        manifest = load_manifest(cfg.split)
    elif (shipped := shipped_manifest(cfg.dataset)) is not None:
        manifest = load_manifest(shipped)
    else:
        manifest = make_manifest(cfg.dataset, items, None, cfg.seed)
    if manifest["dataset"] != cfg.dataset:
        raise ConfigError(f"split manifest is for dataset '{manifest['dataset']}', not '{cfg.dataset}'")
    return manifest


class Runner:
    """One invocation of `bench run` (one shard of one run)."""

    def __init__(self, cfg: RunConfig):
        self.cfg = replace(cfg, device=resolve_device(cfg.device))
        adapter = get_dataset(cfg.dataset)
        self.root = adapter.resolve_root(cfg.root)
        items = adapter.discover(self.root)
        self.manifest = _split(self.cfg, items)
        entries = self.manifest["samples"]
        if cfg.limit is not None:
            entries = entries[: cfg.limit]
        self.manifest = {**self.manifest, "samples": entries}
        found, self.mismatches = check_items(self.manifest, items)
        self.items = {i.id: i for i in found}
        self.sample_ids = [e["id"] for e in entries]
        k, n = cfg.shard
        self.shard_ids = [s for i, s in enumerate(self.sample_ids) if i % n == k - 1]
        self.split_sha = self.manifest["manifest_sha256"]
        self.run_id = self.cfg.run_id(self.split_sha)
        self.run_dir = Path(cfg.out) if cfg.out else Path("bench-runs") / self.run_id
        self.generators = [make_generator(s, cfg.random_weights) for s in cfg.models]
        self.missing_models: dict[str, str] = {}  # system label -> why it cannot run
        self.metrics = [get_metric(m, cfg.random_weights) for m in cfg.metrics]
        self.transcriber = make_transcriber(cfg.asr, self.cfg.device)
        self._samples: dict[str, Sample | BenchError] = {}
        self._records: dict[tuple[str, str, str, str], Record] = {}  # what earlier runs finished

    # -- samples -----------------------------------------------------------------------------
    def sample(self, sample_id: str) -> Sample:
        """The preprocessed sample (cached per process; raises the recorded error on failure)."""
        if sample_id not in self._samples:
            try:
                item = self.items.get(sample_id)
                if item is None:
                    bad = next(m for m in self.mismatches if m.sample == sample_id)
                    raise ManifestError(f"{bad.path or sample_id}: {bad.cause}")
                self._samples[sample_id] = preprocess(item, self.cfg.preprocess, self.transcriber)
            except BenchError as exc:
                self._samples[sample_id] = exc
        got = self._samples[sample_id]
        if isinstance(got, BenchError):
            raise got
        return got

    # -- stages ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        cfg = self.cfg
        k, n = cfg.shard
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with RunLock(self.run_dir / "results" / f"shard-{k}-of-{n}.lock"):
            home = paths.home()
            for root in (paths.preprocessed_dir(), home / "features", home / "stats",
                         self.run_dir / "outputs", self.run_dir):
                clean_stale(root)
            return self._run()

    def _run(self) -> RunResult:
        cfg = self.cfg
        write_json(self.run_dir / "config.json", cfg.to_dict())
        write_json(self.run_dir / "split.json", self.manifest)
        missing = self._setup_metrics()
        prov = provenance.collect(cfg.device, cfg.seed, self.split_sha, sha256_json(cfg.numbers_key(self.split_sha)),
                                  [m.id for m in self.metrics],
                                  {k: v for m in self.metrics for k, v in m.loaded_weights.items()})
        prov["systems"] = [g.describe() for g in self.generators]
        prov["delivery"] = cfg.delivery
        write_json(self.run_dir / "provenance.json", prov)
        k, n = cfg.shard
        log.info("run %s -> %s (shard %d/%d: %d of %d samples; models %s; metrics %s)", self.run_id, self.run_dir,
                 k, n, len(self.shard_ids), len(self.sample_ids), ",".join(cfg.models), ",".join(cfg.metrics))
        for mm in self.mismatches:
            log.warning("split: %s: %s", mm.path or mm.sample, mm.cause)
        # opening the writer cuts a torn tail before anything is read or appended
        writer = ResultsWriter(self.run_dir / "results" / f"shard-{k}-of-{n}.jsonl")
        records = read_records(self.run_dir / "results")
        done = done_keys(records.values())
        self._records = records
        try:
            ok_ids = self._preprocess(writer, records)
            outputs = self._generate(writer, ok_ids, done)
            self._evaluate(writer, ok_ids, outputs, done, missing)
        finally:
            writer.close()
        return self._finish(prov, missing)

    def _setup_metrics(self) -> dict[str, str]:
        missing: dict[str, str] = {}
        for m in self.metrics:
            try:
                m.setup(self.cfg.device)
            except MissingWeightsError as exc:
                missing[m.id] = str(exc)
                log.error("metric %s is MISSING: %s", m.id, exc)
        return missing

    def _preprocess(self, writer: ResultsWriter, records: dict) -> list[str]:
        ok = []
        for sid in tqdm(self.shard_ids, desc="preprocess", unit="clip", disable=None):
            t0 = time.perf_counter()
            try:
                s = self.sample(sid)
            except BenchError as exc:
                log.error("sample %s failed preprocessing: %s", sid, exc)
                writer.write(Record("preprocess", sid, "failed", error=str(exc), error_kind=exc.kind,
                                    seconds=time.perf_counter() - t0))
                continue
            ok.append(sid)
            prev = records.get(("preprocess", "", sid, ""))
            if prev is None or prev.status != "ok":
                writer.write(Record("preprocess", sid, "ok", seconds=time.perf_counter() - t0,
                                    extra={"num_frames": s.num_frames, "text_source": s.text_source,
                                           "cache_key": s.meta["cache_key"], "video": str(s.video),
                                           "audio": str(s.audio)}))
        return ok

    def _generate(self, writer: ResultsWriter, ok_ids: list[str], done: set) -> dict[tuple[str, str], Clip]:
        ctx = GenContext(tuple(self.sample_ids), self.sample, self.cfg.device, self.cfg.seed,
                         self.cfg.random_weights, self.run_dir / "logs")
        outputs: dict[tuple[str, str], Clip] = {}
        ready: set[str] = set()
        todo = [(g, sid) for g in self.generators for sid in ok_ids]
        earlier = [(g, sid) for g, sid in todo if self._failed_before(g.label, sid)]
        if earlier and not self.cfg.retry_failed:
            log.warning("%d output(s) failed in an earlier run of this command and are kept as "
                        "failed; --retry-failed runs only those again", len(earlier))
            todo = [t for t in todo if t not in earlier]
        try:
            self._generate_all(writer, todo, ctx, done, ready, outputs)
        finally:
            for g in self.generators:
                if g.label in ready:
                    g.teardown()
        return outputs

    def _generate_all(self, writer: ResultsWriter, todo: list, ctx: GenContext, done: set,
                      ready: set[str], outputs: dict[tuple[str, str], Clip]) -> None:
        for g, sid in tqdm(todo, desc="generate", unit="output", disable=None):
            out_dir = paths.output_dir(self.run_dir, g.label, sid)
            meta = _read_meta(out_dir)
            if meta is None and ("generate", g.label, sid, "") in done:
                done.difference_update(k for k in list(done) if k[1] == g.label and k[2] == sid)
            if meta is None:
                if g.label in self.missing_models:
                    continue
                if g.label not in ready and not self._setup(g, ctx):
                    continue
                ready.add(g.label)
                meta = self._generate_one(g, self.sample(sid), ctx, out_dir)
                writer.write(Record("generate", sid, meta["status"], model=g.label, seconds=meta["runtime_s"],
                                                    error=meta.get("error"), error_kind=meta.get("error_kind"),
                                    extra={"log_tail": meta["log_tail"]} if meta.get("log_tail") else {}))
            if meta["status"] == "ok":
                s = self.sample(sid)
                outputs[(g.label, sid)] = Clip(out_dir / meta["video"] if meta.get("video") else None,
                                               out_dir / meta["audio"] if meta.get("audio") else None,
                                               s.fps, s.sample_rate, self.cfg.preprocess.max_seconds)

    def _failed_before(self, label: str, sid: str) -> bool:
        prev = self._records.get(("generate", label, sid, ""))
        return prev is not None and prev.status == "failed"

    def _setup(self, g: Generator, ctx: GenContext) -> bool:
        """Start a system (worker, model load); when it cannot start (environment or weights
        missing, model load failing) it is reported as missing, with the fix, and the run goes
        on without it."""
        try:
            g.setup(ctx)
            return True
        except BenchError as exc:
            self.missing_models[g.label] = str(exc)
            log.error("model %s is MISSING: %s", g.label, exc)
            return False

    def _generate_one(self, g: Generator, sample: Sample, ctx: GenContext, out_dir: Path) -> dict[str, Any]:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(out_dir.parent, out_dir.name)
        t0 = time.perf_counter()
        try:
            g.check(sample)
            native = tmp / "native"
            native.mkdir()
            got = g.generate(sample, ctx, native)
            runtime = time.perf_counter() - t0
            p = self.cfg.preprocess
            target = Target(p.size, p.size, p.fps, p.sample_rate, p.max_seconds, self.cfg.delivery)
            video, audio, conv = normalise(got.video, got.audio, Path(sample.audio), target, tmp)
            files = [p.name for p in (video, audio) if p is not None]  # what metrics read first
            files += sorted(p.relative_to(tmp).as_posix() for p in native.rglob("*") if p.is_file())
            meta = {"status": "ok", "model": g.label, "sample": sample.id, "runtime_s": runtime,
                    "video": video.name if video else None, "audio": audio.name if audio else None,
                    "files": {name: cache.digest(tmp / name) for name in files},
                    "normalisation": conv, "calibrated": g.calibrated, "meta": got.meta}
            write_json(tmp / "meta.json", meta)
            shutil.rmtree(out_dir, ignore_errors=True)
            tmp.rename(out_dir)
            return meta
        except BenchError as exc:
            # what the system wrote is kept for inspection (no meta.json: never read as done)
            shutil.rmtree(out_dir, ignore_errors=True)
            tmp.rename(out_dir)
            error = str(exc).replace(str(tmp), str(out_dir))
            log.error("model %s failed on %s: %s", g.label, sample.id, error)
            return {"status": "failed", "runtime_s": time.perf_counter() - t0, "error": error,
                    "error_kind": exc.kind, "log_tail": getattr(exc, "log_tail", None)}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _evaluate(self, writer: ResultsWriter, ok_ids: list[str], outputs: dict, done: set,
                  missing: dict[str, str]) -> None:
        active = [m for m in self.metrics if m.id not in missing]
        labels = [g.label for g in self.generators]
        produces = {g.label: g.produces for g in self.generators}
        scorer = ParallelScorer(writer, self.cfg.workers or os.cpu_count() or 1)
        try:
            for sid in tqdm(ok_ids, desc="evaluate", unit="clip", disable=None):
                self._evaluate_sample(writer, scorer, sid, outputs, done, active, labels, produces)
        except BaseException:
            scorer.abort()
            raise
        scorer.close()

    def _evaluate_sample(self, writer: ResultsWriter, scorer: ParallelScorer, sid: str, outputs: dict, done: set,
                         active: list[Metric], labels: list[str], produces: dict[str, frozenset[str]]) -> None:
        """Features and per-sample scores of one sample: ground truth first, then every model's output."""
        s = self.sample(sid)
        gt = Clip(s.video, s.audio, s.fps, s.sample_rate, self.cfg.preprocess.max_seconds)  # decoded once
        for m in active:
            if isinstance(m, DistributionalMetric):
                self._features(writer, m, REFERENCE, sid, gt, done)
        for label in labels:
            gen = outputs.get((label, sid))
            if gen is None:
                continue  # generation failed: recorded in the generate stage
            for m in active:
                lacking = _lacking(m, produces[label], gen)
                key = ("metric", label, sid, m.id)
                if isinstance(m, DistributionalMetric):
                    self._features(writer, m, label, sid, gen, done, lacking)
                elif key in done:
                    continue
                elif lacking:
                    writer.write(Record("metric", sid, "not_applicable", model=label, metric=m.id, error=lacking))
                else:
                    scorer.submit(m, Pair(s, gen, gt), label, sid, _input_key(m, s, gen))

    def _feature_dir(self, m: DistributionalMetric) -> Path:
        """Features are cached across runs by extractor + weights, then by clip content: a second
        model on the same split computes only its own side, and an output identical to the ground
        truth (or to an earlier run's) is never recomputed."""
        return paths.home() / "features" / f"{paths.safe_name(m.extractor)}-{sha256_json(m.feature_key())[:10]}"

    def _feature_path(self, m: DistributionalMetric, content: str) -> Path:
        return self._feature_dir(m) / f"{content}.npy"

    def _features(self, writer: ResultsWriter, m: DistributionalMetric, label: str, sid: str, clip: Clip,
                  done: set, lacking: str | None = None) -> None:
        key = ("features", label, sid, m.extractor)
        if key in done and self._feature_ok(m, key):
            return
        if lacking:
            writer.write(Record("features", sid, "not_applicable", model=label, metric=m.extractor, error=lacking))
            return
        t0 = time.perf_counter()
        try:
            content = clip.key(m.modality)
            path = self._feature_path(m, content)
            cached = cache.verified(path)
            if cached:
                rows = int(np.load(path, mmap_mode="r").shape[0])  # header only
            else:
                feats = np.asarray(m.features(clip), dtype=np.float32)
                cache.save_npy(path, feats)
                rows = int(feats.shape[0])
        except BenchError as exc:
            log.error("%s features of %s/%s failed: %s", m.extractor, label, sid, exc)
            writer.write(Record("features", sid, "failed", model=label, metric=m.extractor, error=str(exc),
                                error_kind=exc.kind, seconds=time.perf_counter() - t0))
            done.add(key)
            return
        writer.write(Record("features", sid, "ok", model=label, metric=m.extractor, seconds=time.perf_counter() - t0,
                            extra={"rows": rows, "cached": cached, "content": content}))
        done.add(key)

    def _feature_ok(self, m: DistributionalMetric, key: tuple[str, str, str, str]) -> bool:
        """A finished features step whose cached file is still intact (a not-applicable one
        has no file); a damaged file is recomputed."""
        rec = self._records.get(key)
        if rec is None or rec.status != "ok":
            return True
        return cache.verified(self._feature_path(m, rec.extra["content"]))

    def _reduce(self, records: dict) -> dict[tuple[str, str], dict[str, Any]]:
        """Distributional metrics over every shard's features: samples with both sides present."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for m in self.metrics:
            if not isinstance(m, DistributionalMetric):
                continue
            have: dict[str, dict[str, dict]] = {}  # model -> sample -> record extra (rows, content key)
            for r in records.values():
                if r.stage == "features" and r.metric == m.extractor and r.status == "ok":
                    have.setdefault(r.model, {})[r.sample] = r.extra
            ref_have = have.get(REFERENCE, {})
            for g in self.generators:
                gen_have = have.get(g.label, {})
                both = sorted(set(gen_have) & set(ref_have))
                sides = ((g.label, gen_have), (REFERENCE, ref_have))
                damaged = {s: side for s in both for side, h in sides
                           if not cache.verified(self._feature_path(m, h[s]["content"]))}
                ids = [s for s in both if s not in damaged]
                entry: dict[str, Any] = {"n": len(ids), "coverage": len(ids) / len(self.sample_ids),
                                         "rows": sum(gen_have[s]["rows"] for s in ids),
                                         "calibrated": m.calibrated}
                if damaged:
                    entry["missing_features"] = [f"{side}/{s}" for s, side in
                                                 sorted(damaged.items())]
                    log.error("%s for %s: features of %s are missing or damaged (re-run to "
                              "recompute)", m.id, g.label, ", ".join(entry["missing_features"]))
                if not ids:
                    out[(g.label, m.id)] = {**entry, "status": "no_data"}
                    continue
                gen = FeatureSet(tuple(self._feature_path(m, gen_have[s]["content"]) for s in ids))
                ref_keys = [ref_have[s]["content"] for s in ids]
                ref = FeatureSet(tuple(self._feature_path(m, k) for k in ref_keys),
                                 sha256_json([m.feature_key(), ref_keys]))
                try:
                    value = float(m.reduce(gen, ref))
                    out[(g.label, m.id)] = {**entry, "status": "ok", "value": value, "mean": value,
                                            **self._set_ci(m, g.label, gen, ref)}
                except BenchError as exc:
                    log.error("%s for %s failed: %s", m.id, g.label, exc)
                    out[(g.label, m.id)] = {**entry, "status": "failed", "error": str(exc)}
        return out

    @property
    def _boot(self) -> BootstrapConfig:
        return BootstrapConfig(self.cfg.bootstrap, self.cfg.set_bootstrap, self.cfg.seed)

    def _set_ci(self, m: DistributionalMetric, label: str, gen: FeatureSet, ref: FeatureSet) -> dict[str, Any]:
        """The set-resampling bootstrap CI of a distributional metric (empty when it cannot be had)."""
        b = self._boot
        if b.set_resamples < 1 or len(gen) < 2:
            return {}
        try:
            stats = m.resampled(gen, ref, draws(len(gen), b.set_resamples, b.seed))
        except BenchError as exc:
            log.warning("%s for %s: no CI: %s", m.id, label, exc)
            return {"ci_error": str(exc)}
        return {"ci": list(percentile_ci(stats, b.level)), "ci_level": b.level,
                "ci_method": f"set bootstrap (clips resampled), {b.set_resamples} resamples, seed {b.seed}"}

    def _finish(self, prov: dict[str, Any], missing: dict[str, str]) -> RunResult:
        records = read_records(self.run_dir / "results")
        summary = summarize(records, len(self.sample_ids), [g.label for g in self.generators], self.metrics,
                            self._reduce(records), missing, self._boot, self.missing_models,
                            frozenset(g.label for g in self.generators if not g.calibrated))
        summary.update(run_id=self.run_id, dataset=self.cfg.dataset, split_sha256=self.split_sha,
                       shard=list(self.cfg.shard), mismatches=[m.__dict__ for m in self.mismatches],
                       bootstrap=asdict(self._boot))
        write_json(self.run_dir / "summary.json", summary)
        metric_recs = [r for r in records.values() if r.stage == "metric"]
        all_failed = summary["preprocessed"] == 0 or (metric_recs and all(r.status == "failed" for r in metric_recs))
        any_failed = bool(summary["failures"] or self.mismatches or missing or self.missing_models)
        exit_code = 1 if all_failed or (self.cfg.strict and any_failed) else 0
        complete = summary["preprocessed"] == len(self.sample_ids)
        try:
            index.record_run(self.run_id, self.run_dir, self.cfg.to_dict(), prov, summary,
                             "complete" if complete else "partial")
        except (OSError, sqlite3.Error) as exc:
            log.warning("results and summary are written, but the run index %s was not updated: %s",
                        paths.index_path(), exc)
        return RunResult(self.run_id, self.run_dir, summary, exit_code)


def _read_meta(out_dir: Path) -> dict[str, Any] | None:
    """The metadata of a finished output whose files match the digests written with them."""
    meta = cache.verified_record(out_dir / "meta.json", "output")
    return meta if meta is not None and meta.get("status") == "ok" else None


def _input_key(m: Metric, s: Sample, gen: Clip) -> tuple[str, ...]:
    """The content of everything a per-sample metric reads: the sample's ground truth, source
    image, voice profile and text (its preprocessing cache key) and the generated modalities it
    declares. Two pairs with equal keys have equal values."""
    key = [m.id, s.meta["cache_key"]]
    if "gen_video" in m.needs:
        key.append(gen.content_key)
    if "gen_audio" in m.needs:
        key.append(gen.audio_key)
    return tuple(key)


def _lacking(m: Metric, produces: frozenset[str], gen: Clip) -> str | None:
    """Why a metric does not apply to a model's outputs (None when it does)."""
    if "gen_video" in m.needs and ("video" not in produces or not gen.has_video):
        return "model produces no video"
    if "gen_audio" in m.needs and ("audio" not in produces or not gen.has_audio):
        return "model produces no audio"
    return None
