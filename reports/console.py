"""The table `bench run` prints: one row per model, one column per metric, mean ± sd (N)."""

from __future__ import annotations

from typing import Any


def _cell(e: dict[str, Any]) -> str:
    status = e.get("status")
    if status == "missing":
        return "MISSING"
    if status == "not_applicable":
        return "n/a"
    if status in ("no_data", "failed") or e.get("mean") is None:
        return "failed" if status == "failed" or e.get("failed") else "-"
    text = f"{e['mean']:.4g}" + ("" if e.get("calibrated", True) else " [UNCALIBRATED]")
    if e.get("std") is not None:
        text += f" ± {e['std']:.2g}"
    return f"{text} (N={e['n']})"


def summary_table(summary: dict[str, Any]) -> str:
    """Markdown table of a run summary, with arrows for the better direction and a coverage line."""
    rows = summary["metrics"]
    metric_ids = list(next(iter(rows.values()), {}).keys())
    head = ["model"] + [f"{m} {'↑' if rows[next(iter(rows))][m]['higher_is_better'] else '↓'}" for m in metric_ids]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for model, row in rows.items():
        lines.append("| " + " | ".join([model] + [_cell(row[m]) for m in metric_ids]) + " |")
    lines.append("")
    lines.append(f"samples: {summary['preprocessed']}/{summary['n_samples']} preprocessed "
                 f"(coverage {summary['coverage']:.0%}); failures by stage: {summary['failures_by_stage'] or 'none'}")
    systems = summary.get("missing_systems") or {}
    lines += [f"MISSING system {m}: {err}" for m, err in systems.items()]
    missing = {m: e["error"] for model, row in rows.items() if model not in systems
               for m, e in row.items() if e.get("status") == "missing"}
    lines += [f"MISSING {m}: {err}" for m, err in missing.items()]
    if any(not e.get("calibrated", True) for row in rows.values() for e in row.values()):
        lines.append("UNCALIBRATED: networks (metrics or systems) ran on random weights "
                     "(--random-weights, or a system with random pretrained parts such as mels "
                     "tiny); these numbers are not comparable to anything")
    return "\n".join(lines)
