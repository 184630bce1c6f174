"""The HTML report: one self-contained file (figures and videos inlined as data URIs) that can
be mailed, attached to a CI job or opened offline."""

from __future__ import annotations

import base64
import html
import logging
import tempfile
from pathlib import Path

import numpy as np


from bench.audio import load_audio
from bench.errors import BenchError
from bench.video import read_frames, write_video
from reports import figures
from reports.render import html_table
from reports.runs import Run
from reports.tables import GROUND_TRUTH, Table

log = logging.getLogger("bench.report")
PLAYER_SIZE = 256  # videos are re-encoded small (H.264 + AAC) so the report stays a few MB

_CSS = """body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#111;max-width:1400px}
table.results{border-collapse:collapse;margin:8px 0}table.results th{background:#dce6f5;padding:4px 8px;
border-bottom:2px solid #333}table.results td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:center}
table.results tr.group td{border-top:2px solid #999}ul.notes{font-size:12px;color:#444}
figure{margin:12px 0}figcaption{font-size:13px;color:#333}video{margin:4px;border:1px solid #ccc}
.player{display:inline-block;text-align:center;font-size:12px;vertical-align:top}"""


def _img(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _video_uri(frames: np.ndarray, audio: np.ndarray | None) -> str:
    """The decoded clip as a small H.264/AAC MP4 data URI (the stored files are lossless FFV1 MKV,
    which browsers do not play)."""
    step = max(1, frames.shape[1] // PLAYER_SIZE)
    small = frames[:, ::step, ::step]
    small = small[:, : small.shape[1] // 2 * 2, : small.shape[2] // 2 * 2]  # yuv420p needs even sides
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        write_video(out, iter(small), codec="h264", audio=(audio, 16000) if audio is not None else None)
        return "data:video/mp4;base64," + base64.b64encode(out.read_bytes()).decode()


def _media_section(run: Run, n_samples: int) -> list[str]:
    """Frame strip, spectrograms and players for the first n samples with GT and any model output."""
    models = [m for m in run.models if m != GROUND_TRUTH]
    parts = []
    for sid, (gt_video, gt_audio) in run.ground_truth().items():
        media = {m: run.media(m, sid) for m in models}
        vids = {k: v for k, v in {"GT": gt_video, **{m: v for m, (v, _) in media.items()}}.items() if v is not None}
        auds = {k: a for k, a in {"GT": gt_audio, **{m: a for m, (_, a) in media.items()}}.items() if a is not None}
        if len(vids) + len(auds) <= 2:
            continue  # no model output for this sample
        try:
            vids = {k: read_frames(p) for k, p in vids.items()}  # each file decoded once, for all uses
            auds = {k: load_audio(p) for k, p in auds.items()}
            if len(vids) > 1:
                parts.append(_img(figures.frame_strip(vids), f"{sid}: frames of GT and each model at equal timestamps"))
            if len(auds) > 1:
                parts.append(_img(figures.spectrograms(auds), f"{sid}: spectrograms, GT vs generated"))
            players = "".join(f'<div class="player"><video controls width="{PLAYER_SIZE}" preload="metadata" '
                              f'src="{_video_uri(v, auds.get(k))}"></video><br>{html.escape(k)}</div>'
                              for k, v in vids.items())
            parts.append(f"<h3>{html.escape(sid)}</h3>{players}")
        except (BenchError, OSError, ValueError) as exc:  # a bad file costs its figure, not the report
            log.warning("report: media of %s skipped: %s", sid, exc)
            parts.append(f"<p>media of {html.escape(sid)} unavailable: {html.escape(str(exc))}</p>")
        n_samples -= 1
        if n_samples == 0:
            break
    return [f"<h2>{html.escape(run.dataset)}: samples ({html.escape(run.run_id)})</h2>", *parts] if parts else []


def _run_info(runs: list[Run]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.run_id)}</td><td>{html.escape(r.dataset)}</td><td>{r.summary.get('n_samples')}</td>"
        f"<td>{r.summary.get('coverage', 0):.0%}</td><td><code>{html.escape(str(r.summary.get('split_sha256', ''))[:16])}</code></td>"
        f"<td>{html.escape(str(r.provenance.get('bench_version', '')))} {html.escape(str(r.provenance.get('git_sha') or ''))}</td></tr>"
        for r in runs)
    return ("<table class=\"results\"><thead><tr><th>run</th><th>dataset</th><th>samples</th><th>preprocessed</th>"
            f"<th>split manifest</th><th>bench</th></tr></thead><tbody>{rows}</tbody></table>")


def report_html(runs: list[Run], tables: list[Table], ci: str = "pm", media_samples: int = 2) -> str:
    parts = ["<h1>bench report</h1>", _run_info(runs), "<h2>Tables</h2>"]
    for t in tables:
        parts.append(html_table(t, ci))
        if (png := figures.bar_charts(t)) is not None:
            parts.append(_img(png, f"{t.spec.title}: values with 95% bootstrap CIs"))
    for r in runs:
        if media_samples:
            parts += _media_section(r, media_samples)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bench report</title><style>{_CSS}</style>"
            f"</head><body>{''.join(parts)}</body></html>")


