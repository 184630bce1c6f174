"""Held-out split manifests: which samples a benchmark uses, and the SHA-256 of every input file.

A manifest is deterministic (same data + rule + seed -> byte-identical JSON: no timestamps) and
carries its own hash, which every result records. Running against data whose bytes differ from
the manifest marks those samples as failed with the file and both hashes named. Format: docs/manifest.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.atomic import atomic_path
from bench.errors import ManifestError
from bench.hashing import sha256_file, sha256_json
from bench.sample import RawItem

FORMAT = "bench-split/1"
RULE = "ids sorted; numpy.random.default_rng(seed).permutation; first n; listed sorted by id"


def _file_entry(item: RawItem, role: str) -> dict[str, Any]:
    path = item.path(role)
    return {"path": item.files[role], "sha256": sha256_file(path), "bytes": path.stat().st_size}


def make_manifest(dataset: str, items: list[RawItem], n: int | None, seed: int) -> dict[str, Any]:
    """Select n items (all when n is None or >= available) and describe them with content hashes."""
    ordered = sorted(items, key=lambda i: i.id)
    if n is not None and n < len(ordered):
        order = np.random.default_rng(seed).permutation(len(ordered))[:n]
        chosen = sorted((ordered[i] for i in order), key=lambda i: i.id)
    else:
        chosen = ordered
    body = {
        "format": FORMAT,
        "dataset": dataset,
        "created_with": f"bench {__version__}",
        "selection": {"rule": RULE if n is not None and n < len(ordered) else "all available items",
                      "n": len(chosen), "seed": seed, "available": len(ordered)},
        "samples": [{"id": i.id, "files": {r: _file_entry(i, r) for r in sorted(i.files)}} for i in chosen],
    }
    return {**body, "manifest_sha256": sha256_json(body)}


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read and validate a manifest (format, required keys, self-hash)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not a readable JSON manifest ({exc})") from exc
    if data.get("format") != FORMAT:
        raise ManifestError(f"{path}: format is {data.get('format')!r}, expected {FORMAT!r}")
    for key in ("dataset", "selection", "samples", "manifest_sha256"):
        if key not in data:
            raise ManifestError(f"{path}: missing key {key!r}")
    body = {k: v for k, v in data.items() if k != "manifest_sha256"}
    if sha256_json(body) != data["manifest_sha256"]:
        raise ManifestError(f"{path}: manifest_sha256 does not match its content (edited by hand?)")
    return data


def shipped_manifest(dataset: str) -> Path | None:
    """The manifest that ships with the package for a dataset (only `demo` has one)."""
    ref = resources.files("bench.datasets") / "manifests" / f"{dataset}.json"
    return Path(str(ref)) if ref.is_file() else None


@dataclass(frozen=True)
class Mismatch:
    """One manifest sample that the data on disk does not match."""

    sample: str
    path: str | None
    cause: str


def check_items(manifest: dict[str, Any], items: list[RawItem]) -> tuple[list[RawItem], list[Mismatch]]:
    """The manifest's items found on disk with matching hashes, and every mismatch."""
    by_id = {i.id: i for i in items}
    ok, bad = [], []
    for entry in manifest["samples"]:
        item = by_id.get(entry["id"])
        if item is None:
            bad.append(Mismatch(entry["id"], None, "listed in the split manifest but not found under the dataset root"))
            continue
        problems = []
        for role, want in entry["files"].items():
            path = Path(item.root) / want["path"]
            if not path.is_file():
                problems.append(Mismatch(entry["id"], str(path), f"{role} file missing"))
            elif (got := sha256_file(path)) != want["sha256"]:
                problems.append(Mismatch(entry["id"], str(path),
                                         f"content hash mismatch: sha256 {got[:16]}... but the manifest says {want['sha256'][:16]}..."))
        if problems:
            bad.extend(problems)
        else:
            ok.append(item)
    return ok, bad
