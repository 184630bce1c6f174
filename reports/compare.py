"""`bench compare BASE NEW`: the CI gate on metric deltas.

Per (model, metric) the delta NEW − BASE, read in the metric's better direction. A regression is
a change for the worse that is larger than the tolerance AND puts NEW outside BASE's bootstrap CI
(where BASE has one): noise inside the CI never fails a build, nor does a tiny but "significant"
drift below the tolerance. Runs are incomparable (exit 2) when their numbers mean different
things: another dataset or split manifest, another protocol id for the same metric family, or
other weights (SHA-256) under the same registry name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError
from reports.render import fmt
from reports.runs import Run
from reports.tables import family

OK, IMPROVED, REGRESSION, MISSING, NEW = "ok", "improved", "REGRESSION", "MISSING", "new"
INVALID = "INVALID"  # NaN, ±inf, or a metric marked ok with no value: the gate cannot pass it


@dataclass(frozen=True)
class Tolerance:
    """Allowed worsening: the larger of an absolute amount and a fraction of |BASE|."""

    abs: float = 0.0
    rel: float = 0.0

    def allowed(self, base: float) -> float:
        return max(self.abs, self.rel * abs(base))


def load_tolerances(path: str | Path | None) -> dict[str, Tolerance]:
    """YAML {default: {abs, rel}, <family or metric id>: {abs, rel}}; a metric id beats its family."""
    if path is None:
        return {"default": Tolerance()}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a tolerance file maps metric ids or families to {{abs: X, rel: Y}}")
    try:
        out = {str(k): Tolerance(**(v or {})) for k, v in data.items()}
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc} (allowed keys: abs, rel)") from exc
    out.setdefault("default", Tolerance())
    return out


@dataclass(frozen=True)
class Delta:
    model: str
    metric: str
    status: str
    base: float | None = None
    new: float | None = None
    allowed: float | None = None
    why: str = ""

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.new is None else self.new - self.base


@dataclass
class Comparison:
    deltas: list[Delta]
    incomparable: list[str]

    @property
    def exit_code(self) -> int:
        if self.incomparable:
            return 2
        return 1 if any(d.status in (REGRESSION, MISSING, INVALID) for d in self.deltas) else 0


def incomparabilities(base: Run, new: Run) -> list[str]:
    """Why the two runs' numbers cannot be compared (empty when they can)."""
    why = []
    if base.dataset != new.dataset:
        why.append(f"dataset differs: {base.dataset} vs {new.dataset}")
    if base.summary.get("split_sha256") != new.summary.get("split_sha256"):
        why.append(f"split manifest differs: {base.summary.get('split_sha256')} vs {new.summary.get('split_sha256')}")
    by_family: dict[str, set[str]] = {}
    for mid in set(base.metric_ids) | set(new.metric_ids):
        by_family.setdefault(family(mid), set()).add(mid)
    for fam, ids in sorted(by_family.items()):
        if not (ids <= set(base.metric_ids) or ids <= set(new.metric_ids)) and len(ids) > 1:
            why.append(f"{fam}: different protocol ids: {', '.join(sorted(ids))}")
    wb, wn = base.provenance.get("weights_sha256", {}), new.provenance.get("weights_sha256", {})
    for name in sorted(set(wb) & set(wn)):
        if wb[name] != wn[name]:
            why.append(f"weights '{name}' differ: {wb[name]} vs {wn[name]}")
    return why


def _value(e: dict[str, Any] | None) -> float | None:
    if not e or e.get("status") != "ok":
        return None
    return e.get("mean", e.get("value"))


def invalid(e: dict[str, Any] | None) -> str | None:
    """Why an entry marked ok has no usable number (None when it has one, or is not ok)."""
    if not e or e.get("status") != "ok":
        return None
    v = e.get("mean", e.get("value"))
    if v is None:
        return "status ok but no value"
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return f"value {v!r} is not a number"
    if not math.isfinite(v):
        return f"value is {v}"
    return None


def unusable_base(base: Run) -> list[str]:
    """BASE entries that cannot serve as a baseline (the gate is then meaningless: exit 2)."""
    return [f"BASE {model} / {metric}: {why}" for model in base.models for metric in base.metric_ids
            if (why := invalid(base.entry(model, metric))) is not None]


def judge(model: str, metric: str, b: dict[str, Any], n: dict[str, Any] | None, tol: Tolerance) -> Delta:
    """One (model, metric) verdict."""
    if (why := invalid(n)) is not None:
        return Delta(model, metric, INVALID, _value(b) if invalid(b) is None else None, None,
                     why=f"NEW {why}")
    bv, nv = _value(b), _value(n)
    if bv is None:
        return Delta(model, metric, NEW if nv is not None else OK, bv, nv, why="no value in BASE")
    if nv is None:
        status = (n or {}).get("status", "absent from NEW")
        return Delta(model, metric, MISSING, bv, nv, why=f"NEW has no value ({status})")
    up = bool(b.get("higher_is_better", False))
    worse = (bv - nv) if up else (nv - bv)  # > 0: NEW is worse
    allowed = tol.allowed(bv)
    ci = b.get("ci")
    inside = ci is not None and ci[0] <= nv <= ci[1]
    if worse > allowed and not inside:
        return Delta(model, metric, REGRESSION, bv, nv, allowed,
                     "worse than tolerance" + (" and outside BASE's CI" if ci else " (BASE has no CI)"))
    if worse > allowed:
        return Delta(model, metric, OK, bv, nv, allowed, "worse than tolerance but inside BASE's CI")
    if worse < 0 and -worse > allowed and not inside:
        return Delta(model, metric, IMPROVED, bv, nv, allowed)
    return Delta(model, metric, OK, bv, nv, allowed)


def compare(base: Run, new: Run, tolerances: dict[str, Tolerance]) -> Comparison:
    deltas = []
    for model in base.models:
        for metric in base.metric_ids:
            tol = tolerances.get(metric) or tolerances.get(family(metric)) or tolerances["default"]
            deltas.append(judge(model, metric, base.entry(model, metric) or {}, new.entry(model, metric), tol))
    for model in new.models:
        for metric in new.metric_ids:
            e = new.entry(model, metric)
            if base.entry(model, metric) is None and e and e.get("status") == "ok":
                bad = invalid(e)
                deltas.append(Delta(model, metric, INVALID if bad else NEW, None,
                                    None if bad else _value(e),
                                    why=f"NEW {bad}" if bad else "not in BASE"))
    return Comparison(deltas, incomparabilities(base, new) + unusable_base(base))


def markdown(c: Comparison, base: Run, new: Run) -> str:
    lines = [f"## bench compare: {base.run_id} → {new.run_id}", ""]
    if c.incomparable:
        lines += ["**INCOMPARABLE** (exit 2):", *[f"- {w}" for w in c.incomparable], ""]
    statuses = (INVALID, REGRESSION, MISSING, IMPROVED, OK, NEW)
    counts = {s: sum(d.status == s for d in c.deltas) for s in statuses}
    lines += [", ".join(f"{k}: {v}" for k, v in counts.items() if v), "",
              "| model | metric | base | new | Δ | allowed | status |", "|---|---|---|---|---|---|---|"]
    order = {INVALID: 0, REGRESSION: 1, MISSING: 2, IMPROVED: 3, NEW: 4, OK: 5}
    for d in sorted(c.deltas, key=lambda d: order[d.status]):
        def f(v: float | None) -> str:
            return "—" if v is None else fmt(v)
        status = d.status + (f" ({d.why})" if d.why else "")
        lines.append(f"| {d.model} | `{d.metric}` | {f(d.base)} | {f(d.new)} | "
                     f"{'—' if d.delta is None else f'{d.delta:+.4g}'} | {f(d.allowed)} | {status} |")
    return "\n".join(lines) + "\n"
