"""The talking-face baselines (Audio2Head, SadTalker, Hallo, EAT).

Default tier: each engine's command line, working directory, input files and output collection
against the interface the official code documents (`../shared/BASELINES.md`), with a stand-in
`inference.py` that fails unless it is called the way the official one must be (it checks the
relative paths the official code reads and writes, then writes its output under the official
name); the reviewed patches apply to the pinned sources; failure paths.

`videosystems` tier (python -m pytest -m videosystems -n 0): the official code itself, in its
managed environment, on random-init checkpoints in the official layout, scored by bench."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tarfile
import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from bench import envs
from bench.cli import main
from bench.errors import ConfigError
from bench.generators import make_generator
from bench.results import read_records
from bench.video import read_frames, write_video

ROOT = Path(__file__).resolve().parent.parent
SHARED_SRC = ROOT.parent / "shared" / "baselines" / "src"
ARCHIVES = {"audio2head": "audio2head-09e9b43.tar.gz", "sadtalker": "sadtalker-cd4c046.tar.gz",
            "hallo": "hallo-8fd7c57.tar.gz", "eat": "eat-95beccb.tar.gz"}

# What each stand-in checks is the documented interface; it records argv and cwd for the test.
A2H_STUB = '''
import argparse, json, os, shutil, sys
p = argparse.ArgumentParser()
for f in ("--audio_path", "--img_path", "--save_path", "--model_path"):
    p.add_argument(f)
a = p.parse_args()
assert os.path.isfile("./config/vox-256.yaml"), "cwd is not the repository root"
assert os.path.isfile(a.model_path), a.model_path
with open("./results/temp.wav", "wb") as f:  # hard-coded in inference.py (needs ./results)
    f.write(open(a.audio_path, "rb").read())
os.makedirs(a.save_path, exist_ok=True)
name = os.path.basename(a.img_path)[:-4] + "_" + os.path.basename(a.audio_path)[:-4] + ".mp4"
shutil.copy(os.environ["STUB_VIDEO"], os.path.join(a.save_path, name))
with open(os.environ["STUB_LOG"] + str(os.getpid()), "w") as f:
    json.dump({"argv": sys.argv, "cwd": os.getcwd()}, f)
'''
SAD_STUB = '''
import argparse, json, os, shutil, sys, time
p = argparse.ArgumentParser()
for f in ("--driven_audio", "--source_image", "--checkpoint_dir", "--result_dir", "--size",
          "--preprocess", "--pose_style", "--expression_scale", "--batch_size", "--enhancer"):
    p.add_argument(f)
for f in ("--still", "--cpu", "--verbose"):
    p.add_argument(f, action="store_true")
a = p.parse_args()
assert os.path.isfile("src/config/facerender.yaml"), "cwd is not the repository root"
assert os.path.isfile("gfpgan/weights/alignment_WFLW_4HG.pth"), "gfpgan/weights is relative"
assert os.path.isfile(os.path.join(a.checkpoint_dir, "SadTalker_V0.0.2_%s.safetensors" % a.size))
with open(os.environ["STUB_LOG"] + str(os.getpid()), "w") as f:
    json.dump({"argv": sys.argv, "cwd": os.getcwd()}, f)
if os.environ.get("STUB_NO_FACE"):
    print("Can't get the coeffs of the input")
    sys.exit(0)
time.sleep(float(os.environ.get("STUB_SLEEP", "0")))
save_dir = os.path.join(a.result_dir, time.strftime("%Y_%m_%d_%H.%M.%S"))
os.makedirs(save_dir)
shutil.copy(os.environ["STUB_VIDEO"], save_dir + ".mp4")
shutil.rmtree(save_dir)  # not --verbose
'''

HALLO_STUB = '''
import argparse, json, os, shutil, sys, time
from omegaconf import OmegaConf
p = argparse.ArgumentParser()
p.add_argument("-c", "--config", default="configs/inference/default.yaml")
for f in ("--source_image", "--driving_audio", "--pose_weight", "--face_weight", "--lip_weight",
          "--face_expand_ratio"):
    p.add_argument(f)
p.add_argument("--output", default=".cache/output.mp4")
a = p.parse_args()
cfg = OmegaConf.load(a.config)
assert os.path.isdir(cfg.face_analysis.model_path), "pretrained_models is relative to the root"
assert os.path.isfile("pretrained_models/face_analysis/models/"
                      "face_landmarker_v2_with_blendshapes.task")  # read from this relative path
os.makedirs(cfg.save_path, exist_ok=True)
mask = os.path.join(cfg.save_path, os.path.basename(a.source_image) + "_face_mask.png")
assert not os.path.exists(mask), "another run's mask: .cache is shared"
open(mask, "w").write(a.source_image)
time.sleep(0.3)
assert open(mask).read() == a.source_image, "overwritten by a parallel run"
json.dump({"argv": sys.argv, "cwd": os.getcwd(), "cfg": OmegaConf.to_container(cfg)},
          open(os.environ["STUB_LOG"] + str(os.getpid()), "w"))
shutil.copy(os.environ["STUB_VIDEO"], a.output)
'''

EAT_DS_STUB = '''
import argparse, glob, os, numpy as np
p = argparse.ArgumentParser()
p.add_argument("--input")
p.add_argument("--deepspeech")
a = p.parse_args()
assert os.path.basename(os.getcwd()) == "deepspeech_features"
assert open(a.deepspeech).read() == "pb"
for wav in glob.glob(os.path.join(a.input, "*.wav")):  # writes <stem>.npy beside each wav
    np.save(wav[:-4] + ".npy", np.zeros((10, 16, 29), np.float64))
'''
EAT_DF32_STUB = '''
import glob, os, numpy as np  # deepfeature32.py: ./video_fps25/*.npy -> ./deepfeature32/
os.makedirs("./deepfeature32/", exist_ok=True)
for f in glob.glob("./video_fps25/*.npy"):
    np.save(os.path.join("./deepfeature32/", os.path.basename(f)), np.load(f).astype(np.float32))
'''
EAT_DEMO_STUB = '''
import argparse, glob, json, os, shutil, sys
p = argparse.ArgumentParser()
p.add_argument("--save_dir", default=" ")
p.add_argument("--name", default="deepprompt_eam3d_all_final_313")
p.add_argument("--emo", default="hap")
p.add_argument("--root_wav")
a = p.parse_args()
assert os.path.isfile("./demo/shape_predictor_68_face_landmarks.dat")  # read at import
assert os.path.isfile("./Utils/JDC/model.py") and os.path.isfile("./Utils/JDC/bst.t7")
assert os.path.isfile(f"./ckpt/{a.name}.pth.tar")
assert os.path.isfile("./ckpt/pretrain_new_274.pth.tar")
n = os.path.basename(a.root_wav)
for part in (f"{n}.wav", f"deepfeature32/{n}.npy", f"latent_evp_25/{n}.npy", f"poseimg/{n}.npy.gz"):
    assert os.path.isfile(os.path.join(a.root_wav, part)), part
assert glob.glob(f"{a.root_wav}/images_evp_25/cropped/*.jpg")
imgs = glob.glob("./demo/imgs_cropped/*.jpg")
assert len(imgs) == 1, imgs  # every image there is rendered on each run
out = f"./demo/output/{a.name}/"  # --save_dir is ignored
os.makedirs(out, exist_ok=True)
name = os.path.basename(imgs[0])[:-4] + "_" + a.emo + "_" + n + ".mp4"
shutil.copy(os.environ["STUB_VIDEO"], out + name)
with open(os.environ["STUB_LOG"] + str(os.getpid()), "w") as f:
    json.dump({"argv": sys.argv, "cwd": os.getcwd()}, f)
'''

# A frozen TensorFlow graph with DeepSpeech 0.1.0's tensors (input_node [1, T, 494],
# input_lengths [1], logits [T, 1, 29]) and random dense layers: it stands in for the real graph
# only to run EAT's feature scripts (tests/test_video_systems.py, videosystems tier).
DS_GRAPH = '''
import sys
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
rng = np.random.default_rng(0)
g = tf.compat.v1.Graph()
with g.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, None, 494], name="input_node")
    tf.compat.v1.placeholder(tf.int32, [1], name="input_lengths")
    h = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, 494])
    for i, (a, b) in enumerate([(494, 64), (64, 64), (64, 29)]):
        h = tf.matmul(h, tf.constant(rng.normal(0, 0.05, (a, b)).astype(np.float32)))
        h = tf.minimum(tf.nn.relu(h), 20.0) if i < 2 else h
    tf.reshape(h, [-1, 1, 29], name="logits")
with open(sys.argv[1], "wb") as f:
    f.write(g.as_graph_def().SerializeToString())
'''

# inference.py's main() steps on random weights with one change: the face detector's step gives
# SadTalker's own no-face result (68 landmarks of -1, for which CropAndExtract takes its
# standard landmarks), so the 3DMM fit, audio-to-coefficients and the renderer all run.
SAD_PAST_DETECTOR = '''
import json, sys, time
sys.path.insert(0, ".")
import numpy as np
from src.facerender.animate import AnimateFromCoeff
from src.generate_batch import get_data
from src.generate_facerender_batch import get_facerender_data
from src.test_audio2coeff import Audio2Coeff
from src.utils.init_path import init_path
from src.utils.preprocess import CropAndExtract

ckpt, img, wav, out = sys.argv[1:5]
paths = init_path(ckpt, "src/config", 256, False, "resize")
pre = CropAndExtract(paths, "cpu")
pre.propress.predictor.extract_keypoint = lambda images, name=None, info=True: -np.ones(
    (len(images), 68, 2))
first, crop_pic, crop_info = pre.generate(img, out, "resize", source_image_flag=True,
                                          pic_size=256)
coeff = Audio2Coeff(paths, "cpu").generate(get_data(first, wav, "cpu", None, still=False), out,
                                           0, None)
anim = AnimateFromCoeff(paths, "cpu")
data = get_facerender_data(coeff, crop_pic, first, wav, 2, None, None, None,
                           expression_scale=1.0, still_mode=False, preprocess="resize", size=256)
t0 = time.perf_counter()
video = anim.generate(data, out, img, crop_info, enhancer=None, background_enhancer=None,
                      preprocess="resize", img_size=256)
print(json.dumps({"video": video, "frames": int(data["frame_num"]),
                  "render_s": time.perf_counter() - t0}))
'''


def write_wav_16k(path: Path, seconds: float) -> None:
    """A 16 kHz 16-bit WAV of a gliding tone (speech-band energy for the feature scripts)."""
    from bench import audio as audio_io

    t = np.arange(int(seconds * 16000)) / 16000
    audio_io.write_wav(path, 0.3 * np.sin(2 * np.pi * (150 + 100 * t) * t), 16000)


def _engine(system: str) -> ModuleType:
    path = ROOT / "baselines" / system / "engine.py"
    spec = importlib.util.spec_from_file_location(f"engine_{system}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp: Path, files: dict[str, str]) -> Path:
    src = tmp / "official"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    return src


def _inputs(tmp: Path) -> tuple[dict[str, str], Path]:
    d = tmp / "inputs"
    d.mkdir()
    (d / "source.png").write_bytes(b"png")
    (d / "audio.wav").write_bytes(b"wav")
    video = tmp / "native.mp4"
    write_video(video, (np.full((64, 64, 3), 40 * i, np.uint8) for i in range(5)), 25)
    return {"image": str(d / "source.png"), "audio": str(d / "audio.wav")}, video


def _calls(log: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(log.parent.glob(log.name + "*"))]


def _two_jobs_at_once(engine, inputs: dict[str, str], tmp: Path) -> list[dict]:
    """Two samples generated in parallel by one engine, each in its own output folder (as the
    runner's workers do): what each returned, in order."""
    outs = [tmp / f"job{i}" for i in range(2)]
    results: dict[int, dict] = {}
    for o in outs:
        o.mkdir()
    threads = [threading.Thread(target=lambda i=i: results.update(
        {i: engine.generate({"inputs": inputs}, str(outs[i]))})) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1], "a job failed (its traceback is above)"
    return [results[0], results[1]]


def _config(src: Path, tmp: Path, weights: dict[str, str], options: dict, layout=None) -> dict:
    return {"source": str(src), "device": "cpu", "seed": 0, "options": options,
            "random_weights": False, "weights": weights, "layout": layout or {},
            "cache_dir": str(tmp / "cache")}


def test_audio2head_engine_calls_inference_as_documented(tmp_path, monkeypatch):
    src = _tree(tmp_path, {"inference.py": A2H_STUB, "config/vox-256.yaml": "model_params: {}",
                           "modules/__init__.py": ""})
    inputs, video = _inputs(tmp_path)
    ckpt = tmp_path / "audio2head.pth.tar"
    ckpt.write_bytes(b"weights")
    monkeypatch.setenv("STUB_VIDEO", str(video))
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "call-"))
    engine = _engine("audio2head").load(_config(src, tmp_path, {"audio2head": str(ckpt)}, {}))
    _two_jobs_at_once(engine, inputs, tmp_path)  # each has its own ./results/temp.wav
    outs = [tmp_path / "job0", tmp_path / "job1"]
    calls = _calls(tmp_path / "call-")
    assert len(calls) == 2 and len({c["cwd"] for c in calls}) == 2
    for o in outs:
        assert (o / "results" / "source_audio.mp4").is_file()  # <img>_<audio>.mp4
        assert not (o / "job").exists()  # the job's copy of the repository is removed
    argv = calls[0]["argv"]
    assert argv[0] == "inference.py" and argv[argv.index("--model_path") + 1] == str(ckpt)
    assert argv[argv.index("--img_path") + 1] == inputs["image"]
    assert not (src / "results").exists()  # the installed source is never written to
    got = engine.generate({"inputs": inputs}, str(outs[0]))
    assert got["meta"]["official_output"] == "source_audio.mp4"
    assert got["meta"]["command"][:2] == ["python", "inference.py"]


def test_sadtalker_engine_collects_the_timestamped_output_per_job(tmp_path, monkeypatch):
    src = _tree(tmp_path, {"inference.py": SAD_STUB, "src/config/facerender.yaml": "x: 1"})
    inputs, video = _inputs(tmp_path)
    files = {}
    layout = make_generator("sadtalker").layout
    for name in make_generator("sadtalker").weights:
        files[name] = str(tmp_path / Path(layout[name]).name)
        Path(files[name]).write_bytes(b"weights")
    monkeypatch.setenv("STUB_VIDEO", str(video))
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "call-"))
    monkeypatch.setenv("STUB_SLEEP", "0.3")
    opts = make_generator("sadtalker:still=true").engine_options()
    engine = _engine("sadtalker").load(_config(src, tmp_path, files, opts, layout))
    # started in the same second: one --result_dir per job keeps the two <timestamp>.mp4 apart
    results = _two_jobs_at_once(engine, inputs, tmp_path)
    for i, r in enumerate(results):
        made = Path(r["video"])
        assert made.parent == tmp_path / f"job{i}" / "results"
        assert _engine("sadtalker").STAMP.match(made.name)
    argv = _calls(tmp_path / "call-")[0]["argv"]
    flags = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == "inference.py" and "--still" in argv and "--cpu" in argv
    assert flags["--size"] == "256" and flags["--preprocess"] == "crop"
    assert flags["--pose_style"] == "0" and flags["--expression_scale"] == "1.0"
    assert "--enhancer" not in argv  # no enhancer unless asked
    # exit 0 without a video ("Can't get the coeffs of the input": no face) is a named failure
    monkeypatch.setenv("STUB_NO_FACE", "1")
    with pytest.raises(Exception, match="no <timestamp>.mp4"):
        engine.generate({"inputs": inputs}, str(tmp_path / "job0"))


def test_hallo_engine_writes_its_config_and_keeps_parallel_caches_apart(tmp_path, monkeypatch):
    default = "inference_steps: 40\ncfg_scale: 3.5\nweight_dtype: fp16\nsave_path: ./.cache\n" \
              "face_analysis:\n  model_path: ./pretrained_models/face_analysis\n"
    src = _tree(tmp_path, {"scripts/inference.py": HALLO_STUB,
                           "configs/inference/default.yaml": default})
    inputs, video = _inputs(tmp_path)
    g = make_generator("hallo:steps=4:cfg_scale=2.0")
    assert g.label == "hallo:cfg_scale=2.0:steps=4"
    files = {}
    for name in g.weights:
        e = __import__("bench.weights", fromlist=["entry"]).entry(name)
        d = tmp_path / "w" / name
        d.mkdir(parents=True)
        for f in (e.filename, *e.companions):
            (d / f).write_text(f)
        files[name] = str(d / e.filename)
    monkeypatch.setenv("STUB_VIDEO", str(video))
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "call-"))
    engine = _engine("hallo").load(_config(src, tmp_path, files, g.engine_options(), g.layout))
    results = _two_jobs_at_once(engine, inputs, tmp_path)
    assert all(Path(r["video"]).is_file() for r in results)
    calls = _calls(tmp_path / "call-")
    assert len({c["cfg"]["save_path"] for c in calls}) == 2  # a .cache of each job's own
    cfg = calls[0]["cfg"]
    assert cfg["inference_steps"] == 4 and cfg["cfg_scale"] == 2.0
    assert cfg["weight_dtype"] == "fp32"  # on the CPU
    argv = calls[0]["argv"]
    assert argv[0] == "scripts/inference.py"
    assert argv[argv.index("--output") + 1] in {r["video"] for r in results}


def test_eat_engine_builds_the_driving_folder_the_readme_describes(tmp_path, monkeypatch):
    from bench import weights

    src = _tree(tmp_path, {"demo.py": EAT_DEMO_STUB, "preprocess/deepfeature32.py": EAT_DF32_STUB,
                           "preprocess/deepspeech_features/extract_ds_features.py": EAT_DS_STUB})
    inputs, video = _inputs(tmp_path)
    inputs["image"] = inputs["image"].replace(".png", ".jpg")
    Path(inputs["image"]).write_bytes(b"jpg")
    pose = tmp_path / "obama"
    for part in ("latent_evp_25/obama.npy", "poseimg/obama.npy.gz",
                 "images_evp_25/cropped/0001.jpg"):
        (pose / part).parent.mkdir(parents=True, exist_ok=True)
        (pose / part).write_text(part)
    g = make_generator(f"eat:emotion=hap:pose={pose}")
    assert g.label.startswith("eat:emotion=hap:pose=obama@")
    files = {}
    for name in g.weights:
        e = weights.entry(name)
        d = tmp_path / "w" / name
        d.mkdir(parents=True)
        for f in (e.filename, *e.companions):
            (d / f).write_text("pb" if f.endswith(".pb") else f)
        files[name] = str(d / e.filename)
    monkeypatch.setenv("STUB_VIDEO", str(video))
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "call-"))
    engine = _engine("eat").load(_config(src, tmp_path, files, g.engine_options(), g.layout))
    results = _two_jobs_at_once(engine, inputs, tmp_path)  # each has its own demo/ folder
    assert [Path(r["video"]).name for r in results] == ["source_hap_obama.mp4"] * 2
    assert [r["meta"]["preprocess"][0][1] for r in results] == ["extract_ds_features.py"] * 2
    argv = _calls(tmp_path / "call-")[0]["argv"]
    assert argv[0] == "demo.py" and argv[argv.index("--emo") + 1] == "hap"
    assert argv[argv.index("--root_wav") + 1] == "./demo/video_processed/obama"
    assert "--save_dir" not in argv  # demo.py ignores it
    assert not (src / "demo").exists()
    with pytest.raises(Exception, match="pose=DIR"):
        _engine("eat").load(_config(src, tmp_path, files, {"emotion": "neu"}, g.layout))
    with pytest.raises(Exception, match="Utils/JDC/model.py"):
        _engine("eat").load({**_config(src, tmp_path, files, {}, g.layout),
                             "random_weights": True})


def test_sadtalker_weights_follow_size_mode_and_enhancer():
    assert make_generator("sadtalker").weights == (
        "sadtalker-256", "sadtalker-mapping-229", "facexlib-awing-fan", "facexlib-retinaface-r50")
    w = make_generator("sadtalker:size=512:preprocess=full:enhancer=gfpgan").weights
    assert w[:2] == ("sadtalker-512", "sadtalker-mapping-109") and "gfpgan-1.4" in w
    g = make_generator("sadtalker:size=512:still=true:batch=4")
    assert g.label == "sadtalker:size=512:still=true"  # batch is memory, not output
    with pytest.raises(ConfigError, match="choose one of"):
        make_generator("sadtalker:preprocess=square")


@pytest.mark.parametrize("system", [n for n in envs.spec_names() if envs.load_spec(n).patches])
def test_reviewed_patches_apply_to_the_pinned_source(system, tmp_path):
    archive = SHARED_SRC / ARCHIVES[system]
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    spec = envs.load_spec(system)
    with tarfile.open(archive) as t:
        t.extractall(tmp_path, filter="data")
    src = next(tmp_path.iterdir())
    done = envs._apply_patches(spec, src, tmp_path / "log")
    assert [d["patch"] for d in done] == list(spec.patches)
    assert all(d["reason"] for d in done)
    if system == "audio2head":
        code = (src / "inference.py").read_text() + (src / "modules/audio2pose.py").read_text()
        assert ".cuda()" not in code and "Loader=yaml.FullLoader" in code
        with pytest.raises(envs.BenchError, match="does not apply"):
            envs._apply_patches(spec, src, tmp_path / "log")  # applied twice: refused


def test_a_patch_is_part_of_the_spec_digest(tmp_path, monkeypatch):
    specs, patches = tmp_path / "envs", tmp_path / "envs" / "patches"
    (patches / "x").mkdir(parents=True)
    (specs / "x.toml").write_text('requirements = []\npatches = ["x/fix.patch"]\n'
                                  '[source]\ngit = "g"\ncommit = "c"\n')
    (patches / "x" / "fix.patch").write_text("# why\n--- a/f\n+++ b/f\n")
    monkeypatch.setattr(envs, "SPEC_DIR", specs)
    monkeypatch.setattr(envs, "PATCH_DIR", patches)
    before = envs.load_spec("x").digest
    (patches / "x" / "fix.patch").write_text("# why, edited\n--- a/f\n+++ b/f\n")
    assert envs.load_spec("x").digest != before
    assert envs.patch_reason("x/fix.patch") == "why, edited"
    (patches / "x" / "fix.patch").unlink()
    with pytest.raises(ConfigError, match="patch files"):
        envs.load_spec("x")


@pytest.mark.parametrize("system", ["audio2head", "sadtalker", "hallo", "eat"])
def test_missing_environment_or_weights_are_named(system, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_ENVS", str(tmp_path / "no-envs"))
    assert main(["run", "--dataset", "demo", "--models", system, "--limit", "1", "--metrics",
                 "psnr", "--out", "r"]) == 0
    s = json.loads(Path("r/summary.json").read_text())
    assert f"bench env install {system}" in s["missing_systems"][system]
    from bench.errors import MissingWeightsError
    from bench.generators import GenContext

    monkeypatch.setattr(envs, "require", lambda name, who: Path(sys.executable))
    g = make_generator(system)
    with pytest.raises(MissingWeightsError, match=f"bench weights import {g.weights[0]}"):
        g.setup(GenContext((), lambda s: None))  # type: ignore[arg-type,return-value]
    assert make_generator(system, random_weights=True).calibrated is False


# --- videosystems tier: the official code on random weights ----------------------------------

FVD = "fvd@i3d-tfhub/16f-first/224-tf1bilinear-squash/pm1/cov-biased"
SCORES = ["psnr@rgb-uint8/frame-mean/cap100", "ssim@rgb-uint8/gauss11-s1.5/frame-mean",
          "id-sim@dlib-resnet128/frames-every5/largest-face", FVD]


def _env(system: str) -> None:
    """Build the environment when absent (from the shared archive of the official code when
    there is one, else by cloning the pinned commit)."""
    if envs.state(system) != "installed":
        archive = SHARED_SRC / ARCHIVES[system]
        source = ["--source", str(archive)] if archive.is_file() else []
        assert main(["env", "install", system, *source]) == 0


def _random_run(models: str) -> dict:
    """`bench run` of the first demo sample on random weights into ./r: its generate records."""
    assert main(["run", "--dataset", "demo", "--limit", "1", "--models", models,
                 "--random-weights", "--metrics", SCORES[0], "--out", "r"]) == 0
    return {k[1]: r for k, r in read_records(Path("r/results")).items() if k[0] == "generate"}


@pytest.mark.videosystems
def test_audio2head_runs_its_official_code_on_random_weights(tmp_path, monkeypatch):
    _env("audio2head")
    monkeypatch.chdir(tmp_path)
    model = "audio2head:seconds=0.72"  # 17 frames: one 16-frame FVD clip
    assert main(["run", "--dataset", "demo", "--limit", "1", "--models", model,
                 "--random-weights", "--metrics", ",".join(SCORES), "--out", "r"]) == 0
    s = json.loads(Path("r/summary.json").read_text())
    for m in SCORES[:2] + SCORES[3:]:
        e = s["metrics"][model][m]
        assert e["status"] == "ok" and e["n"] == 1 and not e["calibrated"], (m, e)
    # ID-SIM is measured too: dlib (real weights) finds no face in a random network's frames,
    # and says so for the sample
    idsim = [r for k, r in read_records(Path("r/results")).items() if k[3] == SCORES[2]]
    assert [r.status for r in idsim] == ["failed"] and "no face found" in idsim[0].error
    out = Path("r/outputs/audio2head_seconds_0.72/demo-000")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["normalisation"]["native_video"] == {
        "file": "source_audio.mp4", "fps": 25.0, "height": 256, "width": 256}
    frames = read_frames(out / meta["video"])
    assert frames.shape[1:] == (512, 512, 3) and len(frames) == 17
    assert meta["meta"]["command"][1] == "inference.py" and not meta["calibrated"]
    assert meta["meta"]["options"] == {"seconds": 0.72}  # every option, defaults included
    assert meta["meta"]["inputs"]["audio"] == "16000 Hz mono 16-bit WAV, first 0.72 s"
    # the cascade: espeak's speech drives Audio2Head
    assert main(["run", "--dataset", "demo", "--limit", "1", "--models",
                 "espeak+audio2head:seconds=0.4", "--random-weights", "--metrics",
                 SCORES[0], "--out", "c"]) == 0
    rec = read_records(Path("c/results"))
    gen = [r for k, r in rec.items() if k[0] == "generate"]
    assert [r.status for r in gen] == ["ok"], [r.error for r in gen]


@pytest.mark.videosystems
def test_sadtalker_runs_its_official_code_up_to_the_face_detector(tmp_path, monkeypatch):
    """All of SadTalker's networks load from the random-init files (CropAndExtract,
    Audio2Coeff and AnimateFromCoeff are built before any input is read); the official
    preprocessing then asks the random RetinaFace for the face and gets a box outside the
    image, and `croper.get_landmark` fails on the empty crop: the step a random-weights run of
    SadTalker cannot pass. The failure is recorded with that cause and the run goes on. Then
    inference.py's remaining steps run on the same random files, with the detector's step giving
    SadTalker's own no-face result: the 3DMM fit, audio-to-coefficients and the renderer write
    the 5 frames of 0.2 s of audio (and the seconds per frame are printed)."""
    _env("sadtalker")
    monkeypatch.chdir(tmp_path)
    gen = _random_run("sadtalker:seconds=0.4,gt")
    failed = gen["sadtalker:seconds=0.4"]
    assert failed.status == "failed" and "exited with 1" in failed.error
    assert "cv2.error" in failed.error and "!ssize.empty()" in failed.error, failed.error
    log = next(Path("r/logs").glob("sadtalker*.log")).read_text()
    assert "using safetensor as default" in log and "3DMM Extraction for source image" in log
    assert "src/utils/croper.py" in log and "in get_landmark" in log
    assert gen["gt"].status == "ok"
    # past the detector: the rest of the pipeline on the same random files, 5 frames
    import subprocess

    from bench import paths
    from bench.engine_api import job_tree

    ckpt = paths.home() / "random-checkpoints" / "sadtalker" / "seed-0"
    job = job_tree(envs.env_dir("sadtalker") / "src", tmp_path / "job")
    (job / "gfpgan").symlink_to(ckpt / "gfpgan")
    native = next(Path("r/outputs").glob("sadtalker*/demo-000/native/inputs")).resolve()
    wav = tmp_path / "first-0.2s.wav"
    from bench import audio as audio_io

    audio_io.write_wav(wav, audio_io.load_audio(native / "audio.wav")[:3200], 16000)
    (tmp_path / "out").mkdir()
    py = envs.python("sadtalker")
    env = {**os.environ, "PATH": f"{py.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(py), "-c", SAD_PAST_DETECTOR, str(ckpt / "checkpoints"),
                           str(native / "source.png"), str(wav), str(tmp_path / "out")],
                          cwd=job, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    frames = read_frames(Path(got["video"]))
    assert got["frames"] == 5 and frames.shape == (5, 256, 256, 3)
    print(f"SadTalker renderer on random weights: {got['render_s'] / 5:.1f} s per 256² frame")
    shutil.rmtree("r")


@pytest.mark.videosystems
def test_hallo_runs_its_official_code_up_to_its_face_analysis(tmp_path, monkeypatch):
    """Hallo's first step, `ImageProcessor`, loads InsightFace's ONNX face-analysis models, which
    random weights cannot stand in for (no official code builds them): the official script runs
    with the engine's YAML, in the job's root, and stops there; the record names the step."""
    _env("hallo")
    monkeypatch.chdir(tmp_path)
    failed = _random_run("hallo:seconds=0.64:steps=1")["hallo:seconds=0.64:steps=1"]
    # with no face_analysis/models, insightface turns to its download (GitHub): offline, the end
    assert failed.status == "failed" and "insightface/releases" in failed.error, failed.error
    log = next(Path("r/logs").glob("hallo*.log")).read_text()
    assert "hallo/datasets/image_processor.py" in log and "FaceAnalysis(" in log
    assert "bench-inference.yaml" in log  # the engine's copy of the official YAML was read


@pytest.mark.videosystems
def test_eat_environment_runs_up_to_the_code_only_its_utils_zip_has(tmp_path, monkeypatch):
    """EAT's environment imports what demo.py imports (torch, torchvision, torchaudio's
    MelSpectrogram, dlib, clip, TensorFlow for DeepSpeech), its generator and keypoint modules
    import, and the emotion-prompt and transformer modules (demo.py imports both) stop on
    `Utils.JDC.model`, code that only the Utils zip carries: no random weights can be built
    without it, and a random-weights run is reported MISSING with that cause."""
    import subprocess

    _env("eat")
    py, src = envs.python("eat"), envs.env_dir("eat") / "src"
    probe = ("import sys; sys.path.insert(0, '.'); import torchaudio, dlib, clip, tensorflow; "
             "import modules.generator, modules.keypoint_detector; "
             "m = torchaudio.transforms.MelSpectrogram(n_mels=80, n_fft=2048, win_length=640, "
             "hop_length=640); print('imports ok', flush=True); import modules.prompt")
    done = subprocess.run([str(py), "-c", probe], cwd=src, capture_output=True, text=True)
    assert done.returncode == 1 and "imports ok" in done.stdout, done.stderr
    assert "No module named 'Utils'" in done.stderr and "modules/prompt.py" in done.stderr
    # EAT's DeepSpeech step, the official scripts in the order preprocess_video.py runs them, on
    # TensorFlow 2 (patched): fed by a random graph with DeepSpeech 0.1.0's input/output tensors
    # (a stand-in to exercise the scripts: the real graph is a GitHub release download)
    graph = tmp_path / "ds.pb"
    done = subprocess.run([str(py), "-c", DS_GRAPH, str(graph)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    from bench.engine_api import job_tree

    job = job_tree(src, tmp_path / "job", own=["preprocess"])
    wav = job / "preprocess" / "video_fps25" / "clip.wav"
    wav.parent.mkdir()
    write_wav_16k(wav, 3.0)
    for cwd, cmd in ((job / "preprocess" / "deepspeech_features",
                      ["extract_ds_features.py", "--input=../video_fps25", "--deepspeech",
                       str(graph)]), (job / "preprocess", ["deepfeature32.py"])):
        done = subprocess.run([str(py), *cmd], cwd=cwd, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    feats = np.load(job / "preprocess" / "deepfeature32" / "clip.npy")
    assert feats.shape == (75, 16, 29) and feats.dtype == np.float32  # 25 windows per second
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dataset", "demo", "--limit", "1", "--models", "eat,gt",
                 "--random-weights", "--metrics", SCORES[0], "--out", "r"]) == 0
    s = json.loads(Path("r/summary.json").read_text())
    assert "Utils/JDC/model.py" in s["missing_systems"]["eat"], s["missing_systems"]
