"""End-to-end: `bench run` on the embedded demo and on small folder datasets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers  # noqa: F401  (tests/helpers.py: registers the test-only metric and generators)
from bench.cli import main
from bench.results import read_records
from bench.splits import load_manifest, shipped_manifest

STOI, MCD = "stoi@pystoi/16k/truncate", "mcd@pymcd/dtw/16k"
FVD = "fvd@i3d-tfhub/16f-stride16/224-tf1bilinear-squash/pm1/cov-biased"
PSNR, SSIM = "psnr@rgb-uint8/frame-mean/cap100", "ssim@rgb-uint8/gauss11-s1.5/frame-mean"
IDSIM = "id-sim@dlib-resnet128/frames-every5/largest-face"
ESTOI, PESQ, F0 = "estoi@pystoi/16k/truncate", "pesq@itu-p862.2/wb/16k", "f0rmse@espnet-harvest/16k/log/dtw-mcep"
CSIM, DNSMOS = "csim@resemblyzer-ge2e/16k/vs-voice-profile", "dnsmos-ovrl@speechmos-p835/16k"
FAD, WER = "fad@vggish-fadpkg/16k/examples-all/pre-relu/cov-unbiased", "wer@whisper-large-v3-ct2/beam5/norm-en"
LIPSYNC = "lipsync@theval/facemesh-refine/rms50ms-silero5.1.2/16k"
SILENT = "silent-lip@theval/facemesh-refine/silence300ms-silero5.1.2/mad"
LIPDYN, BROWDYN = ("lip-dyn@theval/facemesh-refine/lips40-pairdist-std",
                   "brow-dyn@theval/facemesh-refine/brow-eye-absdiff")
HEADDYN, DIVERSITY = "head-dyn@facemesh-axes/theval-complexity", "diversity@facemesh-axes/pose-std-deg"


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def metric_lines(run_dir: Path) -> list[dict]:
    """Every metric line of a run, skipping a line still being written by a live process."""
    out = []
    for f in sorted((run_dir / "results").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec["stage"] == "metric":
                out.append(rec)
    return out


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """The README's main job, `bench run --dataset demo` with every default, run once for the
    tests of this module (the first of the two long end-to-end runs the README names). With
    `pytest -n`, `--dist loadfile` keeps this file on one worker, so it is made once; session
    scope, since a module fixture is rebuilt when another module's test runs in between."""
    import contextlib
    import io

    cwd = tmp_path_factory.mktemp("demo-run")
    old = os.getcwd()
    os.chdir(cwd)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            assert main(["run", "--dataset", "demo"]) == 0
    finally:
        os.chdir(old)
    return next((cwd / "bench-runs").iterdir()), out.getvalue()


def test_demo_run_produces_results_for_the_controls(demo_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_dir, out = demo_run
    s = summary(run_dir)
    assert s["coverage"] == 1.0 and s["n_samples"] == 8 and s["failures"] == []
    m = s["metrics"]
    assert m["gt"][STOI]["mean"] == pytest.approx(1.0) and m["gt"][MCD]["mean"] == 0.0
    assert m["static"][STOI]["mean"] == pytest.approx(1.0)  # static keeps the GT audio
    assert m["shuffled"][STOI]["mean"] < 0.3 and m["shuffled"][MCD]["mean"] > 1.0  # mismatched speech
    # video: gt and shuffled (GT video, donor audio) are the reference set itself; static is a still
    assert abs(m["gt"][FVD]["value"]) < 1e-2 and m["static"][FVD]["value"] > 50 and m["gt"][FVD]["calibrated"]
    assert m["gt"][PSNR]["mean"] == 100.0 and m["static"][PSNR]["mean"] < 30
    assert m["gt"][SSIM]["mean"] == pytest.approx(1.0) and m["static"][SSIM]["mean"] < 0.95
    assert m["gt"][IDSIM]["mean"] > 0.9 and m["gt"][IDSIM]["frame_coverage"] > 0.5  # frames with a face found
    assert m["static"][PSNR]["frame_coverage"] == 1.0 and m["gt"][FVD]["rows"] >= 8  # all frames; clips used
    # audio: gt/static keep the GT speech; shuffled is another speaker saying other words
    assert m["gt"][ESTOI]["mean"] == pytest.approx(1.0) and m["shuffled"][ESTOI]["mean"] < 0.3
    assert m["gt"][PESQ]["mean"] > 4.5 > 1.5 > m["shuffled"][PESQ]["mean"]
    assert m["gt"][F0]["mean"] == 0.0 < m["shuffled"][F0]["mean"]
    assert m["gt"][CSIM]["mean"] > 0.9 > m["shuffled"][CSIM]["mean"]
    assert 1.0 < m["gt"][DNSMOS]["mean"] < 5.0 and m["gt"][DNSMOS]["calibrated"]
    # FAD and WER need weights that cannot be downloaded here: reported missing, with the fix
    assert m["gt"][FAD]["status"] == "missing" and "bench weights fetch vggish" in m["gt"][FAD]["error"]
    assert m["gt"][WER]["status"] == "missing"
    lse = "lse-d@syncnet-v2/s3fd-track100/vshift15"
    assert m["gt"][lse]["status"] == "missing" and "bench weights fetch syncnet-v2" in m["gt"][lse]["error"]
    # sync and motion without SyncNet (THEval, FaceMesh + Silero VAD ship in their wheels): the
    # demo's mouths follow the audio, so the GT beats another sample's audio and a still face
    assert m["gt"][LIPSYNC]["mean"] < m["shuffled"][LIPSYNC]["mean"] < m["static"][LIPSYNC]["mean"]
    for k in (LIPDYN, BROWDYN, HEADDYN, DIVERSITY):
        assert m["static"][k]["mean"] < 0.1 * m["gt"][k]["mean"], k
    # the demo's short clips mostly have no 0.3 s silence: not applicable there, shown in coverage
    assert 0 < m["gt"][SILENT]["n"] < 8 and m["gt"][SILENT]["coverage"] < 1.0
    per_sample = (STOI, ESTOI, MCD, PESQ, F0, DNSMOS, CSIM, PSNR, SSIM, IDSIM, LIPSYNC, LIPDYN,
                  BROWDYN, HEADDYN, DIVERSITY)
    assert all(m[g][k]["n"] == 8 for g in m for k in (*per_sample, FVD))
    assert len(metric_lines(run_dir)) == 3 * 8 * (len(per_sample) + 1)  # + silent-lip's records
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["split_sha256"] == load_manifest(shipped_manifest("demo"))["manifest_sha256"]
    assert prov["packages"]["torch"] and prov["packages"]["av"]
    assert "| gt |" in out and "coverage 100%" in out
    assert main(["runs"]) == 0
    assert run_dir.name in capsys.readouterr().out
    # bootstrap CIs: per-sample (STOI) and set-resampling (FVD: 48 clips of 400-d features)
    assert m["static"][FVD]["ci"][0] < m["static"][FVD]["value"] < m["static"][FVD]["ci"][1]
    assert m["shuffled"][STOI]["ci"][0] < m["shuffled"][STOI]["mean"] < m["shuffled"][STOI]["ci"][1]
    assert s["bootstrap"] == {"resamples": 1000, "set_resamples": 100, "seed": 0, "level": 0.95}
    # the report and the gate read this run
    assert main(["report", run_dir.name, "--format", "html", "--out", "rep", "--media-samples", "1"]) == 0
    page = (tmp_path / "rep" / "report.html").read_text()
    assert page.count("data:video/mp4;base64,") == 3 and "Table 1: video pipeline" in page  # GT, static, shuffled
    assert main(["compare", str(run_dir), str(run_dir)]) == 0


def test_features_are_shared_within_and_across_runs(demo_run, tmp_path, monkeypatch):
    """Outputs identical to the ground truth (gt, shuffled's video) reuse its features; a later
    run on the same split computes nothing that an earlier one has; per-sample metrics of inputs
    identical to another pair's are recorded as reused."""
    run_dir, _ = demo_run
    recs = [r for r in read_records(run_dir / "results").values() if r.stage == "features"]
    models = ("__reference__", "gt", "static", "shuffled")
    cached = {m: {r.extra["cached"] for r in recs if r.model == m} for m in models}
    assert cached == {"__reference__": {False}, "gt": {True}, "static": {False}, "shuffled": {True}}
    metric = read_records(run_dir / "results")
    same_video = metric[("metric", "shuffled", "demo-000", PSNR)]
    same_audio = metric[("metric", "static", "demo-000", STOI)]
    assert same_video.extra["reused_from"] == same_audio.extra["reused_from"] == "gt/demo-000"
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dataset", "demo", "--models", "static", "--metrics", FVD, "--limit", "3",
                 "--out", "later"]) == 0
    later = [r for r in read_records(Path("later") / "results").values() if r.stage == "features"]
    assert len(later) == 6 and all(r.extra["cached"] for r in later)
    assert summary(Path("later"))["metrics"]["static"][FVD]["n"] == 3


def test_random_weights_are_marked_uncalibrated(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dataset", "demo", "--models", "static", "--metrics", FVD,
                 "--random-weights", "--limit", "2", "--out", "r"]) == 0
    assert "UNCALIBRATED" in capsys.readouterr().out
    entry = summary(Path("r"))["metrics"]["static"][FVD]
    assert entry["calibrated"] is False and entry["n"] == 2 and entry["value"] > 0
    prov = json.loads((Path("r") / "provenance.json").read_text())
    assert prov["weights_sha256"]["i3d-tfhub"] == "RANDOM(seed 0)"


def test_killed_run_resumes_to_the_numbers_of_an_uninterrupted_run(demo_run, tmp_path):
    """Killed mid-run in one process and resumed in another: nothing recomputed, and the same
    numbers (value, std, CI) as the demo run's, computed in another process with more metrics:
    same inputs and config give the same numbers."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--dataset", "demo", "--models", "gt,static,shuffled",
           "--metrics", f"{STOI},{MCD}", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if out.joinpath("results").is_dir() and len(metric_lines(out)) >= 4:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    before = {(r["model"], r["sample"], r["metric"]) for r in metric_lines(out) if r["status"] == "ok"}
    finished_outputs = {p: p.stat().st_mtime_ns for p in out.glob("outputs/*/*/meta.json")}
    assert before and len(before) < 48
    assert main(["run", "--dataset", "demo", "--models", "gt,static,shuffled", "--metrics", f"{STOI},{MCD}",
                 "--out", str(out)]) == 0
    lines = metric_lines(out)
    keys = [(r["model"], r["sample"], r["metric"]) for r in lines]
    assert len(keys) == len(set(keys)) == 48  # every pair scored exactly once: nothing recomputed
    assert {p: p.stat().st_mtime_ns for p in finished_outputs} == finished_outputs  # outputs reused
    assert summary(out)["coverage"] == 1.0
    whole = summary(demo_run[0])["metrics"]
    assert summary(out)["metrics"] == {m: {k: whole[m][k] for k in (STOI, MCD)} for m in whole}


def test_shards_merge_exactly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["run", "--dataset", "demo", "--models", "gt,static", "--metrics", f"{STOI},test-frechet@mean-rgb",
              "--limit", "5", "--workers", "1"]
    assert main(common + ["--out", "whole"]) == 0
    assert main(common + ["--out", "sharded", "--shard", "1/2"]) == 0
    partial = summary(Path("sharded"))["metrics"]["gt"][STOI]
    assert partial["n"] == 3  # samples 0, 2, 4 of 5
    assert main(common + ["--out", "sharded", "--shard", "2/2"]) == 0
    whole, merged = summary(Path("whole"))["metrics"], summary(Path("sharded"))["metrics"]
    assert merged == whole
    assert whole["gt"]["test-frechet@mean-rgb"]["value"] == pytest.approx(0.0, abs=1e-6)  # identical sets
    assert whole["static"]["test-frechet@mean-rgb"]["value"] > 1e-3  # a frozen frame moves the distribution
    assert sorted(p.name for p in Path("sharded/results").glob("*.jsonl")) == ["shard-1-of-2.jsonl",
                                                                               "shard-2-of-2.jsonl"]


def _demo_clip(dst: Path, index: int, name: str, with_text: bool = True) -> None:
    from bench.paths import demo_dir
    from bench.datasets import get_dataset

    get_dataset("demo").resolve_root(None)
    shutil.copy(demo_dir() / "raw" / f"demo-{index:03d}.mkv", dst / f"{name}.mkv")
    if with_text:
        shutil.copy(demo_dir() / "raw" / f"demo-{index:03d}.txt", dst / f"{name}.txt")


def test_bad_inputs_are_recorded_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    _demo_clip(data, 0, "good1")
    _demo_clip(data, 1, "good2")
    (data / "empty.mp4").write_bytes(b"")
    (data / "corrupt.mp4").write_bytes(b"\x00\x01garbage" * 100)
    from bench.video import read_frames, write_video
    write_video(data / "mute.mkv", iter(read_frames(data / "good1.mkv")))
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--dataset", "folder", "--root", str(data), "--models", "gt", "--metrics", STOI, "--out", "r"])
    assert code == 0  # some samples failed, not all
    s = summary(Path("r"))
    failures = {f["sample"]: f for f in s["failures"]}
    assert set(failures) == {"empty", "corrupt", "mute"}
    assert "empty.mp4: file is empty" in failures["empty"]["error"]
    assert "corrupt.mp4: unreadable container" in failures["corrupt"]["error"]
    assert "mute.mkv: no audio track" in failures["mute"]["error"]
    assert all(f["stage"] == "preprocess" and f["kind"] == "bad_input" for f in failures.values())
    assert s["coverage"] == pytest.approx(2 / 5) and s["metrics"]["gt"][STOI]["n"] == 2
    assert "coverage 40%" in capsys.readouterr().out
    args = ["run", "--dataset", "folder", "--root", str(data), "--models", "gt", "--metrics", STOI]
    assert main(args + ["--out", "strict", "--strict"]) == 1
    for good in ("good1", "good2"):
        for suffix in (".mkv", ".txt"):
            (data / f"{good}{suffix}").unlink()
    assert main(args + ["--out", "allbad"]) == 1  # every sample failed


def test_missing_weights_are_reported_not_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--dataset", "demo", "--models", "gt", "--metrics", f"{STOI},test-missing@weights",
                 "--limit", "2", "--out", "r"])
    assert code == 0
    entry = summary(Path("r"))["metrics"]["gt"]["test-missing@weights"]
    assert entry["status"] == "missing" and "example.invalid/absent-net.pth" in entry["error"]
    assert summary(Path("r"))["metrics"]["gt"][STOI]["n"] == 2
    assert "MISSING test-missing@weights" in capsys.readouterr().out


def test_generator_needing_text_fails_samples_without_transcript(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    _demo_clip(data, 2, "with_text")
    _demo_clip(data, 3, "no_text", with_text=False)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dataset", "folder", "--root", str(data), "--models", "test-needs-text,gt",
                 "--metrics", f"{STOI},test-frechet@mean-rgb", "--out", "r"]) == 0
    recs = read_records(Path("r/results"))
    gen = recs[("generate", "test-needs-text", "no_text", "")]
    assert gen.status == "failed" and "no transcript" in gen.error and "no_text.mkv" in gen.error
    assert recs[("generate", "test-needs-text", "with_text", "")].status == "ok"
    assert recs[("metric", "test-needs-text", "with_text", STOI)].status == "ok"
    # an audio-only model has no video: the video metric is not applicable, not failed
    assert recs[("features", "test-needs-text", "with_text", "mean-rgb")].status == "not_applicable"  # by extractor
    assert summary(Path("r"))["metrics"]["test-needs-text"][STOI]["n"] == 1


@pytest.mark.real
@pytest.mark.slow
def test_folder_run_over_real_fixture_videos(real, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--dataset", "folder", "--root", str(real / "videos"), "--models", "gt,shuffled",
                 "--metrics", f"{STOI},{MCD}", "--out", "r"])
    assert code == 0
    s = summary(Path("r"))
    assert s["n_samples"] == len(list((real / "videos").iterdir()))
    assert s["preprocessed"] >= 6  # the GRID clips and the frontal talking heads at least
    gt, shuffled = s["metrics"]["gt"], s["metrics"]["shuffled"]
    assert gt[STOI]["mean"] == pytest.approx(1.0) and gt[MCD]["mean"] == 0.0
    assert shuffled[STOI]["mean"] < 0.5 and shuffled[MCD]["mean"] > gt[MCD]["mean"]
    for f in s["failures"]:  # anything that failed says which file and why
        assert f["error"] and f["kind"]
