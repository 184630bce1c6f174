"""Report figures (matplotlib, Agg, PNG bytes): frame strips of GT vs each model at equal
timestamps (the paper's Fig. 3), GT vs generated spectrograms (Fig. 5), and metric bar charts with
their bootstrap CIs per dataset. Media are read from the run's stored outputs and the preprocessed
ground truth it recorded; nothing is recomputed."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from reports.render import dataset_name  # noqa: E402
from reports.tables import Table  # noqa: E402

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def frame_strip(clips: dict[str, np.ndarray], k: int = 6) -> bytes:
    """One row per decoded video (GT first), k frames at the same timestamps (equal intervals over
    the shortest clip, so column j is the same instant in every row)."""
    t = min(len(c) for c in clips.values())
    idx = np.linspace(0, t - 1, k).round().astype(int)
    fig, axes = plt.subplots(len(clips), k, figsize=(1.6 * k, 1.6 * len(clips)), squeeze=False)
    for i, (name, frames) in enumerate(clips.items()):
        for j, f in enumerate(idx):
            ax = axes[i][j]
            ax.imshow(frames[f])
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, fontsize=8)
            if i == 0:
                ax.set_title(f"{f / 25:.2f} s", fontsize=8)
    return _png(fig)


def spectrograms(audios: dict[str, np.ndarray], rate: int = 16000) -> bytes:
    """Log-magnitude STFT (25 ms Hann window, 10 ms hop) of GT and each model's decoded audio at
    `rate`, same colour scale."""
    specs = {}
    for name, x in audios.items():
        _, _, z = signal.stft(x, fs=rate, nperseg=400, noverlap=240)
        specs[name] = 20 * np.log10(np.abs(z) + 1e-6)
    top = max(s.max() for s in specs.values())
    fig, axes = plt.subplots(len(specs), 1, figsize=(8, 1.6 * len(specs)), squeeze=False)
    for ax, (name, s) in zip(axes[:, 0], specs.items()):
        ax.imshow(s, origin="lower", aspect="auto", vmin=top - 80, vmax=top, cmap="magma",
                  extent=(0, s.shape[1] * 0.01, 0, rate / 2000))
        ax.set_ylabel(f"{name}\nkHz", fontsize=8)
    axes[-1, 0].set_xlabel("s")
    return _png(fig)


def bar_charts(table: Table) -> bytes | None:
    """One panel per (dataset, column): our models' values with their CI as error bars
    (uncalibrated values hatched)."""
    ours = [r for r in table.rows if r.source == "ours"]
    datasets = list(dict.fromkeys(r.dataset for r in ours))
    cols = [j for j, _ in enumerate(table.spec.columns) if any(r.cells[j].status == "ok" for r in ours)]
    if not ours or not cols:
        return None
    fig, axes = plt.subplots(len(datasets), len(cols), figsize=(3.2 * len(cols), 2.6 * len(datasets)), squeeze=False)
    for a, ds in enumerate(datasets):
        rows = [r for r in ours if r.dataset == ds]
        for b, j in enumerate(cols):
            ax = axes[a][b]
            for x, r in enumerate(rows):
                c = r.cells[j]
                if c.status != "ok" or c.value is None:
                    continue
                err = None if not c.ci else [[max(c.value - c.ci[0], 0)], [max(c.ci[1] - c.value, 0)]]
                ax.bar(x, c.value, yerr=err, capsize=3, color=PALETTE[x % len(PALETTE)],
                       hatch=None if c.calibrated else "//", edgecolor="black", linewidth=0.5)
            ax.set_xticks(range(len(rows)), [r.model for r in rows], rotation=30, ha="right", fontsize=7)
            ax.set_title(f"{dataset_name(ds)}: {table.spec.columns[j].header}", fontsize=9)
    fig.tight_layout()
    return _png(fig)
