"""MediaPipe FaceMesh landmarks for THEval's synchronisation and naturalness metrics: one pass per
(clip, mesh protocol), cached by content, shared by every metric that reads the same protocol.

THEval (Newbyl/THEval @cfe23fe) runs FaceMesh once per metric script, each with its own input
handling. A protocol names what changes the landmarks: the refined mesh (478 points, the attention
model) or the plain one (468), a resize before the mesh (THEval's 256x256) and the red/blue swap
that `Synchronization/lip_sync.py` applies to decord's RGB frames. Every pass starts a fresh tracker
(static_image_mode=False, one face): THEval keeps one tracker across all the videos of a list, so
its first frames depend on the previous video; here a clip's landmarks depend on the clip only.

The models ship inside the mediapipe wheel (weights registry `facemesh-*`), which reads them from
its own package directory; mediapipe is installed with --no-deps (README) because its declared
requirements (numpy<2, opencv-contrib-python, jax) would replace the suite's own.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from bench import cache, paths
from bench import video as video_io
from bench import weights as registry
from bench.clip import Clip
from bench.errors import BadInputError, MissingWeightsError
from bench.hashing import sha256_json
from metrics.base import Pair, PerSampleMetric, Prepared
from metrics.nets import silero

log = logging.getLogger("bench")
MEDIAPIPE = "0.10.21"  # THEval's pin; the last release with the FaceMesh solution graphs
INSTALL = (f"pip install --no-deps mediapipe=={MEDIAPIPE} absl-py attrs flatbuffers "
           "'protobuf>=4.25.3,<5'")
DETECTOR = "facemesh-detector"


@dataclass(frozen=True)
class MeshProtocol:
    """What the landmarks of a pass depend on besides the frames."""

    refine: bool = True  # attention mesh (478 points: refined lips, eyes, irises)
    size: int | None = None  # resize frames to size x size first (cv2 bilinear); None: as decoded
    swap_rb: bool = False  # feed BGR where FaceMesh expects RGB (lip_sync.py's quirk)
    warmup: int = 0  # the first frame fed this many extra times first, results dropped

    @property
    def id(self) -> str:
        parts = [f"facemesh{MEDIAPIPE}", "refine" if self.refine else "plain",
                 f"{self.size}px" if self.size else "native", "bgrswap" if self.swap_rb else "rgb"]
        return "-".join(parts + ([f"warm{self.warmup}"] if self.warmup else []))

    @property
    def weights(self) -> tuple[str, ...]:
        return (DETECTOR, "facemesh-landmarks-attention" if self.refine else "facemesh-landmarks")


# The one pass all default landmark metrics read. Its warm-up: the tracker's first region comes
# from the face detector's box, later ones from the previous frame's landmarks, so on a perfectly
# still clip the first 2-3 frames jump by up to 1.4 % of the frame before the mesh settles (a
# static clip's lip dynamics 0.08 instead of 0.005); THEval's scripts have no warm-up.
SHARED = MeshProtocol(warmup=5)


def require_mediapipe(names: Iterable[str]) -> dict[str, str]:
    """SHA-256 of each model the solution will load, verified in mediapipe's own package
    directory (a copy in the weights cache is of no use: the graph reads the package's file)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError("mediapipe is not installed; the FaceMesh models ship inside "
                                  f"it. Install it with:  {INSTALL}")
    root = Path(next(iter(spec.submodule_search_locations)))
    out = {}
    for name in names:
        path, digest = registry.require(name)
        if root not in path.parents:
            raise MissingWeightsError(f"weights '{name}' must be the file inside "
                                      f"mediapipe=={MEDIAPIPE} (found {path} instead): {INSTALL}")
        out[name] = digest
    return out


@contextmanager
def _native_log_to(path: Path) -> Iterator[None]:
    """Send what the C++ side writes to stderr (TFLite and absl start-up notices, a dozen lines per
    graph) to `path` instead of the user's terminal; it is logged at debug level afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _face_mesh(refine: bool) -> Any:
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1,
                                           refine_landmarks=refine, min_detection_confidence=0.5,
                                           min_tracking_confidence=0.5)


def run_pass(frames: Iterable[np.ndarray], proto: MeshProtocol) -> np.ndarray:
    """Landmarks [T, 478|468, 3] (x, y normalised to the frame, z relative depth at x's scale) of
    RGB frames in order, NaN where no face is found."""
    n = 478 if proto.refine else 468

    def feed(mesh: Any, frame: np.ndarray) -> np.ndarray:
        img = cv2.resize(frame, (proto.size, proto.size)) if proto.size else frame
        if proto.swap_rb:
            img = img[:, :, ::-1]
        found = mesh.process(np.ascontiguousarray(img)).multi_face_landmarks
        if not found:
            return np.full((n, 3), np.nan)
        return np.array([(p.x, p.y, p.z) for p in found[0].landmark])

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return np.empty((0, n, 3))
    with tempfile.NamedTemporaryFile(suffix=".log") as native:
        with _native_log_to(Path(native.name)):  # the graph starts on its first frame
            mesh = _face_mesh(proto.refine)
            for _ in range(proto.warmup + 1):
                row = feed(mesh, first)
        log.debug("mediapipe: %s", Path(native.name).read_text(errors="replace").strip())
    with mesh:
        out = [row] + [feed(mesh, frame) for frame in frames]
    return np.asarray(out, np.float64).reshape(-1, n, 3)


def _frames(clip: Clip, subset: Sequence[int] | None) -> Iterator[np.ndarray]:
    """The clip's frames (the decoded array when a metric already decoded it, else streamed),
    only those in `subset` when given."""
    assert clip.video_path is not None
    source = (iter(clip.frames) if "frames" in clip.__dict__
              else video_io.iter_frames_cfr(clip.video_path, clip.fps, clip.max_seconds))
    wanted = None if subset is None else set(subset)
    for i, frame in enumerate(source):
        if wanted is None or i in wanted:
            yield frame


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """One process computes a pass while others that want it wait (parallel metric workers)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cache_path(clip: Clip, proto: MeshProtocol, subset: Sequence[int] | None = None) -> Path:
    name = clip.content_key + (f"-{sha256_json(list(subset))[:16]}" if subset is not None else "")
    return paths.home() / "landmarks" / proto.id / f"{name}.npy"


def landmarks(clip: Clip, proto: MeshProtocol, subset: Sequence[int] | None = None) -> np.ndarray:
    """The clip's landmarks under `proto` (cached, verified on read): every frame, or the frames
    in `subset` fed to the tracker in that order (rows in subset order)."""
    path = cache_path(clip, proto, subset)
    if cache.verified(path):
        return np.load(path)
    with _locked(path):
        if cache.verified(path):  # another worker finished it while we waited
            return np.load(path)
        arr = run_pass(_frames(clip, subset), proto)
        if subset is None and len(arr) == 0:
            raise BadInputError(clip.video_path, "video has no frames")
        cache.save_npy(path, arr)
    return arr


def frame_size(clip: Clip, proto: MeshProtocol) -> tuple[int, int]:
    """(width, height) in pixels of the frames the mesh saw."""
    if proto.size:
        return proto.size, proto.size
    assert clip.video_path is not None
    info = video_io.probe(clip.video_path)
    return info.width, info.height


def face_frames(lm: np.ndarray) -> np.ndarray:
    """Boolean [T]: frames with a face."""
    return ~np.isnan(lm[:, 0, 0])


def no_face(clip: Clip, lm: np.ndarray) -> BadInputError:
    return BadInputError(clip.video_path,
                         f"no face found by FaceMesh in any of its {len(lm)} frames")


def compute_pass(clip: Clip, proto: MeshProtocol) -> None:
    """Worker job: the shared pass of one clip, before the metrics that read it are scored."""
    landmarks(clip, proto)


class LandmarkMetric(PerSampleMetric):
    """A metric of the generated clip's FaceMesh landmarks under `protocol`."""

    protocol: ClassVar[MeshProtocol] = SHARED
    uses_vad: ClassVar[bool] = False  # needs Silero VAD's speech segments of the generated audio
    parallel = True
    randomisable = False  # the models ship in the mediapipe wheel: always the real weights

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.weights = cls.protocol.weights + ((silero.WEIGHTS,) if cls.uses_vad else ())

    def setup(self, device: str) -> None:
        self.loaded_weights.update(require_mediapipe(self.protocol.weights))
        if self.uses_vad:
            self.loaded_weights.update(silero.require())

    def prepare(self, pair: Pair) -> Prepared | None:
        """The shared pass as a job of its own, so metrics of one clip in different workers do not
        each wait for it (bench.parallel runs it first)."""
        return Prepared(("facemesh", self.protocol.id, pair.gen.content_key), compute_pass,
                        (pair.gen, self.protocol))

    def track(self, pair: Pair) -> np.ndarray:
        return landmarks(pair.gen, self.protocol)

    def track_faces(self, pair: Pair) -> np.ndarray:
        """`track`, refusing a clip in which no frame has a face."""
        lm = self.track(pair)
        if not face_frames(lm).any():
            raise no_face(pair.gen, lm)
        return lm

    def pose(self, pair: Pair) -> tuple[np.ndarray, np.ndarray, int]:
        """Head pose of the generated clip's face frames (head_pose) and the frame count;
        not scored with fewer than 2 face frames."""
        lm = self.track_faces(pair)
        angles, centre = head_pose(lm, *frame_size(pair.gen, self.protocol))
        if len(angles) < 2:
            raise BadInputError(pair.gen.video_path, "not scored: 1 frame with a face")
        return angles, centre, len(lm)


def head_pose(lm: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Head pose from the mesh itself, for frames with a face: (pitch, yaw, roll) in degrees [F, 3]
    and the landmarks' centroid in pixels [F, 2].

    The head's axes are the outer eye corners (33 -> 263: left to right in the image) and the
    forehead-to-chin line (10 -> 152), in pixel space (x * width, y * height, z * width: FaceMesh's
    z has x's scale), made orthonormal; the rotation they form gives the Euler angles (x-y-z
    convention). A frontal, upright face is (0, 0, 0) up to the face's own shape, which only
    offsets the angles: dynamics and spread do not depend on it.
    """
    lm = lm[face_frames(lm)]
    px = lm * np.array([width, height, width], np.float64)
    x = px[:, 263] - px[:, 33]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = px[:, 152] - px[:, 10]
    y -= (y * x).sum(axis=1, keepdims=True) * x
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    z = np.cross(x, y)
    r = np.stack([x, y, z], axis=2)  # columns: the head's axes in camera space
    pitch = np.degrees(np.arctan2(r[:, 2, 1], r[:, 2, 2]))
    yaw = np.degrees(np.arcsin(np.clip(-r[:, 2, 0], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(r[:, 1, 0], r[:, 0, 0]))
    return np.stack([pitch, yaw, roll], axis=1), px[:, :, :2].mean(axis=1)
