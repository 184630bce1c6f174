"""The paper's tables as data: which metric families, which rows, and the cells built from stored
runs (and, with --with-paper, the published numbers). Renderers (reports/render.py) only format.

A column is a metric family (the part of a metric id before '@'); a run's cell is the run's
metric of that family (a run holding two variants of one family uses the first in its metric
order, and every table lists the exact ids it used). Rows are grouped by dataset; within a
group the best calibrated value of each column is marked, the ground truth and paper rows
excluded.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench.generators import parse_spec

from reports.runs import Run

GROUND_TRUTH = "gt"
PAPER_FILE = Path(__file__).with_name("paper_numbers.yaml")


@dataclass(frozen=True)
class Column:
    family: str
    label: str
    higher_is_better: bool

    @property
    def header(self) -> str:
        return f"{self.label} {'↑' if self.higher_is_better else '↓'}"


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    columns: tuple[Column, ...]
    flags: tuple[str, ...] = ()  # check-mark columns (Table 4's components), given per row by the layout
    needs_layout: bool = False  # rows are ablation variants: only the layout can say which models they are


def _c(family: str, label: str, up: bool = False) -> Column:
    return Column(family, label, up)


FID, FVD, FVMD = _c("fid", "FID"), _c("fvd", "FVD"), _c("fvmd", "FVMD")
FAD, MCD, STOI = _c("fad", "FAD"), _c("mcd", "MCD"), _c("stoi", "STOI", True)
SPECS: tuple[TableSpec, ...] = (
    TableSpec("table1", "Table 1: video pipeline evaluation per dataset", (FID, FVD, FVMD)),
    TableSpec("table2", "Table 2: audio pipeline evaluation per dataset", (FAD, MCD, STOI)),
    TableSpec("table3", "Table 3: audio-visual synchronisation",
              (_c("lse-c", "LSE-C", True), _c("lse-d", "LSE-D"), _c("lipsync", "Lip sync"),
               _c("silent-lip", "Silent lip"), _c("lip-dyn", "Lip dyn", True),
               _c("head-dyn", "Head dyn", True), _c("brow-dyn", "Brow dyn", True))),
    TableSpec("table4", "Table 4: ablation of the transformers", (FID, FVD, FVMD, FAD, MCD, STOI),
              flags=("ETE", "STE", "DC", "EC"), needs_layout=True),
    TableSpec("table5", "Table 5: ablation of the encoders", (FID, FVD, FVMD, FAD, MCD, STOI), needs_layout=True),
    TableSpec("supp2", "Supplement Table 2: shared (STE) vs explicit (ETE) transformer encoders per dataset",
              (FAD, MCD, STOI, FID, FVD, FVMD), needs_layout=True),
    TableSpec("fts-video", "Faces that Speak, Tables 1-2: one-shot talking faces",
              (FID, _c("id-sim", "ID-SIM", True), _c("lse-c", "LSE-C", True), _c("diversity", "Diversity", True))),
    TableSpec("fts-speech", "Faces that Speak, Table 3: synthesised speech",
              (_c("wer", "WER"), MCD, _c("csim", "C-SIM", True), _c("f0rmse", "F0 RMSE"))),
)
SPEC_BY_KEY = {s.key: s for s in SPECS}


@dataclass(frozen=True)
class Cell:
    """One number and what goes with it; `status` other than ok says why there is no number."""

    status: str  # ok | missing | failed | n/a | absent (no metric of this family in the run)
    value: float | None = None
    ci: tuple[float, float] | None = None
    std: float | None = None
    n: int = 0
    coverage: float | None = None
    calibrated: bool = True
    metric_id: str | None = None
    best: bool = False


@dataclass(frozen=True)
class Row:
    dataset: str
    model: str  # display name
    cells: tuple[Cell, ...]
    source: str = "ours"  # ours | paper
    flags: frozenset[str] = frozenset()
    n_samples: int | None = None
    reference: bool = False  # ground truth / paper rows: shown, never "best"


@dataclass
class Table:
    spec: TableSpec
    rows: list[Row]
    metric_ids: dict[str, list[str]] = field(default_factory=dict)  # family -> exact ids used
    notes: list[str] = field(default_factory=list)


def family(metric_id: str) -> str:
    return metric_id.split("@")[0]


def run_cell(run: Run, model: str, col: Column) -> Cell:
    """The cell of one run's model for a column's metric family."""
    mid = next((m for m in run.metric_ids if family(m) == col.family), None)
    e = run.entry(model, mid) if mid else None
    if e is None:
        return Cell("absent")
    status = {"ok": "ok", "missing": "missing", "not_applicable": "n/a"}.get(e.get("status", ""), "failed")
    value = e.get("mean", e.get("value"))
    if status == "ok" and value is None:
        status = "failed"
    return Cell(status, value if status == "ok" else None, tuple(e["ci"]) if e.get("ci") else None, e.get("std"),
                int(e.get("n", 0)), e.get("coverage"), bool(e.get("calibrated", True)), mid)


@cache
def load_paper() -> dict[str, Any]:
    """The transcribed paper numbers (read once per process)."""
    return yaml.safe_load(PAPER_FILE.read_text(encoding="utf-8"))


def paper_rows(spec: TableSpec, paper: dict[str, Any]) -> tuple[list[Row], str | None]:
    """The published rows of a table and its citation (none for tables the papers lack)."""
    t = paper["tables"].get(spec.key)
    if not t:
        return [], None
    rows = [Row(r["dataset"], r["model"],
                tuple(Cell("ok", float(r[c.family])) if c.family in r else Cell("absent") for c in spec.columns),
                source="paper", flags=frozenset(r.get("flags", ())), reference=True) for r in t["rows"]]
    return rows, paper["sources"][t["source"]]["citation"]


def _layout_rows(spec: TableSpec, layout: dict[str, Any]) -> list[dict[str, Any]] | None:
    rows = (layout.get("tables") or {}).get(spec.key, {}).get("rows")
    return list(rows) if rows is not None else None


def _resolve(name: str, models: dict[str, Any]) -> str | None:
    """The run's model a layout names: its exact label, or a path-option label without its
    `@hash` (`precomputed:ours` for `precomputed:ours@3f2a1b`) when exactly one matches."""
    if name in models:
        return name
    hits = [m for m in models if re.sub(r"@[0-9a-f]{6}(?=:|$)", "", m) == name]
    return hits[0] if len(hits) == 1 else None


_TABLE5_NAMES = {("tokens", "visual"): "Only Visual Tokens Attended",
                 ("tokens", "audio"): "Only Audio Tokens Attended",
                 ("hifigan", "false"): "No Hifi-GAN", ("wav2vec", "false"): "No Wav2Vec"}


@cache
def _mels_default() -> dict[str, str]:
    from baselines.mels.config import variant_defaults

    return variant_defaults()


def _mels_variant(label: str) -> dict[str, str] | None:
    """The ablation switches of a `mels` row (its label holds those off the paper's defaults)."""
    name, opts = parse_spec(label)
    if name != "mels":
        return None
    return {k: opts.get(k, v) for k, v in _mels_default().items()}


def mels_rows(key: str, models: list[str]) -> list[dict[str, Any]]:
    """Tables 4, 5 and supplement Table 2 made from a run's `mels` variants (no layout needed):
    each variant that differs from the full model in that table's switches only."""
    rows = []
    for m in models:
        v = _mels_variant(m)
        if v is None:
            continue
        off = {k for k in v if v[k] != _mels_default()[k]}
        if key == "table4" and off <= {"te", "dc", "ec"}:
            flags = ([v["te"].upper()] if v["te"] != "none" else []) + [
                f.upper() for f in ("dc", "ec") if v[f] == "true"]
            name = "TE removed" if v["te"] == "none" else " + ".join(flags)
            rows.append({"model": m, "name": name if flags != ["STE"] else "STE only",
                         "flags": flags})
        elif key == "table5" and len(off) <= 1 and not off & {"te", "dc", "ec"}:
            name = _TABLE5_NAMES[next((k, v[k]) for k in off)] if off else "Proposed Model"
            rows.append({"model": m, "name": name})
        elif key == "supp2" and off <= {"te"} and v["te"] != "none":
            rows.append({"model": m, "name": "Shared TE" if v["te"] == "ste" else "Explicit TE"})
    return rows


def _display(model: str, models: list[str]) -> str:
    """'Our Model' for the run's one full-variant `mels` row (as the paper's Tables 1-3)."""
    full = [m for m in models if _mels_variant(m) == _mels_default()]
    return "Our Model" if full == [model] else model


def build_table(spec: TableSpec, runs: list[Run], layout: dict[str, Any] | None = None,
                with_paper: bool = False) -> Table | None:
    """A table from the runs (None when it needs a layout, none names its rows and the runs
    have no `mels` variants to make them from)."""
    layout = layout or {}
    names = {GROUND_TRUTH: "Groundtruth", **(layout.get("names") or {})}
    chosen = _layout_rows(spec, layout)
    derived = {run.run_id: mels_rows(spec.key, run.models) for run in runs} \
        if spec.needs_layout and chosen is None else {}
    if spec.needs_layout and chosen is None and not any(derived.values()) and not with_paper:
        return None
    table = Table(spec, [])
    for run in runs:
        if chosen is not None:
            wanted = chosen
        elif spec.needs_layout:
            wanted = derived[run.run_id]
        else:
            wanted = [{"model": m} for m in run.models]
        for w in wanted:
            model = _resolve(w["model"], run.summary["metrics"])
            if model is None:
                continue
            cells = tuple(run_cell(run, model, c) for c in spec.columns)
            if all(c.status in ("absent", "n/a") for c in cells):
                continue  # e.g. a speech-only model in the video table
            for c in cells:
                if c.metric_id and c.metric_id not in table.metric_ids.setdefault(family(c.metric_id), []):
                    table.metric_ids[family(c.metric_id)].append(c.metric_id)
            name = (w.get("name") or names.get(w["model"]) or names.get(model)
                    or _display(model, run.models))
            table.rows.append(Row(run.dataset, name, cells,
                                  flags=frozenset(w.get("flags", ())), n_samples=run.summary.get("n_samples"),
                                  reference=w["model"] == GROUND_TRUTH))
    if spec.needs_layout and chosen is None and not any(derived.values()):
        table.notes.append("our rows need a layout naming the ablation models (bench report --layout FILE)")
    if with_paper:
        rows, citation = paper_rows(spec, load_paper())
        table.rows.extend(rows)
        if citation:
            table.notes.append(f"[paper] rows: {citation}")
    table.rows = _group(table.rows)
    _mark_best(table)
    return table


def _group(rows: list[Row]) -> list[Row]:
    """Rows by dataset in first-seen order, ours before the paper's within a dataset."""
    order = list(dict.fromkeys(r.dataset for r in rows))
    return sorted(rows, key=lambda r: (order.index(r.dataset), r.source != "ours"))


def _mark_best(table: Table) -> None:
    for ds in dict.fromkeys(r.dataset for r in table.rows):
        idx = [i for i, r in enumerate(table.rows) if r.dataset == ds and not r.reference]
        for j, col in enumerate(table.spec.columns):
            vals = [(table.rows[i].cells[j].value, i) for i in idx
                    if table.rows[i].cells[j].status == "ok" and table.rows[i].cells[j].calibrated]
            if len(vals) < 2:
                continue
            best = max(v for v, _ in vals) if col.higher_is_better else min(v for v, _ in vals)
            for v, i in vals:
                if v == best:
                    row = table.rows[i]
                    cells = list(row.cells)
                    cells[j] = replace(cells[j], best=True)
                    table.rows[i] = replace(row, cells=tuple(cells))


def all_metrics_spec(runs: list[Run]) -> TableSpec:
    """Every metric family of the runs (PSNR, SSIM, KID, PESQ, ... that no paper table has)."""
    cols: dict[str, Column] = {}
    for run in runs:
        for model in run.models:
            for mid in run.metric_ids:
                e = run.entry(model, mid) or {}
                cols.setdefault(family(mid), Column(family(mid), family(mid).upper(), bool(e.get("higher_is_better"))))
    return TableSpec("all", "All metrics of the runs", tuple(cols.values()))


def gt_relative(table: Table) -> Table:
    """THEval's GT-relative score beside every raw column: 1 - |m - GT| / |GT| against the ground
    truth row of the same dataset (eq. 12 of THEval; higher is better, 1 = the GT's own value).
    Cells without a value or a usable GT value (missing, zero) are n/a."""
    gts = {r.dataset: r for r in table.rows if r.reference and r.source == "ours"}
    cols: list[Column] = []
    for c in table.spec.columns:
        cols += [c, Column(f"{c.family}~gt", f"{c.label} vs GT", True)]
    rows = []
    for r in table.rows:
        cells: list[Cell] = []
        for j, cell in enumerate(r.cells):
            g = gts[r.dataset].cells[j] if r.dataset in gts else None
            ok = cell.status == "ok" and g is not None and g.status == "ok" and g.value
            rel = 1 - abs(cell.value - g.value) / abs(g.value) if ok else None
            cells += [cell, replace(cell, value=rel, ci=None, std=None, best=False) if ok
                      else Cell("n/a")]
        rows.append(replace(r, cells=tuple(cells)))
    out = Table(replace(table.spec, columns=tuple(cols)), rows, table.metric_ids,
                [*table.notes, "vs GT: 1 - |m - GT| / |GT| against the dataset's ground-truth row "
                               "(THEval eq. 12), beside the raw value"])
    _mark_best(out)
    return out


def build_tables(runs: list[Run], keys: list[str] | None = None, layout: dict[str, Any] | None = None,
                 with_paper: bool = False, relative: bool = False) -> list[Table]:
    """The paper tables (default: all of them, then `all`), skipping those without rows; with
    `relative`, each with the GT-relative score beside every column."""
    keys = keys or [*SPEC_BY_KEY, "all"]
    specs = [all_metrics_spec(runs) if k == "all" else SPEC_BY_KEY[k] for k in keys]
    tables = [t for s in specs
              if (t := build_table(s, runs, layout, with_paper)) is not None and t.rows]
    return [gt_relative(t) for t in tables] if relative else tables
