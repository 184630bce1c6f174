"""Provenance of a run: every version and hash that a number depends on."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import bench

_PACKAGES = ("torch", "numpy", "scipy", "av", "opencv-python-headless", "pystoi", "pymcd", "pyworld", "pysptk",
             "fastdtw", "soundfile", "torchmetrics")


def git_sha() -> str | None:
    """The suite's own commit when running from a checkout (None for an installed wheel)."""
    here = Path(bench.__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def collect(device: str, seed: int, split_sha256: str, config_sha256: str, metric_ids: list[str],
            weights: dict[str, str]) -> dict[str, Any]:
    return {"bench_version": bench.__version__, "git_sha": git_sha(), "python": platform.python_version(),
            "platform": platform.platform(), "packages": package_versions(), "device": device, "seed": seed,
            "split_sha256": split_sha256, "config_sha256": config_sha256, "metric_ids": metric_ids,
            "weights_sha256": weights}
