"""Verified cache entries: every cached file carries the size and SHA-256 it was written with, in
a sidecar `<file>.sha256`, and is checked on every read.

A cache that is trusted blindly turns one flipped byte into a wrong number with exit code 0, and a
truncated file into a crash on every later run. Here a file whose size or hash differs from its
sidecar (or that has no sidecar) is reported and treated as absent, so the caller recomputes it
and the rewrite replaces it. The sidecar is written before the file is renamed into place, so a
reader never sees a new file without its digest; a mismatch is never deleted on read (another
process may be reading the file), only replaced by the recomputed entry.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from bench.atomic import atomic_path, write_text
from bench.hashing import sha256_file

log = logging.getLogger("bench")


def digest(path: Path) -> str:
    """`<size>:<sha256>` of a file's bytes."""
    return f"{path.stat().st_size}:{sha256_file(path)}"


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def check(path: Path, want: str) -> str | None:
    """Why `path` does not match the digest `want` (None when it does); size first, it is free."""
    if not path.is_file():
        return "file is missing"
    size, _, sha = want.partition(":")
    if path.stat().st_size != int(size):
        return f"size {path.stat().st_size} B, written as {size} B (truncated or overwritten)"
    if sha256_file(path) != sha:
        return "content differs from the SHA-256 it was written with"
    return None


def verified(path: str | Path) -> bool:
    """True when the cached file exists and matches its sidecar; a mismatch is logged."""
    path = Path(path)
    if not path.is_file():
        return False
    side = sidecar(path)
    if not side.is_file():
        log.warning("cache entry %s has no checksum (written by an older bench or interrupted): "
                    "not trusted, recomputing", path)
        return False
    why = check(path, side.read_text(encoding="utf-8").strip())
    if why is not None:
        log.warning("cache entry %s is corrupt (%s): discarded, recomputing", path, why)
        return False
    return True


@contextmanager
def verified_write(target: str | Path) -> Iterator[Path]:
    """Like atomic_path, and the digest of what was written goes to the sidecar first."""
    target = Path(target)
    with atomic_path(target) as tmp:
        yield tmp
        write_text(sidecar(target), digest(tmp) + "\n")


def verified_record(record: Path, what: str, quiet: bool = False) -> dict | None:
    """The JSON record of a directory entry (a preprocessed sample, a run output) whose `files`
    all match the digests stored in it; None (logged, naming `what`, unless `quiet`) when it is
    absent, unreadable, from an older bench or damaged, so the caller rebuilds the entry."""
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        files = dict(data["files"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        if not quiet:
            log.warning("%s %s has an unreadable or old record: rebuilding it", what, record.parent)
        return None
    # top-level files (what metrics read) first, so a message names the file that matters
    for name, want in sorted(files.items(), key=lambda kv: (kv[0].count("/"), kv[0])):
        if (why := check(record.parent / name, want)) is not None:
            if not quiet:
                log.warning("%s %s is damaged (%s: %s): rebuilding it", what, record.parent, name,
                            why)
            return None
    return data


def save_npy(target: str | Path, array: np.ndarray) -> None:
    with verified_write(target) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def text(path: str | Path, compute: Callable[[], str]) -> str:
    """A cached text (a transcript): read when verified, else computed and written."""
    path = Path(path)
    if verified(path):
        return path.read_text(encoding="utf-8")
    value = compute()
    with verified_write(path) as tmp:
        tmp.write_text(value, encoding="utf-8")
    return value
