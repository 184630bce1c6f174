"""THEval eyebrow dynamics (Naturalness/eyebrow_dynamics.py @cfe23fe, "micro-expression
intensity"): the mean frame-to-frame change of each eyebrow's distance to its eye.

Per frame with a face, in pixels of the frame: the distance between the centre of an eyebrow's
FaceMesh points and the centre of its eye's points, divided by the distance between the two eye
centres (frames where that is under 1e-3 px are skipped); the value is the mean absolute change
between consecutive such frames, both sides pooled (a frame without a face is skipped, the change
is taken to the last frame that had one, as THEval does). A clip without a face, or with a
single face frame, is not scored (THEval: 0.0).

Ids: `.../facemesh-refine-native/...` is THEval's own mesh input (RGB frames as decoded, no
tracker warm-up: parity in tests/test_theval.py); the default `.../facemesh-refine/...` reads the
shared landmark pass (the same with a tracker warm-up on the first frame).
"""

from __future__ import annotations

import numpy as np

from bench.errors import BadInputError
from metrics.base import Pair, Score, register_metric
from metrics.nets.facemesh import LandmarkMetric, MeshProtocol, face_frames, frame_size

LEFT_BROW = [276, 282, 283, 285, 293, 295, 296, 300, 334, 336]
LEFT_EYE = [249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466]
RIGHT_BROW = [46, 52, 53, 55, 63, 65, 66, 70, 105, 107]
RIGHT_EYE = [7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246]


def brow_distances(lm: np.ndarray, width: int, height: int) -> np.ndarray:
    """[F, 2] normalised (left, right) eyebrow-eye distances of the usable face frames."""
    px = lm[face_frames(lm)][:, :, :2] * np.array([width, height], np.float64)

    def centre(idx: list[int]) -> np.ndarray:
        return px[:, idx].mean(axis=1)

    scale = np.linalg.norm(centre(LEFT_EYE) - centre(RIGHT_EYE), axis=1)
    left = np.linalg.norm(centre(LEFT_BROW) - centre(LEFT_EYE), axis=1)
    right = np.linalg.norm(centre(RIGHT_BROW) - centre(RIGHT_EYE), axis=1)
    keep = scale >= 1e-3
    return np.stack([left[keep] / scale[keep], right[keep] / scale[keep]], axis=1)


class _BrowDynamics(LandmarkMetric):
    needs = frozenset({"gen_video"})
    higher_is_better = True

    def compute(self, pair: Pair) -> Score:
        lm = self.track_faces(pair)
        d = brow_distances(lm, *frame_size(pair.gen, self.protocol))
        if len(d) < 2:
            raise BadInputError(pair.gen.video_path, f"not scored: {len(d)} frame with a face, a "
                                "change needs 2")
        return Score(float(np.abs(np.diff(d, axis=0)).mean()), len(d), len(lm))


@register_metric
class BrowDynamics(_BrowDynamics):
    id = "brow-dyn@theval/facemesh-refine/brow-eye-absdiff"
    description = "THEval eyebrow dynamics: mean change of eyebrow-eye distance (shared pass)"
    default = True


@register_metric
class BrowDynamicsExact(_BrowDynamics):
    id = "brow-dyn@theval/facemesh-refine-native/brow-eye-absdiff"
    description = "THEval eyebrow dynamics with its own mesh input (no tracker warm-up)"
    protocol = MeshProtocol()
