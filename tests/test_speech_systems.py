"""The speech systems end to end. Default tier: the `hibari` environment is built from scratch
(this session's BENCH_HOME is new) and `kokoro` and `espeak` speak for real on the demo and the
real fixtures, alone and driving `static`. `systems` tier (python -m pytest -m systems, after
`bench env install coqui` and `bench env install tortoise`, or it builds them): XTTS v2,
YourTTS, GlowTTS and Tortoise run their official inference on random weights."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from bench import envs, paths
from bench.cli import main
from bench.paths import output_dir
from bench.results import read_records
from bench.video import read_frames

DNSMOS = "dnsmos-ovrl@speechmos-p835/16k"
CSIM = "csim@resemblyzer-ge2e/16k/vs-voice-profile"
STOI = "stoi@pystoi/16k/truncate"
MCD = "mcd@pymcd/dtw/16k"


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.fixture(scope="module")
def hibari() -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    if "BENCH_ENVS" not in os.environ:  # a new BENCH_HOME: the environment is built from scratch
        assert envs.state("hibari") == "not installed"
    assert main(["env", "install", "hibari"]) == 0
    return envs.env_dir("hibari")


def test_environment_is_built_recorded_and_checked(hibari, capsys):
    rec = envs.record("hibari")
    assert rec["spec_sha256"] == envs.load_spec("hibari").digest
    assert "hibari-tts==0.2.1" in rec["freeze"] and rec["python"].startswith("3.")
    assert envs.state("hibari") == "installed"
    capsys.readouterr()
    assert main(["env", "check", "hibari"]) == 0
    out = capsys.readouterr().out
    assert "imports ok" in out and "kokoro: smoke generation ok" in out
    assert main(["env", "list"]) == 0
    assert "hibari     installed" in capsys.readouterr().out


def test_kokoro_and_espeak_speak_for_real_and_drive_static(hibari, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dataset", "demo", "--limit", "2", "--models",
                 "kokoro,espeak,kokoro+static", "--metrics", f"{DNSMOS},{CSIM},{STOI}",
                 "--out", "r"]) == 0
    rows = _summary(Path("r"))["metrics"]
    for model in ("kokoro", "espeak", "kokoro+static"):
        for m in (DNSMOS, CSIM):
            e = rows[model][m]
            assert e["status"] == "ok" and e["n"] == 2 and e["calibrated"], (model, m, e)
    # the neural voice sounds better than the formant synthesiser
    assert rows["kokoro"][DNSMOS]["mean"] > rows["espeak"][DNSMOS]["mean"] + 0.3
    assert 1.0 <= rows["espeak"][DNSMOS]["mean"] <= 5.0
    # the cascade: kokoro's own speech, and a video of its length
    for sid in ("demo-000", "demo-001"):
        alone, both = (output_dir(Path("r"), label, sid) for label in ("kokoro", "kokoro+static"))
        assert (alone / "audio.wav").read_bytes() == (both / "audio.wav").read_bytes()
        meta = json.loads((both / "meta.json").read_text())
        seconds = meta["normalisation"]["seconds"]
        assert abs(seconds["video"] - seconds["audio"]) <= 0.04
        assert len(read_frames(both / meta["video"])) == round(seconds["audio"] * 25)
        prov = json.loads(Path("r/provenance.json").read_text())
        cascade = next(s for s in prov["systems"] if s["label"] == "kokoro+static")
        assert cascade["cascade"]["speech"]["environment"]["name"] == "hibari"
        assert cascade["cascade"]["video"]["name"] == "static"


@pytest.mark.real
def test_kokoro_and_espeak_on_the_real_fixtures(hibari, real, tmp_path, monkeypatch):
    """GRID clips (real faces and voices) with their transcripts, beside them in a scratch
    folder (links, not copies)."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "grid"
    data.mkdir()
    with open(real / "MANIFEST.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["file"].startswith("videos/lipnet_grid_")]
    for r in rows:
        name = Path(r["file"]).name
        os.symlink(real / r["file"], data / name)
        (data / name).with_suffix(".txt").write_text(r["transcript"] + "\n")
    assert main(["run", "--dataset", "folder", "--root", str(data), "--models", "kokoro,espeak",
                 "--metrics", f"{DNSMOS},{CSIM}", "--out", "r"]) == 0
    table = _summary(Path("r"))["metrics"]
    for model in ("kokoro", "espeak"):
        for m in (DNSMOS, CSIM):
            assert table[model][m]["status"] == "ok" and table[model][m]["n"] == len(rows)
    assert table["kokoro"][DNSMOS]["mean"] > table["espeak"][DNSMOS]["mean"]
    print(json.dumps({m: {k: round(v["mean"], 3) for k, v in r.items()}
                      for m, r in table.items()}))


@pytest.mark.systems
def test_four_speech_systems_run_their_official_inference_on_random_weights(tmp_path,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    for env in ("coqui", "tortoise"):
        assert main(["env", "install", env]) == 0
    models = "xtts-v2,yourtts,glowtts,tortoise:preset=ultra_fast:max_mel_tokens=60"
    assert main(["run", "--dataset", "demo", "--limit", "2", "--models", models,
                 "--random-weights", "--metrics", f"{MCD},{STOI},{CSIM},{DNSMOS}",
                 "--out", "r"]) == 0
    _check_random_run(Path("r"))


def _check_random_run(run: Path) -> None:
    """Every system generated every sample; MCD, STOI and DNSMOS scored them all, uncalibrated.
    Random networks do not make speech: C-SIM's voice-activity trim may find none, and then the
    sample is recorded as failed with that cause (never scored on silence)."""
    s = _summary(run)
    assert not s["missing_systems"] and len(s["metrics"]) == 4
    gen = [r for k, r in read_records(run / "results").items() if k[0] == "generate"]
    assert len(gen) == 8 and all(r.status == "ok" for r in gen)
    for model, row in s["metrics"].items():
        for m, e in row.items():
            assert not e["calibrated"], (model, m)
            if m != CSIM:
                assert e["status"] == "ok" and e["n"] == 2, (model, m, e)
        assert row[CSIM]["n"] + row[CSIM].get("failed", 0) == 2, (model, row[CSIM])
    assert all("no speech left after silence trimming" in f["error"] for f in s["failures"]
               if f["metric"] == CSIM) and all(f["metric"] == CSIM for f in s["failures"])
    prov = json.loads((run / "provenance.json").read_text())
    assert all(not sys["calibrated"] for sys in prov["systems"])


@pytest.mark.systems
def test_imported_weights_take_the_official_loading_path(tmp_path, monkeypatch):
    """The real-weights path without real weights: a YourTTS directory in the release's layout
    (here the seeded random one) imported with `bench weights import` and run without
    --random-weights gives the same audio as the random-weights run it came from."""
    monkeypatch.chdir(tmp_path)
    assert main(["env", "install", "coqui"]) == 0
    base = ["run", "--dataset", "demo", "--limit", "1", "--models", "yourtts", "--metrics", STOI]
    assert main(base + ["--random-weights", "--out", "random"]) == 0
    layout = next((paths.home() / "random-checkpoints" / "yourtts").glob("seed-0/tts_models*"))
    config_before = (layout / "config.json").read_bytes()
    monkeypatch.setenv("BENCH_WEIGHTS", str(tmp_path / "weights"))
    assert main(["weights", "import", "yourtts", str(layout)]) == 0
    assert main(base + ["--out", "imported"]) == 0
    a, b = (output_dir(Path(r), "yourtts", "demo-000") / "audio.wav"
            for r in ("random", "imported"))
    assert a.read_bytes() == b.read_bytes()
    # the paths inside config.json were pointed at a working copy, never at the verified file
    assert (tmp_path / "weights" / "yourtts" / "config.json").read_bytes() == config_before
    assert json.loads((tmp_path / "imported" / "summary.json").read_text())[
        "metrics"]["yourtts"][STOI]["calibrated"]
