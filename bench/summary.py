"""Aggregate per-sample records into the run summary: per model and metric the mean, standard
deviation, bootstrap CI of the mean, N and coverage (scored samples / samples in the split), plus
failures by stage."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from bench.bootstrap import BootstrapConfig, mean_ci
from bench.results import Record


def summarize(records: dict[tuple[str, str, str, str], Record], n_samples: int, models: list[str],
              metrics: list[Any], dist_values: dict[tuple[str, str], dict[str, Any]],
              missing: dict[str, str], boot: BootstrapConfig = BootstrapConfig(),
              missing_models: dict[str, str] | None = None,
              uncalibrated_models: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`metrics` are Metric instances; `dist_values[(model, metric_id)]` holds distributional results
    (with their set-bootstrap CI); per-sample CIs are drawn here with `boot`. A model in
    `missing_models` (environment or weights not installed) has every cell missing; numbers of
    `uncalibrated_models` (systems on random weights) are marked uncalibrated."""
    missing_models = missing_models or {}
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    frames: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # used, offered (where reported)
    failed: dict[tuple[str, str], int] = defaultdict(int)
    not_applicable: dict[tuple[str, str], int] = defaultdict(int)
    metric_totals = {m.id: getattr(m, "totals", ()) for m in metrics}
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    # in key order, not file order: worker processes finish in any order, and float sums must not care
    for r in sorted(records.values(), key=lambda r: r.key):
        if r.stage != "metric":
            continue
        if r.status == "ok" and r.value is not None:
            values[(r.model, r.metric)].append(r.value)
            for k in metric_totals.get(r.metric, ()):
                sums[(r.model, r.metric)][k] += float(r.extra.get(k, 0.0))
            if "frames_used" in r.extra:
                frames[(r.model, r.metric)][0] += r.extra["frames_used"]
                frames[(r.model, r.metric)][1] += r.extra["frames_offered"]
        elif r.status == "failed":
            failed[(r.model, r.metric)] += 1
        elif r.status == "not_applicable":
            not_applicable[(r.model, r.metric)] += 1
    table: dict[str, dict[str, Any]] = {}
    for model in models:
        row: dict[str, Any] = {}
        for m in metrics:
            entry: dict[str, Any] = {"higher_is_better": m.higher_is_better, "kind": m.kind,
                                     "calibrated": m.calibrated and model not in uncalibrated_models}
            if model in missing_models:
                entry.update(status="missing", error=missing_models[model], n=0, coverage=0.0)
            elif m.id in missing:
                entry.update(status="missing", error=missing[m.id], n=0, coverage=0.0)
            elif m.kind == "distributional":
                entry.update(dist_values.get((model, m.id), {"status": "no_data", "n": 0, "coverage": 0.0}))
            elif not_applicable[(model, m.id)] and not values[(model, m.id)]:
                entry.update(status="not_applicable", n=0, coverage=0.0)
            else:
                v = np.array(values[(model, m.id)], dtype=np.float64)
                entry.update(status="ok" if len(v) else "no_data", n=int(len(v)),
                             failed=failed[(model, m.id)], coverage=len(v) / n_samples if n_samples else 0.0,
                             mean=float(v.mean()) if len(v) else None,
                             std=float(v.std(ddof=1)) if len(v) > 1 else None)
                if (ci := mean_ci(v, boot.resamples, boot.seed, boot.level)) is not None:
                    entry.update(ci=list(ci), ci_level=boot.level,
                                 ci_method=f"per-sample bootstrap, {boot.resamples} resamples, seed {boot.seed}")
                if (model, m.id) in sums:
                    totals = dict(sums[(model, m.id)])
                    entry.update(totals=totals, corpus=m.corpus(totals))
                if (model, m.id) in frames:
                    used, offered = frames[(model, m.id)]
                    entry.update(frames_used=used, frames_offered=offered,
                                 frame_coverage=used / offered if offered else 0.0)
            row[m.id] = entry
        table[model] = row
    stage_fail: dict[str, int] = defaultdict(int)
    for r in records.values():
        if r.status == "failed":
            stage_fail[r.stage] += 1
    ok_pre = sum(1 for r in records.values() if r.stage == "preprocess" and r.status == "ok")
    return {"n_samples": n_samples, "preprocessed": ok_pre,
            "coverage": ok_pre / n_samples if n_samples else 0.0,
            "failures_by_stage": dict(stage_fail), "metrics": table,
            "missing_systems": missing_models,
            "failures": [{"stage": r.stage, "model": r.model, "sample": r.sample, "metric": r.metric,
                          "error": r.error, "kind": r.error_kind}
                         for r in sorted(records.values(), key=lambda r: r.key) if r.status == "failed"]}
