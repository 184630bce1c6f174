"""Per-sample results: one JSON line per (stage, model, sample, metric), with errors.

Each shard appends to its own file under <run>/results/ and fsyncs every line, so a killed run
loses at most the line being written, and shards never contend for a file. A line torn by a kill,
a full disk or a power loss is cut (and reported) before the next append, so it can never swallow
the record written after it. One process at a time writes a shard (`RunLock`). Reading merges all
files; for a key seen twice the last line wins, which is how a failed step that succeeds on a
re-run replaces its failure.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

from bench.errors import ConfigError

log = logging.getLogger("bench")
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


def cut_torn_tail(path: Path) -> int:
    """Remove a partial last line (no newline, not a whole record); the bytes cut. A whole record
    that only lacks its newline is kept and completed."""
    if not path.is_file():
        return 0
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        block = min(size, 1 << 16)
        while True:  # find the last newline, reading backwards
            f.seek(size - block)
            tail = f.read(block)
            nl = tail.rfind(b"\n")
            if nl >= 0 or block == size:
                break
            block = min(size, block * 2)
        start = size - block + nl + 1 if nl >= 0 else 0
        f.seek(start)
        fragment = f.read()
        try:
            Record(**json.loads(fragment))
            f.write(b"\n")
            return 0
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError):
            f.truncate(start)
    log.warning("%s ended in a torn line (%d bytes, the run was killed while writing): cut it "
                "before appending", path, size - start)
    return size - start


class ResultsWriter:
    """Append-only JSONL writer for one shard."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        cut_torn_tail(path)
        self._f = open(path, "a", encoding="utf-8")

    def write(self, record: Record) -> None:
        self._f.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


class RunLock:
    """An exclusive lock on one (run directory, shard): a second `bench run` on the same shard is
    refused with the holder's pid. The kernel drops the lock when its process dies, so a killed
    run's lock is taken over at once; other shards of the run lock their own files."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"{self.path.parent.parent}: this run and shard are being written "
                              f"by another bench process ({holder}); wait for it or stop "
                              "it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (unlinking it would race)
            self._fd = None


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
