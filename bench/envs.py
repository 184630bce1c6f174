"""Managed environments: every external system runs in a virtual environment of its own, built
from a pinned spec kept in the project (`baselines/envs/<name>.toml`), because each system's pins
conflict with bench's (and bench's own environment must never get torchvision/torchaudio).

An environment lives at `$BENCH_HOME/envs/<name>/` (`$BENCH_ENVS` overrides the parent). It is
built in place and counts as installed only once `bench-env.json` is written last, recording the
spec's digest, the interpreter, `pip freeze`, the fix-ups applied and where the official source
came from; an interrupted build is therefore never used, and a spec edited since the build is
reported as stale. Spec keys:

    description = "..."
    first = ["torch==2.13.0"]          # installed before the rest (the CPU wheel, never CUDA)
    requirements = ["coqui-tts==0.28.0", ...]
    no_deps = ["torchaudio==2.11.1"]   # installed with --no-deps afterwards
    fixups = ["torchaudio-no-native"]  # names in FIXUPS, applied in order
    imports = ["TTS", "torch"]         # what `bench env check` imports
    patches = ["sadtalker/cpu.patch"]  # files under baselines/envs/patches/, applied to src
    install_source = true              # `pip install --no-deps` the (patched) source, as its
                                       # README's `pip install .` does
    [source]                            # optional official code, copied to <env>/src
    git = "https://github.com/..."
    commit = "0123abcd..."

A patch is a reviewed fix the official code needs to run at all here (a hard-coded `.cuda()` on
a CPU machine, an API removed from a pinned-out package); its first lines say why. Patches are
applied with `git apply` after the source is placed, in order, and any that does not apply
fails the build; the spec's digest covers them, so editing one makes the environment stale.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from bench import paths
from bench.atomic import write_json
from bench.errors import BenchError, ConfigError

log = logging.getLogger("bench")
SPEC_DIR = Path(__file__).resolve().parent.parent / "baselines" / "envs"
PATCH_DIR = SPEC_DIR / "patches"
RECORD = "bench-env.json"


class MissingEnvironmentError(BenchError):
    """A system's managed environment is not installed (or is stale); the message says how to
    build it."""

    kind = "missing_environment"


@dataclass(frozen=True)
class EnvSpec:
    name: str
    description: str
    requirements: tuple[str, ...]
    first: tuple[str, ...] = ()
    no_deps: tuple[str, ...] = ()
    fixups: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    source: dict[str, str] = field(default_factory=dict)
    patches: tuple[str, ...] = ()
    install_source: bool = False
    digest: str = ""


def _site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


def _torchaudio_no_native(env: Path) -> str:
    """torchaudio's wheels link a torch build other than the CPU one installed: drop its native
    libraries, keeping the pure-Python parts (mel filters, resampling) the systems import."""
    lib = _site_packages(env) / "torchaudio" / "lib"
    removed = sorted(p.name for p in lib.glob("*.so*")) if lib.is_dir() else []
    for name in removed:
        (lib / name).unlink()
    return f"removed torchaudio native libraries: {', '.join(removed) or 'none found'}"


def _ffmpeg_from_imageio(env: Path) -> str:
    """The official scripts call the `ffmpeg` program; the environment's pinned imageio-ffmpeg
    wheel carries a static build, linked as <env>/bin/ffmpeg (engines put <env>/bin first on
    PATH), so no system FFmpeg of another version is used."""
    exe = subprocess.run([str(env / "bin" / "python"), "-c",
                          "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"],
                         capture_output=True, text=True)
    if exe.returncode:
        raise BenchError(f"fix-up ffmpeg-from-imageio: imageio-ffmpeg is not importable in {env}")
    link = env / "bin" / "ffmpeg"
    link.unlink(missing_ok=True)
    link.symlink_to(exe.stdout.strip())
    return f"{link} -> {exe.stdout.strip()}"


def _basicsr_torchvision(env: Path) -> str:
    """basicsr 1.4.2 imports `rgb_to_grayscale` from torchvision.transforms.functional_tensor,
    a module torchvision 0.17 removed; the same function lives in transforms.functional."""
    f = _site_packages(env) / "basicsr" / "data" / "degradations.py"
    old = "from torchvision.transforms.functional_tensor import rgb_to_grayscale"
    text = f.read_text()
    if old not in text:
        raise BenchError(f"fix-up basicsr-torchvision: {f} has no `{old}` (another basicsr?)")
    f.write_text(text.replace(old, old.replace("functional_tensor", "functional")))
    return f"{f}: functional_tensor -> functional"


FIXUPS: dict[str, Callable[[Path], str]] = {"torchaudio-no-native": _torchaudio_no_native,
                                            "ffmpeg-from-imageio": _ffmpeg_from_imageio,
                                            "basicsr-torchvision": _basicsr_torchvision}


def env_root() -> Path:
    return Path(os.environ.get("BENCH_ENVS", paths.home() / "envs")).expanduser()


def env_dir(name: str) -> Path:
    return env_root() / name


def python(name: str) -> Path:
    return env_dir(name) / "bin" / "python"


def spec_names() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.toml"))


def load_spec(name: str) -> EnvSpec:
    path = SPEC_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown environment '{name}'; known: {', '.join(spec_names())}")
    raw = path.read_bytes()
    data = tomllib.loads(raw.decode())
    unknown = set(data) - {"description", "requirements", "first", "no_deps", "fixups",
                           "imports", "source", "patches", "install_source"}
    bad = [f for f in data.get("fixups", []) if f not in FIXUPS]
    patches = tuple(data.get("patches", ()))
    absent = [p for p in patches if not (PATCH_DIR / p).is_file()]
    if unknown or bad or absent or ((patches or data.get("install_source"))
                                    and "source" not in data):
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)} / fix-ups {bad} / patch "
                          f"files {absent} (patches and install_source need a [source])")
    digest = hashlib.sha256(raw)
    for p in patches:
        digest.update((PATCH_DIR / p).read_bytes())
    return EnvSpec(name, data.get("description", ""), tuple(data["requirements"]),
                   tuple(data.get("first", ())), tuple(data.get("no_deps", ())),
                   tuple(data.get("fixups", ())), tuple(data.get("imports", ())),
                   dict(data.get("source", {})), patches, bool(data.get("install_source")),
                   digest.hexdigest())


def patch_reason(patch: str) -> str:
    """The comment block a patch file opens with (the lines before its first `diff`/`---`)."""
    lines = []
    for line in (PATCH_DIR / patch).read_text(errors="replace").splitlines():
        if line.startswith(("diff ", "--- ")):
            break
        lines.append(line.lstrip("# ").rstrip())
    return " ".join(x for x in lines if x)


def _apply_patches(spec: EnvSpec, src: Path, log_file: Path) -> list[dict[str, str]]:
    done = []
    for p in spec.patches:
        f = PATCH_DIR / p
        cmd = ["git", "apply", "--whitespace=nowarn", str(f)]
        with open(log_file, "a") as out:
            out.write(f"$ (cd {src}; {' '.join(cmd)})\n")
            out.flush()
            ok = subprocess.run(cmd, cwd=src, stdout=out, stderr=subprocess.STDOUT)
        if ok.returncode:
            raise BenchError(f"environment '{spec.name}': patch {f} does not apply to the "
                             f"official source in {src} (log {log_file}); is it the pinned "
                             f"commit {spec.source.get('commit', '?')}?")
        done.append({"patch": p, "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                     "reason": patch_reason(p)})
    return done


def record(name: str) -> dict[str, Any] | None:
    """The build record of an installed environment (None when absent or half built)."""
    try:
        return json.loads((env_dir(name) / RECORD).read_text())
    except (OSError, ValueError):
        return None


def state(name: str) -> str:
    """`installed`, `stale` (the spec changed since the build) or `not installed`."""
    rec = record(name)
    if rec is None or not python(name).exists():
        return "not installed"
    return "installed" if rec.get("spec_sha256") == load_spec(name).digest else "stale"


def require(name: str, system: str) -> Path:
    """The environment's interpreter; MissingEnvironmentError with the command that fixes it."""
    st = state(name)
    if st == "installed":
        return python(name)
    why = ("was built from an older spec" if st == "stale" else "is not installed")
    raise MissingEnvironmentError(
        f"system '{system}' runs in the managed environment '{name}', which {why} at "
        f"{env_dir(name)}.\n  fix: bench env install {name}"
        + (" --source DIR|ARCHIVE  (air-gapped: the official code at its pinned commit)"
           if load_spec(name).source else ""))


def _pip(py: Path, args: list[str], log_file: Path) -> None:
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check", *args]
    log.info("env: %s", " ".join(cmd[3:]))
    with open(log_file, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = log_file.read_text(errors="replace").splitlines()[-15:]
        raise BenchError(f"pip failed (exit {done.returncode}); log {log_file}:\n  "
                         + "\n  ".join(tail))


def _place_source(spec: EnvSpec, env: Path, given: str | None, log_file: Path) -> dict[str, str]:
    """Copy the official code into <env>/src: from DIR or ARCHIVE when given, else a git clone
    at the pinned commit."""
    dest = env / "src"
    shutil.rmtree(dest, ignore_errors=True)
    if given:
        src = Path(given).expanduser().resolve()
        if src.is_dir():
            shutil.copytree(src, dest, symlinks=True)
        elif zipfile.is_zipfile(src):
            with zipfile.ZipFile(src) as z:
                z.extractall(dest)
        elif src.is_file() and tarfile.is_tarfile(src):
            with tarfile.open(src) as t:
                t.extractall(dest, filter="data")
        else:
            raise ConfigError(f"--source {src}: not a directory, zip or tar archive")
        inner = [p for p in dest.iterdir()]
        if len(inner) == 1 and inner[0].is_dir() and not src.is_dir():
            tmp = env / "src.tmp"
            inner[0].rename(tmp)
            dest.rmdir()
            tmp.rename(dest)
        return {"from": str(src), "expected_commit": spec.source.get("commit", "")}
    url, commit = spec.source["git"], spec.source["commit"]
    with open(log_file, "a") as out:
        for cmd in (["git", "clone", "-q", url, str(dest)],
                    ["git", "-C", str(dest), "checkout", "-q", commit]):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise BenchError(f"could not get {url} at {commit} (log {log_file}); on a machine "
                                 f"without GitHub: bench env install {spec.name} --source DIR")
    return {"from": url, "commit": commit}


@contextmanager
def _lock(name: str) -> Iterator[None]:
    """One build of an environment at a time (the kernel drops the lock if the builder dies)."""
    lock = env_root() / f".{name}.lock"
    with open(lock, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"environment '{name}' is being built by another process") from None
        yield


def install(name: str, source: str | None = None, force: bool = False) -> dict[str, Any]:
    """Build environment `name` from its spec (a no-op when installed and current)."""
    spec = load_spec(name)
    if source and not spec.source:
        raise ConfigError(f"environment '{name}' takes no --source (its code is on the index)")
    if state(name) == "installed" and not force and not source:
        log.info("env %s is installed and current at %s", name, env_dir(name))
        return record(name) or {}
    env = env_dir(name)
    env_root().mkdir(parents=True, exist_ok=True)
    with _lock(name):
        t0 = time.monotonic()
        shutil.rmtree(env, ignore_errors=True)
        log_file = env_root() / f"{name}.install.log"
        log_file.write_text("")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
        py = env / "bin" / "python"
        if spec.first:
            _pip(py, list(spec.first), log_file)
        _pip(py, list(spec.requirements), log_file)
        if spec.no_deps:
            _pip(py, ["--no-deps", *spec.no_deps], log_file)
        fixes = [f"{f}: {FIXUPS[f](env)}" for f in spec.fixups]
        src = _place_source(spec, env, source, log_file) if spec.source else {}
        patched = _apply_patches(spec, env / "src", log_file)
        if spec.install_source:
            _pip(py, ["--no-deps", str(env / "src")], log_file)
        freeze = subprocess.run([str(py), "-m", "pip", "freeze", "--disable-pip-version-check"],
                                capture_output=True, text=True, check=True).stdout.split()
        version = subprocess.run([str(py), "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        rec = {"name": name, "spec_sha256": spec.digest, "python": version,
               "platform": platform.platform(), "fixups": fixes, "source": src,
               "patches": patched,
               "freeze": freeze, "seconds": round(time.monotonic() - t0, 1),
               "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _check_imports(spec, py)
        write_json(env / RECORD, rec)
    log.info("env %s built in %.0f s at %s", name, rec["seconds"], env)
    return rec


def _check_imports(spec: EnvSpec, py: Path) -> None:
    for mod in spec.imports:
        done = subprocess.run([str(py), "-c", f"import {mod}"], capture_output=True, text=True)
        if done.returncode:
            tail = "\n  ".join(done.stderr.strip().splitlines()[-6:])
            raise BenchError(f"environment '{spec.name}': `import {mod}` fails:\n  {tail}")


def check_imports(name: str) -> None:
    _check_imports(load_spec(name), python(name))
