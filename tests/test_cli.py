"""The listing and split commands end to end, in-process (run, report and compare are covered by
test_e2e.py, test_reports.py and test_reliability.py): what a new user types first."""

from __future__ import annotations

import json

from bench.cli import main
from bench.splits import load_manifest, shipped_manifest


def test_listing_commands_name_what_is_available(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    names = ("demo", "hdtf", "voxceleb", "celebvhq", "fakeavceleb", "lrs3")
    assert all(f"{name}  (root:" in out for name in names)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("gt ", "static", "shuffled", "precomputed"))
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    assert "fvd@i3d-tfhub/16f-stride16" in out and "stoi@pystoi/16k/truncate" in out
    assert "↑" in out and "↓" in out
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "i3d-tfhub" in out and "licence:" in out and "sha256:" in out


def test_split_writes_a_manifest_equal_to_the_shipped_one(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert main(["split", "--dataset", "demo", "--n", "8", "--out", str(out)]) == 0
    assert "8 of 8 samples" in capsys.readouterr().out
    got, shipped = load_manifest(out), load_manifest(shipped_manifest("demo"))
    assert got["manifest_sha256"] == shipped["manifest_sha256"]  # the demo files are bit-exact
    assert main(["split", "--dataset", "demo", "--n", "3", "--seed", "1", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["samples"]) == 3
    assert main(["split", "--dataset", "nope", "--n", "3"]) == 2
    assert "unknown dataset" in capsys.readouterr().err
