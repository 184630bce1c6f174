"""`bench report`: stored runs -> the paper's tables (md, latex, csv) or the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.atomic import write_text
from bench.errors import ConfigError
from reports import render
from reports.runs import load_run
from reports.tables import SPEC_BY_KEY, build_tables

FORMATS = ("md", "latex", "csv", "html")
LATEX_PREAMBLE = "% needs \\usepackage{booktabs,amssymb}\n"


def load_layout(path: str | Path | None) -> dict[str, Any]:
    """Display names and the rows of the ablation tables:
    {names: {label: name}, tables: {table4: {rows: [{model, name, flags: [ETE, DC]}]}}}."""
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or set(data) - {"names", "tables"}:
        raise ConfigError(f"{path}: a layout has the keys names and tables")
    for key, t in (data.get("tables") or {}).items():
        if key not in SPEC_BY_KEY:
            raise ConfigError(f"{path}: unknown table '{key}' (known: {', '.join(SPEC_BY_KEY)})")
        if not all(isinstance(r, dict) and "model" in r for r in (t or {}).get("rows", [])):
            raise ConfigError(f"{path}: {key}.rows must be a list of {{model: LABEL, name: ..., flags: [...]}}")
    return data


def make_report(run_refs: list[str], fmt: str, out: str | Path | None = None, tables: list[str] | None = None,
                layout: str | Path | None = None, with_paper: bool = False, ci: str = "pm",
                media_samples: int = 2, relative: bool = False) -> str:
    """The report as text (md/latex/csv; csv tables separated by a blank line) and, with `out`,
    written there: report.md, tables.tex, <table>.csv, or report.html. Returns what it wrote or
    the text to print."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
    if ci not in render.CI_MODES:
        raise ConfigError(f"--ci must be one of {', '.join(render.CI_MODES)}")
    unknown = [t for t in tables or [] if t not in SPEC_BY_KEY and t != "all"]
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(SPEC_BY_KEY)}, all")
    runs = [load_run(r) for r in run_refs]
    built = build_tables(runs, tables, load_layout(layout), with_paper, relative)
    if not built:
        raise ConfigError("no table has any data: the runs hold none of the tables' metrics")
    out_dir = Path(out) if out else None
    if fmt == "html":
        from reports.html import report_html

        path = (out_dir or Path(".")) / "report.html"
        write_text(path, report_html(runs, built, ci, media_samples))
        return f"wrote {path}"
    if fmt == "csv":
        texts = {f"{t.spec.key}.csv": render.csv_text(t) for t in built}
    elif fmt == "md":
        texts = {"report.md": "\n".join(render.markdown(t, ci) for t in built)}
    else:
        texts = {"tables.tex": LATEX_PREAMBLE + "\n".join(render.latex(t, ci) for t in built)}
    if out_dir is None:
        return "\n".join(texts.values())
    for name, text in texts.items():
        write_text(out_dir / name, text)
    return "wrote " + ", ".join(str(out_dir / n) for n in texts)
