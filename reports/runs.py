"""Stored runs as reports see them: summary, config and provenance of a run directory."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.paths import output_dir
from bench.results import read_records


@dataclass(frozen=True)
class Run:
    """One stored run (a `bench run` output directory)."""

    path: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.summary.get("run_id", self.path.name)

    @property
    def dataset(self) -> str:
        return self.summary.get("dataset") or self.config.get("dataset", "?")

    @property
    def models(self) -> list[str]:
        return list(self.summary["metrics"])

    @property
    def metric_ids(self) -> list[str]:
        return list(next(iter(self.summary["metrics"].values()), {}))

    def entry(self, model: str, metric_id: str) -> dict[str, Any] | None:
        return self.summary["metrics"].get(model, {}).get(metric_id)

    def media(self, model: str, sample: str) -> tuple[Path | None, Path | None]:
        """(video, audio) files of a model's output for a sample (None where absent)."""
        out = output_dir(self.path, model, sample)
        meta_path = out / "meta.json"
        if not meta_path.is_file():
            return None, None
        meta = json.loads(meta_path.read_text())
        return (out / meta["video"] if meta.get("video") else None, out / meta["audio"] if meta.get("audio") else None)

    def ground_truth(self) -> dict[str, tuple[Path | None, Path | None]]:
        """Sample id -> preprocessed ground-truth (video, audio), as recorded at preprocessing."""
        out = {}
        for r in read_records(self.path / "results").values():
            if r.stage == "preprocess" and r.status == "ok" and "video" in r.extra:
                out[r.sample] = (Path(r.extra["video"]), Path(r.extra["audio"]))
        return dict(sorted(out.items()))


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_run(ref: str | Path) -> Run:
    """A run from its directory, or from its run id via the runs index."""
    path = Path(ref)
    if not (path / "summary.json").is_file():
        from bench.index import list_runs

        hits = [r for r in list_runs() if r["run_id"] == str(ref)]
        if not hits:
            raise ConfigError(f"{ref}: not a run directory (no summary.json) and not a run id in the index")
        if len(hits) > 1:
            logging.getLogger("bench").warning(
                "run id %s is indexed in %d directories; using the newest, %s (pass a directory "
                "to choose)", ref, len(hits), hits[0]["path"])
        path = Path(hits[0]["path"])
        if not (path / "summary.json").is_file():
            raise ConfigError(f"run {ref}: {path}/summary.json is gone")
    return Run(path, _read(path / "summary.json"), _read(path / "config.json"), _read(path / "provenance.json"))
