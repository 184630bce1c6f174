"""Per-sample results: one JSON line per (stage, model, sample, metric), with errors.

Each shard appends to its own file under <run>/results/ and fsyncs every line, so a killed run
loses at most the line being written (a torn last line is ignored on reading) and shards never
contend for a file. Reading merges all files; for a key seen twice the last line wins, which is
how a failed step that succeeds on a re-run replaces its failure.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

Status = Literal["ok", "failed", "not_applicable", "missing_weights"]
DONE: frozenset[str] = frozenset({"ok", "not_applicable"})


@dataclass(frozen=True)
class Record:
    """One outcome. `stage` is preprocess, generate or metric; `value` is set when status is ok."""

    stage: str
    sample: str
    status: Status
    model: str = ""
    metric: str = ""
    value: float | None = None
    error: str | None = None
    error_kind: str | None = None
    seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.stage, self.model, self.sample, self.metric


class ResultsWriter:
    """Append-only JSONL writer for one shard."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "a", encoding="utf-8")

    def write(self, record: Record) -> None:
        self._f.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def read_records(results_dir: Path) -> dict[tuple[str, str, str, str], Record]:
    """All records of a run (every shard), last one per key."""
    out: dict[tuple[str, str, str, str], Record] = {}
    for path in sorted(results_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = Record(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue  # a line torn by a kill
            out[rec.key] = rec
    return out


def done_keys(records: Iterable[Record]) -> set[tuple[str, str, str, str]]:
    return {r.key for r in records if r.status in DONE}
