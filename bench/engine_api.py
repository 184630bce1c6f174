"""What engines (the code that calls a system's official inference inside its managed
environment) share: errors the worker reports by kind, seeding, and writing a WAV with the
standard library. Standard library only (numpy and torch are used when the environment has
them)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import time
import wave
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable


class EngineError(Exception):
    """A failure the engine names itself (reported as `kind`)."""

    kind = "error"


class MissingWeights(EngineError):
    kind = "missing_weights"


def sample_seed(seed: int, sample_id: str) -> int:
    """A per-sample seed independent of the order samples are served in."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:4], "big")


def seed_all(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def write_wav(path: str | Path, samples: Any, rate: int) -> str:
    """Float samples in [-1, 1] (a sequence or 1-D array) -> 16-bit mono WAV; returns the path."""
    import numpy as np

    x = np.clip(np.asarray(samples, dtype=np.float64).reshape(-1), -1.0, 1.0)
    pcm = (x * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return str(path)


# Runs an official script as `python SCRIPT ARGS` from the repository root would, after seeding
# the generators the script itself never seeds (so a run is repeatable): sys.argv and sys.path[0]
# are what the plain command gives.
_LAUNCH = """
import os, random, runpy, sys
seed, script = int(sys.argv[1]), sys.argv[2]
random.seed(seed)
try:
    import numpy; numpy.random.seed(seed % 2**32)
except ImportError:
    pass
try:
    import torch; torch.manual_seed(seed)
except ImportError:
    pass
sys.argv = sys.argv[2:]
sys.path[0] = os.path.dirname(os.path.realpath(script))
runpy.run_path(script, run_name="__main__")
"""


def run_official(script: str, args: Iterable[str], cwd: Path, device: str, seed: int,
                 env: dict[str, str] | None = None) -> list[str]:
    """Run an official entry point (`script`, relative to `cwd`, the job's copy of the repo
    root) in this interpreter, with the environment's bin first on PATH; its output goes to the
    worker's log, `--device cpu` hides the GPUs. A non-zero exit is an EngineError naming the
    command and its last output lines. Returns the command line."""
    cmd = ["python", script, *map(str, args)]
    run_env = {**os.environ, **(env or {})}
    # the environment's bin first: its python, and the ffmpeg the spec pins (fix-up
    # ffmpeg-from-imageio) rather than whatever the machine has
    run_env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), run_env.get("PATH", "")])
    if not device.startswith("cuda"):
        run_env["CUDA_VISIBLE_DEVICES"] = ""
    print(f"[engine] (cd {cwd}; {' '.join(cmd)})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    last: deque[str] = deque(maxlen=3)
    with subprocess.Popen([sys.executable, "-c", _LAUNCH, str(seed), script, *cmd[2:]],
                          cwd=cwd, env=run_env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:  # to the log as it comes; the last lines name a failure
            line = raw.decode(errors="replace")
            sys.stderr.write(line)
            if line.strip():
                last.append(line.strip())
        code = proc.wait()
    print(f"[engine] exit {code} after {time.perf_counter() - t0:.1f} s", file=sys.stderr,
          flush=True)
    if code:
        raise EngineError(f"`{' '.join(cmd)}` (in {cwd}) exited with {code}; its last output: "
                          + " | ".join(last))
    return cmd


def job_tree(src: Path, dest: Path, own: Iterable[str] = ()) -> Path:
    """A per-job copy of the official repository at `dest`: every entry links into `src`, except
    the folders in `own` (paths relative to the root), which are real folders whose files link
    into `src` (or empty when `src` has none). The official code writes into those folders
    (Audio2Head's ./results/temp.wav, Hallo's .cache, EAT's demo/), so parallel jobs never
    share them and the installed source stays untouched."""
    mine = {Path(o) for o in own}
    chain = mine | {p for o in mine for p in o.parents}

    def fill(rel: Path, deep: bool) -> None:
        (dest / rel).mkdir(parents=True, exist_ok=True)
        here = src / rel
        for entry in sorted(here.iterdir()) if here.is_dir() else ():
            r = rel / entry.name
            if entry.is_dir() and not entry.is_symlink() and (deep or r in chain):
                fill(r, deep or r in mine)
            else:
                os.symlink(entry, dest / r)

    shutil.rmtree(dest, ignore_errors=True)
    fill(Path("."), False)
    for o in mine:
        (dest / o).mkdir(parents=True, exist_ok=True)
    return dest


def random_checkpoints(cache_dir: str | Path, seed: int, build: Callable[[Path], None]) -> Path:
    """`cache_dir/seed-N`, filled once by `build(dir)` with seeded random-init checkpoints in
    the official layout; an interrupted build (no `complete` marker) is redone."""
    d = Path(cache_dir) / f"seed-{seed}"
    if not (d / "complete").is_file():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        seed_all(seed)
        build(d)
        (d / "complete").touch()
    return d


def link_layout(root: Path, files: dict[str, str]) -> Path:
    """Symlink verified weights into the official layout under `root` (official relative path
    -> file; a path ending in "/" takes the file's whole folder: a model directory)."""
    for rel, path in files.items():
        link = root / rel.rstrip("/")
        target = Path(path).parent if rel.endswith("/") else Path(path)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(target, link)
    return root
