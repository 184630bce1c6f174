"""Atomic file writes: write a temp file beside the target, fsync, rename.

A run killed at any moment leaves either the old file or the new one, never half of one; this is
what makes re-running a killed run safe. Temp names carry the writer's host and pid
(`.<name>~<host>~<pid>~<random>`), so a later run can tell a dead writer's leftovers from a live
writer's work in progress (`clean_stale`). Files and directories get the permissions the umask
asks for (mkstemp alone would make them 0600/0700 and hide a lab's shared cache from colleagues).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger("bench")
_TEMP = re.compile(r"~(?P<host>[^~]+)~(?P<pid>\d+)~")
FOREIGN_STALE_S = 24 * 3600  # another host's temp entry is left alone for a day


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (setting it to read it
    would briefly affect files that other threads create)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def temp_prefix(name: str) -> str:
    """The prefix of a temp entry for `name`, naming this host and process."""
    return f".{name}~{socket.gethostname()}~{os.getpid()}~"


def make_temp_dir(parent: Path, name: str) -> Path:
    """A fresh temp directory for building `parent/name`, with umask permissions."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(name), dir=parent))
    tmp.chmod(dir_mode())
    return tmp


@contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path in the target's directory; on success it replaces the target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=suffix or target.suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        tmp_path.chmod(file_mode())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | Path, text: str) -> None:
    """Atomically write a UTF-8 text file (creating its directory)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, obj: Any) -> None:
    """Atomically write pretty JSON."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Hard-link when possible (same filesystem, no extra disk), else copy; atomic either way."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    return True


def is_stale(entry: Path) -> bool:
    """A temp entry whose writer is gone: a dead pid on this host, or a day old from another."""
    m = _TEMP.search(entry.name)
    if m is None or not entry.name.startswith("."):
        return False
    if m["host"] == socket.gethostname():
        return int(m["pid"]) != os.getpid() and not pid_alive(int(m["pid"]))
    try:
        return time.time() - entry.lstat().st_mtime > FOREIGN_STALE_S
    except FileNotFoundError:
        return False


def clean_stale(root: Path, depth: int = 2) -> int:
    """Remove stale temp entries up to `depth` levels below `root`; how many were removed."""
    if not root.is_dir():
        return 0
    removed = 0
    level = [root]
    for _ in range(depth):
        below: list[Path] = []
        for d in level:
            try:
                children = list(d.iterdir())
            except OSError:
                continue
            for p in children:
                if is_stale(p):
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)
                    log.warning("removed %s, left by a killed writer", p)
                    removed += 1
                elif p.is_dir() and not p.name.startswith("."):
                    below.append(p)
        level = below
    return removed
