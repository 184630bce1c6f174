"""Nothing lost, nothing silently wrong: torn result lines, damaged caches, truncated input, false
faces, the gate on NaN (test_reports.py), option validation, one writer per shard, concurrent runs
on one cache, workers that die with their parent, leftovers, environment errors (exit 2), the run
index and shared-cache permissions. Each test reproduces a failure of the code before the fix."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import helpers  # noqa: F401  (registers test-frechet@mean-rgb)
from bench import cache
from bench.cli import main
from bench.errors import BadInputError
from bench.results import Record, ResultsWriter, RunLock, read_records

REPO = Path(__file__).resolve().parent.parent
STOI = "stoi@pystoi/16k/truncate"
FRECHET = "test-frechet@mean-rgb"
PSNR = "psnr@rgb-uint8/frame-mean/cap100"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """A folder dataset of two demo clips with transcripts."""
    from bench.datasets import get_dataset
    from bench.paths import demo_dir

    get_dataset("demo").resolve_root(None)
    root = tmp_path_factory.mktemp("clips")
    for i, name in ((0, "a"), (1, "b")):
        for suffix in (".mkv", ".txt"):
            shutil.copy(demo_dir() / "raw" / f"demo-{i:03d}{suffix}", root / f"{name}{suffix}")
    return root


def _args(root: Path, out: Path, *extra: str, metrics: str = STOI, models: str = "gt") -> list[str]:
    return ["run", "--dataset", "folder", "--root", str(root), "--models", models,
            "--metrics", metrics, "--workers", "1", "--size", "128", "--out", str(out), *extra]


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _metrics(run: Path) -> dict:
    """The summary's numbers without what legitimately differs between two runs."""
    return _summary(run)["metrics"]


def _private_home(monkeypatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("BENCH_HOME", str(home))
    return home


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                         capture_output=True)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({got.stderr.decode().strip()}): needs root")


@pytest.fixture
def tmpfs(tmp_path):
    """Mount points made by a test, unmounted afterwards."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        where = tmp_path / name
        _mount_tmpfs(where, options)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


# -- torn lines ---------------------------------------------------------------------------------
def test_torn_last_line_is_cut_before_appending(tmp_path, caplog):
    path = tmp_path / "shard-1-of-1.jsonl"
    w = ResultsWriter(path)
    w.write(Record("metric", "s1", "ok", model="m", metric="x", value=1.0))
    w.close()
    fragment = '{"stage": "metric", "sample": "s2", "sta'
    with open(path, "a", encoding="utf-8") as f:
        f.write(fragment)  # died while writing s2
    w = ResultsWriter(path)
    w.write(Record("metric", "s2", "ok", model="m", metric="x", value=2.0))  # the resume redoes s2
    w.close()
    assert {k[2]: r.value for k, r in read_records(tmp_path).items()} == {"s1": 1.0, "s2": 2.0}
    assert "torn line" in caplog.text and f"({len(fragment)} bytes" in caplog.text
    whole = json.dumps(asdict(Record("metric", "s3", "ok", model="m", metric="x", value=3.0)))
    with open(path, "a", encoding="utf-8") as f:
        f.write(whole)  # complete, only the newline missing: kept
    ResultsWriter(path).close()
    assert path.read_text().endswith(whole + "\n") and len(read_records(tmp_path)) == 3


def test_resume_after_a_torn_line_loses_no_record(clips, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(_args(clips, tmp_path / "whole")) == 0
    shutil.copytree(tmp_path / "whole", tmp_path / "torn")
    shard = tmp_path / "torn" / "results" / "shard-1-of-1.jsonl"
    text = shard.read_text()
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    assert json.loads(last)["stage"] == "metric"
    shard.write_text(text[: len(text) - len(last) // 2 - 1])  # the last record half written
    (tmp_path / "torn" / "summary.json").unlink()
    assert main(_args(clips, tmp_path / "torn")) == 0
    assert _metrics(tmp_path / "torn") == _metrics(tmp_path / "whole")
    lines = shard.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # every line parses


# -- caches -------------------------------------------------------------------------------------
def _damage(path: Path) -> None:
    """Change bytes, keep the size (what a bad disk or a stray write does)."""
    data = bytearray(path.read_bytes())
    data[-4:] = np.float32(1e6).tobytes()
    path.write_bytes(bytes(data))


def test_damaged_feature_and_statistics_caches_are_recomputed(clips, tmp_path, monkeypatch, caplog):
    home = _private_home(monkeypatch, tmp_path)
    args = _args(clips, tmp_path / "a", metrics=FRECHET, models="gt,static")
    assert main(args) == 0
    want = _metrics(tmp_path / "a")["static"][FRECHET]["value"]
    feats = sorted((home / "features").rglob("*.npy"))
    stats = sorted((home / "stats").rglob("*.npz"))
    assert len(feats) == 4 and len(stats) == 1  # gt's output is the reference: 2 clips x 2
    for f in (*feats, *stats):
        _damage(f)
    assert main(args) == 0  # resume: the finished feature steps must not trust the files
    assert _metrics(tmp_path / "a")["static"][FRECHET]["value"] == want
    assert "is corrupt (content differs" in caplog.text
    for f in feats:
        f.write_bytes(f.read_bytes()[:100])  # truncated .npy: crashed every later run before
    assert main(_args(clips, tmp_path / "b", metrics=FRECHET, models="gt,static")) == 0
    assert _metrics(tmp_path / "b")["static"][FRECHET]["value"] == want
    assert all(cache.verified(f) for f in (*feats, *stats))


def test_damaged_preprocessed_entry_and_output_are_rebuilt(clips, tmp_path, monkeypatch, caplog):
    home = _private_home(monkeypatch, tmp_path)
    assert main(_args(clips, tmp_path / "a", metrics=PSNR)) == 0
    want = read_records(tmp_path / "a" / "results")
    videos = sorted((home / "preprocessed").rglob("video.mkv"))
    assert len(videos) == 2
    videos[0].write_bytes(videos[0].read_bytes()[: videos[0].stat().st_size // 2])  # truncated
    output = next((tmp_path / "a" / "outputs" / "gt").rglob("video.mkv"))
    _damage(output)
    assert main(_args(clips, tmp_path / "b", metrics=PSNR)) == 0
    assert f"preprocessed cache entry {videos[0].parent} is damaged (video.mkv: size" in caplog.text
    assert "truncated or overwritten" in caplog.text
    got = read_records(tmp_path / "b" / "results")
    frames = {k: r.extra["frames_offered"] for k, r in got.items() if k[0] == "metric"}
    assert frames == {k: r.extra["frames_offered"] for k, r in want.items() if k[0] == "metric"}
    assert main(_args(clips, tmp_path / "a", metrics=PSNR)) == 0  # resume of a: output regenerated
    assert f"output {output.parent} is damaged (video.mkv: " in caplog.text  # gt's is a hard link
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")


# -- input --------------------------------------------------------------------------------------
def _faststart_mp4(src: Path, dst: Path) -> None:
    """H.264 + AAC with the index at the front, as a web download has it."""
    from bench.video import decode_audio_stream, read_frames

    frames = read_frames(src)
    sound, rate = decode_audio_stream(src)
    with av.open(str(dst), "w", options={"movflags": "+faststart"}) as out:
        v = out.add_stream("libx264", rate=Fraction(25))
        v.pix_fmt, v.height, v.width = "yuv420p", frames.shape[1], frames.shape[2]
        a = out.add_stream("aac", rate=rate)
        a.layout = "mono"
        step = rate // 25
        for k, img in enumerate(frames):  # interleaved: one frame's worth of audio per video frame
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            chunk = sound[None, k * step:(k + 1) * step].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, k * step
            out.mux(a.encode(frame))
        out.mux(v.encode(None))
        out.mux(a.encode(None))


def test_truncated_input_is_bad_input_naming_the_cause(clips, tmp_path, monkeypatch):
    from bench.video import probe

    data = tmp_path / "data"
    data.mkdir()
    _faststart_mp4(clips / "a.mkv", data / "whole.mp4")
    blob = (data / "whole.mp4").read_bytes()
    (data / "cut.mp4").write_bytes(blob[: int(0.3 * len(blob))])
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dataset", "folder", "--root", str(data), "--models", "gt",
                 "--metrics", STOI, "--workers", "1", "--out", "r"]) == 0
    s = _summary(tmp_path / "r")
    assert [f["sample"] for f in s["failures"]] == ["cut"]  # the whole MP4 (AAC, faststart) passes
    error = s["failures"][0]["error"]  # its last audio packet is cut too: the decoder stops there
    declared = probe(data / "whole.mp4").duration
    assert "cut.mp4: truncated or corrupt: the audio stream breaks at" in error
    assert f"of the {declared:.2f} s the container declares" in error


def test_a_clean_decode_far_short_of_the_declared_duration_is_truncated(tmp_path):
    from bench.preprocess import PreprocessConfig, _check_complete
    from bench.video import VideoInfo

    info = VideoInfo("x.mp4", 64, 64, 25.0, True, 16000, 4.88, 4.88)
    _check_complete(PreprocessConfig(), info, Path("x.mp4"), 120)  # 4.8 s: within the slack
    _check_complete(PreprocessConfig(max_seconds=2.0), info, Path("x.mp4"), 50)  # capped: complete
    with pytest.raises(BadInputError, match=r"x.mp4: truncated: 1.16 s of video decoded, "
                                            r"the container declares 4.88 s"):
        _check_complete(PreprocessConfig(), info, Path("x.mp4"), 29)


def test_a_face_on_too_few_sampled_frames_is_no_face(clips, tmp_path, monkeypatch):
    from bench import face
    from bench.preprocess import PreprocessConfig, preprocess
    from bench.sample import RawItem

    item = RawItem("a", "folder", str(clips), {"video": "a.mkv"})
    good = preprocess(item, PreprocessConfig(size=64), cache_root=tmp_path / "c1")
    assert good.meta["face_detect_rate"] == 1.0  # the drawn face is found on every sampled frame
    real = face.detect_faces
    calls = []

    def once(img, *a, **k):  # a detector that fires on 1 of the 10 sampled frames (a test pattern)
        calls.append(1)
        return real(img, *a, **k) if len(calls) == 1 else []

    monkeypatch.setattr(face, "detect_faces", once)
    with pytest.raises(BadInputError,
                       match=r"a.mkv: no face: found on 10% of 10 sampled frames, 30% needed"):
        preprocess(item, PreprocessConfig(size=64), cache_root=tmp_path / "c2")


# -- options and configuration ------------------------------------------------------------------
@pytest.mark.parametrize("extra, message", [
    (["--limit", "0"], "limit must be >= 1"), (["--limit", "-1"], "limit must be >= 1"),
    (["--bootstrap", "-1"], "bootstrap must be >= 0"),
    (["--set-bootstrap", "-5"], "set_bootstrap must be >= 0"),
    (["--workers", "-2"], "workers must be >= 0"),
    (["--size", "0"], "size must be a positive integer"),
    (["--shard", "0/2"], "1 <= k <= N"), (["--shard", "3/2"], "1 <= k <= N"),
    (["--shard", "x"], "k/N"),
    (["--models", ""], "models is empty"), (["--metrics", ""], "metrics is empty"),
    (["--models", " , "], "models is empty")])
def test_bad_numeric_and_empty_options_exit_2(extra, message, capsys):
    assert main(["run", "--dataset", "demo", *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("dataset: demo\nlimit: [1\n", "is malformed"),
    ("dataset: demo\nlimit: three\n", "limit must be an integer"),
    ("dataset: demo\nmodels: 7\n", "models must be a list"), ("- a\n- b\n", "mapping at top level"),
    ("dataset: demo\npreprocess: {fps: -1}\n", "fps must be a positive number"),
    ("dataset: demo\ndatasets: [x]\n", "datasets must map")])
def test_bad_config_files_exit_2_naming_the_file(tmp_path, text, message, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    assert main(["run", "--config", str(f)]) == 2
    assert message in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


# -- one writer, concurrency --------------------------------------------------------------------
def test_one_writer_per_run_and_shard(clips, tmp_path, capsys):
    out = tmp_path / "r"
    with RunLock(out / "results" / "shard-1-of-1.lock"):
        assert main(_args(clips, out)) == 2
        assert f"pid {os.getpid()} on {socket.gethostname()}" in capsys.readouterr().err
        with RunLock(out / "results" / "shard-1-of-2.lock"):
            assert main(_args(clips, out, "--shard", "2/2")) == 0  # other shards of the run may run
    lock = str(out / "results" / "shard-1-of-1.lock")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from bench.results import RunLock\n"
        f"RunLock(Path({lock!r})).__enter__(); print('held', flush=True)\n"
        "time.sleep(60)")], stdout=subprocess.PIPE, cwd=REPO, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert main(_args(clips, out)) == 2 and f"pid {holder.pid}" in capsys.readouterr().err
    holder.kill()
    holder.wait()
    assert main(_args(clips, out)) == 0  # a dead holder's lock is taken over


def _bench(args: list[str], **kw) -> subprocess.Popen:
    code = "import sys, helpers; from bench.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    return subprocess.Popen([sys.executable, "-c", code, *args], env={**env, **kw.pop("env", {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def test_concurrent_runs_share_one_cache_without_corrupting_it(clips, tmp_path):

    home = tmp_path / "home"
    env = {"BENCH_HOME": str(home)}
    procs = [_bench(_args(clips, tmp_path / name, metrics=f"{STOI},{FRECHET}", models="gt,static"),
                    env=env) for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    entries = [d for d in (home / "preprocessed").glob("*/*") if not d.name.startswith(".")]
    assert len(entries) == 2
    assert all(cache.verified_record(d / "sample.json", "entry") for d in entries)
    cached = [*(home / "features").rglob("*.npy"), *(home / "stats").rglob("*.npz")]
    assert cached and all(cache.verified(f) for f in cached)
    assert not [p for p in home.rglob(".*~*") if p.exists()]  # no temp entry left behind


# -- workers and signals ------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_the_run(clips, tmp_path, how):
    proc = _bench(["run", "--dataset", "folder", "--root", str(clips), "--models", "gt,static",
                   "--size", "128", "--metrics", f"{STOI},mcd@pymcd/dtw/16k", "--workers", "2",
                   "--out", str(tmp_path / "r")])
    deadline = time.time() + 300
    workers: list[int] = []
    while time.time() < deadline and proc.poll() is None and len(workers) < 2:
        workers = [c for c in _children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        time.sleep(0.1)
    assert len(workers) == 2, "the run ended before its workers could be seen"
    proc.send_signal(how)
    _, err = proc.communicate(timeout=60)
    if how == signal.SIGTERM:
        assert proc.returncode == 143 and "interrupted; re-run the same command to resume" in err
    deadline = time.time() + 20
    while _alive(workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(workers), f"orphan workers {_alive(workers)} outlived the run"


def test_stale_temp_entries_are_cleaned_on_start(clips, tmp_path, monkeypatch):
    from bench.atomic import temp_prefix
    from bench.paths import preprocessed_dir

    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    host = socket.gethostname()
    root = preprocessed_dir() / "zz"
    left = root / f".abc~{host}~{dead.pid}~x1"
    busy = root / f".abc~{host}~{live.pid}~x2"
    foreign = root / ".abc~another-host~1~x3"
    for d in (left, busy, foreign):
        d.mkdir(parents=True)
        (d / "video.mkv").write_bytes(b"half")
    try:
        assert main(_args(clips, tmp_path / "r")) == 0
        assert not left.exists() and busy.exists() and foreign.exists()
        assert temp_prefix("x").startswith(f".x~{host}~{os.getpid()}~")
    finally:
        live.kill()
        shutil.rmtree(root)


# -- environment errors -------------------------------------------------------------------------
def test_environment_errors_exit_2_with_one_line(clips, tmp_path, tmpfs, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    assert main(_args(clips, tmp_path / "file" / "r")) == 2  # --out below a regular file
    err = capsys.readouterr().err
    assert "bench: error:" in err and "Traceback" not in err
    ro = tmpfs("ro", "size=1m,ro")
    assert main(_args(clips, ro / "r")) == 2
    assert f"{ro}/r: read-only file system" in capsys.readouterr().err
    monkeypatch.setenv("BENCH_HOME", str(ro / "home"))
    assert main(_args(clips, tmp_path / "r2")) == 2
    assert "read-only file system" in capsys.readouterr().err


def test_disk_full_stops_cleanly_and_resumes_to_the_same_summary(clips, tmp_path, tmpfs,
                                                                  monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(_args(clips, tmp_path / "ref", models="gt,static")) == 0
    small = tmpfs("small", "size=256k")
    assert main(_args(clips, small / "r", models="gt,static")) == 2  # the outputs do not fit
    assert "no space left on device" in capsys.readouterr().err
    subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
    assert main(_args(clips, small / "r", models="gt,static")) == 0
    assert _metrics(small / "r") == _metrics(tmp_path / "ref")


def test_index_failure_keeps_exit_0_and_index_keeps_both_directories(clips, tmp_path, monkeypatch,
                                                                   capsys, caplog):
    home = _private_home(monkeypatch, tmp_path)
    assert main(_args(clips, tmp_path / "a")) == 0 and main(_args(clips, tmp_path / "b")) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert f"{tmp_path / 'a'}" in listed and f"{tmp_path / 'b'}" in listed
    (home / "runs.sqlite").unlink()
    (home / "runs.sqlite").mkdir()  # an index that cannot be opened
    assert main(_args(clips, tmp_path / "c")) == 0
    assert (tmp_path / "c" / "summary.json").is_file() and "run index" in caplog.text


def test_cache_files_honour_the_umask(clips, tmp_path, monkeypatch):
    home = _private_home(monkeypatch, tmp_path)
    old = os.umask(0o002)  # a lab's shared cache: group-writable
    try:
        assert main(_args(clips, tmp_path / "r", metrics=f"{STOI},{FRECHET}")) == 0
    finally:
        os.umask(old)
    files = [p for p in home.rglob("*") if p.is_file() and p.suffix != ".sqlite"]
    dirs = [p for p in home.rglob("*") if p.is_dir()]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files} == {"0o664"}
    assert {oct(p.stat().st_mode & 0o777) for p in dirs} == {"0o775"}
