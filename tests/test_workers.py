"""External systems' workers: every way a system can fail is recorded per sample with its cause
and the run goes on; a dead worker is replaced; --retry-failed; missing environments and
weights; cascades."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import helpers  # noqa: F401  (registers test-faulty)
from bench import envs
from bench.cli import main
from bench.errors import ConfigError
from bench.generators import make_generator
from bench.results import read_records

STOI = "stoi@pystoi/16k/truncate"
PLAN = {"demo-000": "crash", "demo-001": "hang", "demo-002": "nothing", "demo-003": "undecodable",
        "demo-004": "silent", "demo-005": "short", "demo-006": "raise", "demo-007": "ok"}
CAUSE = {"demo-000": "crashed (worker exit 139)", "demo-001": "longer than 4 s (timeout",
         "demo-002": "wrote no output file", "demo-003": "unreadable",
         "demo-004": "silent audio", "demo-005": "durations must agree",
         "demo-006": "CUDA out of memory (simulated)"}


def _generate_records(run: Path) -> dict[str, object]:
    return {k[2]: r for k, r in read_records(run / "results").items() if k[0] == "generate"}


def test_every_failure_is_recorded_with_its_cause_and_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    model = f"test-faulty:plan={plan}:timeout=4"
    args = ["run", "--dataset", "demo", "--models", model, "--metrics", STOI, "--out", "r"]
    assert main(args) == 0
    gen = _generate_records(Path("r"))
    for sid, cause in CAUSE.items():
        assert gen[sid].status == "failed" and cause in gen[sid].error, (sid, gen[sid].error)
    assert gen["demo-007"].status == "ok"
    # the crash's and the hang's stderr tails are kept with the record
    assert "Segmentation fault (simulated)" in gen["demo-000"].extra["log_tail"]
    assert "demo-001 -> hang" in gen["demo-001"].extra["log_tail"]
    log = next(Path("r/logs").glob("test-faulty*.log")).read_text()
    # three workers: the first, one after the crash, one after the hang
    assert log.count("=== worker for test-faulty") == 3
    s = json.loads(Path("r/summary.json").read_text())
    label = make_generator(model).label
    assert s["metrics"][label][STOI]["n"] == 1
    # the bad file stays where the message says, for inspection
    assert gen["demo-003"].error.startswith(str(Path("r").resolve() / "outputs"))
    assert Path(gen["demo-003"].error.split(": ")[0]).is_file()

    # a re-run keeps the failures (nothing is generated again) ...
    assert main(args) == 0
    assert log == next(Path("r/logs").glob("test-faulty*.log")).read_text()
    # ... --retry-failed runs only them again, here with a plan that now succeeds
    plan.write_text(json.dumps({}))
    assert main(args + ["--retry-failed"]) == 0
    gen = _generate_records(Path("r"))
    assert all(r.status == "ok" for r in gen.values())
    assert json.loads(Path("r/summary.json").read_text())["metrics"][label][STOI]["n"] == 8


def test_engine_writing_outside_its_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"demo-000": "outside"}))
    assert main(["run", "--dataset", "demo", "--models", f"test-faulty:plan={plan}", "--limit",
                 "1", "--metrics", STOI, "--out", "r"]) == 0
    assert "outside" in _generate_records(Path("r"))["demo-000"].error


def test_missing_environment_names_the_command_that_fixes_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_ENVS", str(tmp_path / "no-envs"))
    assert main(["run", "--dataset", "demo", "--models", "kokoro,gt", "--limit", "1",
                 "--metrics", STOI, "--out", "r"]) == 0
    s = json.loads(Path("r/summary.json").read_text())
    assert "bench env install hibari" in s["missing_systems"]["kokoro"]
    assert s["metrics"]["kokoro"][STOI]["status"] == "missing"
    assert s["metrics"]["gt"][STOI]["n"] == 1
    assert "MISSING system kokoro" in capsys.readouterr().out
    assert main(["run", "--dataset", "demo", "--models", "kokoro,gt", "--limit", "1",
                 "--metrics", STOI, "--out", "r", "--strict"]) == 1


def test_half_built_or_stale_environment_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_ENVS", str(tmp_path))
    (tmp_path / "hibari" / "bin").mkdir(parents=True)
    (tmp_path / "hibari" / "bin" / "python").touch()
    assert envs.state("hibari") == "not installed"  # no build record: interrupted build
    (tmp_path / "hibari" / envs.RECORD).write_text(json.dumps({"spec_sha256": "0" * 64}))
    assert envs.state("hibari") == "stale"
    with pytest.raises(envs.MissingEnvironmentError, match="older spec"):
        envs.require("hibari", "kokoro")


def test_cascade_needs_speech_then_an_audio_driven_video_system() -> None:
    assert make_generator("kokoro+static").label == "kokoro+static"
    assert make_generator("kokoro:speed=1.2+static").label == "kokoro:speed=1.2+static"
    with pytest.raises(ConfigError, match="not a speech system"):
        make_generator("static+static")
    with pytest.raises(ConfigError, match="not an audio-driven video system"):
        make_generator("kokoro+espeak")
    with pytest.raises(ConfigError, match="two systems"):
        make_generator("kokoro+static+static")


def test_missing_system_weights_name_the_import_command(monkeypatch) -> None:
    import sys

    from bench.errors import MissingWeightsError
    from bench.generators import GenContext

    monkeypatch.setattr(envs, "require", lambda name, system: Path(sys.executable))
    g = make_generator("xtts-v2")
    with pytest.raises(MissingWeightsError, match="bench weights import xtts-v2"):
        g.setup(GenContext((), lambda s: None))  # type: ignore[arg-type,return-value]
    assert make_generator("xtts-v2", random_weights=True).calibrated is False
    assert make_generator("kokoro", random_weights=True).calibrated  # real weights in its wheel


def test_a_wrong_weights_file_is_refused_with_both_hashes(tmp_path) -> None:
    from bench import weights
    from bench.errors import MissingWeightsError

    fake = tmp_path / "clvp2.pth"
    fake.write_bytes(b"not the model")
    found = weights.sha256_file(fake)
    want = weights.entry("tortoise-clvp2").sha256
    with pytest.raises(MissingWeightsError) as exc:
        weights.import_file("tortoise-clvp2", fake)
    assert found in str(exc.value) and want in str(exc.value)
    # a model directory with its companions is imported whole
    d = tmp_path / "xtts"
    d.mkdir()
    for name in ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth"):
        (d / name).write_text(name)
    dest = weights.import_file("xtts-v2", d)
    assert sorted(p.name for p in dest.parent.iterdir() if p.suffix != ".sha256") == [
        "config.json", "model.pth", "speakers_xtts.pth", "vocab.json"]


def test_environment_with_official_source_from_an_archive(tmp_path, monkeypatch) -> None:
    """The air-gapped path: `bench env install NAME --source ARCHIVE` puts the official code at
    <env>/src and records where it came from; without --source the pinned commit is cloned."""
    import tarfile

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "demo-src.toml").write_text(
        'description = "test"\nrequirements = ["six==1.17.0"]\nimports = ["six"]\n'
        '[source]\ngit = "https://example.invalid/official.git"\ncommit = "0123abcd"\n')
    monkeypatch.setattr(envs, "SPEC_DIR", specs)
    monkeypatch.setenv("BENCH_ENVS", str(tmp_path / "envs"))
    code = tmp_path / "official-0123abcd"
    code.mkdir()
    (code / "inference.py").write_text("print('official')\n")
    archive = tmp_path / "official.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(code, arcname=code.name)
    with pytest.raises(envs.MissingEnvironmentError, match="--source DIR"):
        envs.require("demo-src", "demo")
    rec = envs.install("demo-src", source=str(archive))
    assert (envs.env_dir("demo-src") / "src" / "inference.py").is_file()
    assert rec["source"] == {"from": str(archive), "expected_commit": "0123abcd"}
    assert any(line.startswith("six==") for line in rec["freeze"])
    assert envs.state("demo-src") == "installed"
    with pytest.raises(envs.BenchError, match="could not get https://example.invalid"):
        envs.install("demo-src", force=True)  # no GitHub here: the message names --source
    assert envs.state("demo-src") == "not installed"  # the failed rebuild is never used
