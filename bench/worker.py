"""The bench side of a system's worker: one long-lived process in the system's managed
environment (`bench/serve.py`, whose docstring is the protocol) loads the model once and then
serves samples, so a 200-sample split pays model loading once.

A reply that does not come within the per-sample timeout, or a worker that dies, fails that
sample with the tail of the worker's log; the process group is killed and a fresh worker (model
loaded again) serves the next sample. Workers run in their own session, so a system's child
processes go with it.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

from bench import envs, paths, weights
from bench.errors import GeneratorError, MissingWeightsError
from bench.generators import GenContext, Generated, Generator, Option
from bench.sample import Sample

log = logging.getLogger("bench")
SERVE = Path(__file__).resolve().parent / "serve.py"
TAIL_LINES = 25

WORKER_OPTIONS = {
    "timeout": Option("900", "seconds one sample may take before the worker is killed", int,
                      affects_output=False),
    "load_timeout": Option("1800", "seconds the worker may take to load the model", int,
                           affects_output=False),
}


class WorkerDied(GeneratorError):
    """The worker exited or was killed (crash, timeout): it must be restarted."""


class Worker:
    """One worker process: `request` sends a JSON line and waits for the reply."""

    def __init__(self, python: Path, engine: Path, log_file: Path, label: str):
        self.log_file = log_file
        self.label = label
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a") as f:
            f.write(f"\n=== worker for {label} started {time.strftime('%H:%M:%S')} ===\n")
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(PYTHONNOUSERSITE="1", PYTHONUNBUFFERED="1")
        self._log = open(log_file, "ab")
        self.proc = subprocess.Popen([str(python), "-u", str(SERVE), str(engine)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, start_new_session=True)
        self._buf = b""

    def request(self, req: dict[str, Any], timeout: float, what: str) -> dict[str, Any]:
        start = self.log_file.stat().st_size
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise WorkerDied(f"the {self.label} worker died before {what} "
                             f"(exit {self.proc.returncode})", self.tail(start)) from None
        line = self._read_line(time.monotonic() + timeout)
        if not line:
            if line is not None:  # it died: let it finish exiting, so its exit status is its own
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self.kill()
            cause = (f"took longer than {timeout:g} s (timeout; the worker was killed)"
                     if line is None else f"crashed (worker exit {self.proc.returncode})")
            raise WorkerDied(f"{self.label}: {what} {cause}; log {self.log_file}",
                             self.tail(start))
        reply = json.loads(line)
        if not reply.get("ok"):
            if reply.get("kind") == "missing_weights":
                raise MissingWeightsError(f"{self.label}: {reply['error']}")
            raise GeneratorError(f"{self.label}: {what} failed: {reply['error']}",
                                 self.tail(start))
        return reply

    def _read_line(self, deadline: float) -> bytes | None:
        """The next reply line; b"" when the worker closed its end (it died), None on timeout."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return b""
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def tail(self, start: int = 0) -> str:
        """The last lines the worker wrote to its log since `start` (or before, when none)."""
        with open(self.log_file, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        if not text.strip():
            text = self.log_file.read_text(errors="replace")
        return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self._log.close()

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not within 10 s."""
        if self.proc.poll() is None:
            try:
                self.request({"op": "shutdown"}, 10, "shutdown")
                self.proc.wait(timeout=10)
            except (GeneratorError, subprocess.TimeoutExpired):
                pass
        self.kill()


class WorkerGenerator(Generator):
    """A system run by its official code in its managed environment, through a worker.

    Subclasses name the environment (`env_name`), the engine file beside them (`engine`), and
    the weights-registry entries the engine reads (`weights`; not needed with --random-weights,
    when the engine builds checkpoints in the official layout from a seed) and, where the
    official code reads them from fixed places, where each goes (`layout`, sent to the engine,
    printed by `bench env check`)."""

    env_name: ClassVar[str]
    engine: ClassVar[Path]
    weights: ClassVar[tuple[str, ...]] = ()
    layout: ClassVar[dict[str, str]] = {}  # weights entry -> its path in the official tree
    uses_weights = True

    def __init__(self, options: dict[str, str] | None = None):
        super().__init__(options)
        self._worker: Worker | None = None
        self._init: dict[str, Any] = {}
        self._log_file: Path | None = None

    def describe(self) -> dict[str, Any]:
        rec = envs.record(self.env_name) or {}
        return {**super().describe(), "environment": {
            "name": self.env_name, "spec_sha256": rec.get("spec_sha256"),
            "python": rec.get("python"), "source": rec.get("source"),
            "freeze": rec.get("freeze")}}

    def engine_options(self) -> dict[str, Any]:
        """What the engine receives as `options` (everything but the worker's own)."""
        return {k: v for k, v in self.opts.items() if k not in WORKER_OPTIONS}

    def interpreter(self) -> Path:
        """The managed environment's python (MissingEnvironmentError with the fix if absent)."""
        return envs.require(self.env_name, self.name)

    def setup(self, ctx: GenContext) -> None:
        py = self.interpreter()
        files = {} if ctx.random_weights else {n: str(weights.require(n)[0]) for n in self.weights}
        rec = envs.record(self.env_name) or {}
        src = str(envs.env_dir(self.env_name) / "src") if rec.get("source") else None
        self._init = {"options": self.engine_options(), "random_weights": ctx.random_weights,
                      "seed": ctx.seed, "device": ctx.device, "weights": files, "source": src,
                      "layout": dict(self.layout),
                      "cache_dir": str(paths.home() / "random-checkpoints" / self.name)}
        log_dir = ctx.log_dir or (paths.home() / "logs")
        self._log_file = log_dir / f"{paths.safe_name(self.label)}.log"
        self._python = py
        self._start()

    def _start(self) -> Worker:
        assert self._log_file is not None
        t0 = time.perf_counter()
        w = Worker(self._python, self.engine, self._log_file, self.label)
        try:
            reply = w.request({"op": "init", "config": self._init}, self.opts["load_timeout"],
                              "loading the model")
        except BaseException:
            w.kill()
            raise
        log.info("%s: worker ready in %.1f s (%s)", self.label, time.perf_counter() - t0,
                 reply.get("info") or "no info")
        self._worker = w
        return w

    def inputs(self, sample: Sample, workdir: Path) -> dict[str, str]:
        """Input files prepared the way the system's authors ask, written into workdir and sent
        to the engine as `sample["inputs"]` (default: none; it reads the sample's own files)."""
        return {}

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        inputs = self.inputs(sample, workdir)
        w = self._worker or self._start()
        req = {"op": "generate", "out_dir": str(workdir), "sample": {"inputs": inputs,
            "id": sample.id, "text": sample.text, "source_image": sample.source_image,
            "voice_profile": sample.voice_profile, "audio": sample.audio, "video": sample.video,
            "fps": sample.fps, "sample_rate": sample.sample_rate, "duration": sample.duration,
            "num_frames": sample.num_frames}}
        try:
            reply = w.request(req, self.opts["timeout"], f"sample {sample.id}")
        except WorkerDied:
            self._worker = None
            raise
        out = []
        for key in ("video", "audio"):
            p = Path(reply[key]).resolve() if reply.get(key) else None
            if p is not None and not p.is_relative_to(workdir.resolve()):
                raise GeneratorError(f"{self.label}: the engine wrote {p} outside {workdir}")
            if p is not None and not p.is_file():
                raise GeneratorError(f"{self.label}: the engine reported {p}, which does not "
                                     "exist", w.tail())
            out.append(p)
        return Generated(out[0], out[1], {**reply.get("meta", {}),
                                          "inference_s": round(reply["seconds"], 3)})

    def teardown(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
