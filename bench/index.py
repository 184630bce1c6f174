"""The SQLite index of all runs ($BENCH_HOME/runs.sqlite): `bench runs` lists them and later
tools (report, compare) find runs and their headline numbers without walking directories.
Each update is one transaction, so the index is never half-written. A run is keyed by its id and
its directory: the same settings run into two `--out` directories are two entries."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.paths import index_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT NOT NULL, path TEXT NOT NULL, dataset TEXT NOT NULL, models TEXT NOT NULL,
    metrics TEXT NOT NULL, config_sha256 TEXT NOT NULL, split_sha256 TEXT NOT NULL,
    n_samples INTEGER NOT NULL, coverage REAL NOT NULL, status TEXT NOT NULL,
    bench_version TEXT NOT NULL, git_sha TEXT, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (run_id, path));
CREATE TABLE IF NOT EXISTS scores (
    run_id TEXT NOT NULL, path TEXT NOT NULL, model TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL, std REAL, n INTEGER NOT NULL, coverage REAL NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (run_id, path, model, metric));
"""
# the first schema keyed runs by id alone; its rows are carried over once
_MIGRATE_V1 = """
ALTER TABLE runs RENAME TO runs_v1; ALTER TABLE scores RENAME TO scores_v1;
""" + _SCHEMA + """
INSERT INTO runs SELECT * FROM runs_v1;
INSERT INTO scores SELECT s.run_id, r.path, s.model, s.metric, s.value, s.std, s.n, s.coverage,
    s.status FROM scores_v1 s JOIN runs_v1 r USING (run_id);
DROP TABLE runs_v1; DROP TABLE scores_v1;
"""


def _connect(path: Path | None = None) -> sqlite3.Connection:
    path = path or index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    keys = [r[1] for r in conn.execute("PRAGMA table_info(runs)") if r[5]]
    conn.executescript(_MIGRATE_V1 if keys == ["run_id"] else _SCHEMA)
    return conn


def record_run(run_id: str, run_dir: Path, config: dict[str, Any], provenance: dict[str, Any],
               summary: dict[str, Any], status: str) -> None:
    """Insert or update one run and its per-model scores."""
    now = time.time()
    with closing(_connect()) as conn, conn:
        where = str(run_dir.resolve())
        created = conn.execute("SELECT created FROM runs WHERE run_id=? AND path=?",
                               (run_id, where)).fetchone()
        conn.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
            run_id, where, config["dataset"], json.dumps(config["models"]),
            json.dumps(provenance["metric_ids"]), provenance["config_sha256"], provenance["split_sha256"],
            summary["n_samples"], summary["coverage"], status, provenance["bench_version"],
            provenance.get("git_sha"), created[0] if created else now, now))
        conn.execute("DELETE FROM scores WHERE run_id=? AND path=?", (run_id, where))
        for model, row in summary["metrics"].items():
            for metric, e in row.items():
                conn.execute("INSERT INTO scores VALUES (?,?,?,?,?,?,?,?,?)", (
                    run_id, where, model, metric, e.get("mean", e.get("value")), e.get("std"),
                    e.get("n", 0), e.get("coverage", 0.0), e.get("status", "ok")))


def list_runs() -> list[dict[str, Any]]:
    """All indexed runs, newest first."""
    with closing(_connect()) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY updated DESC")]

