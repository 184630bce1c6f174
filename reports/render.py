"""Tables as Markdown, LaTeX, CSV and HTML. Same cells, same marks in every format:
best per dataset in bold, † scored on fewer samples than the split, ‡ random weights
(uncalibrated), ± half-width of the bootstrap CI (or [lo, hi] with ci="interval")."""

from __future__ import annotations

import csv
import html
import io

from reports.tables import Cell, Row, Table

DATASET_NAMES = {"hdtf": "HDTF", "voxceleb": "VoxCeleb", "celebvhq": "CelebV-HQ", "fakeavceleb": "FakeAVCeleb",
                 "lrs2": "LRS2", "lrs3": "LRS3", "unstated": "(not stated)"}
CI_MODES = ("pm", "interval", "none")


def fmt(v: float) -> str:
    """Two decimals as the papers print them; three below 1 (STOI 0.124); three significant
    digits below 0.01 (KID)."""
    if abs(v) >= 1 or v == 0:
        return f"{v:.2f}"
    return f"{v:.3f}" if abs(v) >= 0.01 else f"{v:.3g}"


def dataset_name(d: str) -> str:
    return DATASET_NAMES.get(d, d)


def cell_text(c: Cell, ci: str = "pm") -> tuple[str, bool]:
    """(text, bold) of a cell."""
    if c.status != "ok" or c.value is None:
        return {"missing": "missing", "failed": "failed", "n/a": "n/a"}.get(c.status, "—"), False
    text = fmt(c.value)
    if c.ci and ci == "pm":
        text += f" ± {fmt((c.ci[1] - c.ci[0]) / 2)}"
    elif c.ci and ci == "interval":
        text += f" [{fmt(c.ci[0])}, {fmt(c.ci[1])}]"
    if c.coverage is not None and c.coverage < 1:
        text += "†"
    if not c.calibrated:
        text += "‡"
    return text, c.best


def n_text(row: Row) -> str:
    """Samples scored / samples in the split, as a range over the row's metrics."""
    if row.source == "paper" or row.n_samples is None:
        return ""
    ns = sorted({c.n for c in row.cells if c.status == "ok"})
    if not ns:
        return f"0/{row.n_samples}"
    return f"{ns[0]}/{row.n_samples}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}/{row.n_samples}"


def header(t: Table) -> list[str]:
    return ["Dataset", "Model", *t.spec.flags, *(c.header for c in t.spec.columns), "N"]


def body(t: Table, ci: str) -> list[tuple[list[tuple[str, bool]], bool]]:
    """Rows of (text, bold) cells, and whether the row starts a new dataset group."""
    out, last = [], None
    for r in t.rows:
        first = r.dataset != last
        last = r.dataset
        cells = [(dataset_name(r.dataset) if first else "", False),
                 (r.model + (" [paper]" if r.source == "paper" else ""), False),
                 *(("✓" if f in r.flags else "", False) for f in t.spec.flags),
                 *(cell_text(c, ci) for c in r.cells), (n_text(r), False)]
        out.append((cells, first))
    return out


def notes(t: Table, ci: str) -> list[str]:
    lines = [f"{f.upper()}: `{', '.join(ids)}`" for f, ids in t.metric_ids.items()]
    lines.append("Bold: best per dataset (ground truth and paper rows excluded); N: samples scored / samples in the split.")
    cells = [c for r in t.rows for c in r.cells if c.status == "ok"]
    if ci != "none" and any(c.ci for c in cells):
        lines.append("± is half the width of the 95% bootstrap CI" if ci == "pm" else "[lo, hi]: 95% bootstrap CI")
    if any(c.coverage is not None and c.coverage < 1 for c in cells):
        lines.append("†: scored on fewer samples than the split (coverage < 100%).")
    if any(not c.calibrated for c in cells):
        lines.append("‡: UNCALIBRATED — network metric or system on random weights "
                     "(--random-weights, or random pretrained parts as mels tiny); not comparable "
                     "to anything.")
    if any(c.status == "missing" for r in t.rows for c in r.cells):
        lines.append("missing: the metric's weights or the system's environment/weights are not "
                     "installed (bench weights list, bench env list).")
    return lines + t.notes


def markdown(t: Table, ci: str = "pm") -> str:
    head = header(t)
    lines = [f"### {t.spec.title}", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for cells, _ in body(t, ci):
        lines.append("| " + " | ".join(f"**{x}**" if b else x for x, b in cells) + " |")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes(t, ci)]) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "$": r"\$", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "↑": r"$\uparrow$",
        "↓": r"$\downarrow$", "✓": r"$\checkmark$", "—": "--", "–": "--", "†": r"$^\dagger$", "‡": r"$^\ddagger$"}


def tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def latex(t: Table, ci: str = "pm") -> str:
    """A booktabs table (needs \\usepackage{booktabs,amssymb})."""
    head = header(t)
    lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + tex(t.spec.title) + "}",
             r"\label{tab:" + t.spec.key + "}", r"\begin{tabular}{ll" + "c" * (len(head) - 2) + "}", r"\toprule",
             " & ".join(tex(h) for h in head) + r" \\", r"\midrule"]
    for i, (cells, first) in enumerate(body(t, ci)):
        if first and i:
            lines.append(r"\midrule")
        lines.append(" & ".join(r"\textbf{" + tex(x) + "}" if b else tex(x) for x, b in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip{\footnotesize " +
              r"\par ".join(tex(n.replace("`", "")) for n in notes(t, ci)) + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


CSV_FIELDS = ["table", "dataset", "model", "source", "family", "metric_id", "status", "value", "ci_lo", "ci_hi",
              "std", "n", "n_samples", "coverage", "calibrated", "best"]


def csv_text(t: Table) -> str:
    """One line per cell: machine-readable, nothing rounded."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in t.rows:
        for col, c in zip(t.spec.columns, r.cells):
            w.writerow([t.spec.key, r.dataset, r.model, r.source, col.family, c.metric_id or "", c.status,
                        "" if c.value is None else repr(c.value), *(repr(x) for x in c.ci or ("", "")),
                        "" if c.std is None else repr(c.std), c.n if r.source == "ours" else "",
                        r.n_samples or "", "" if c.coverage is None else repr(c.coverage), c.calibrated, c.best])
    return buf.getvalue()


def html_table(t: Table, ci: str = "pm") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header(t))
    rows = []
    for cells, first in body(t, ci):
        tds = "".join(f"<td>{'<b>' + html.escape(x) + '</b>' if b else html.escape(x)}</td>" for x, b in cells)
        cls = ' class="group"' if first else ""
        rows.append(f"<tr{cls}>{tds}</tr>")
    note = "".join(f"<li>{html.escape(n)}</li>" for n in notes(t, ci))
    return (f"<h3>{html.escape(t.spec.title)}</h3><table class=\"results\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><ul class=\"notes\">{note}</ul>")
