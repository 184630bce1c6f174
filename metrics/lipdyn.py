"""THEval lip dynamics (Naturalness/lip_dynamics.py @cfe23fe): how much the lip shape varies
over the clip. Per frame with a face, the lip-shape vector is the 780 pairwise distances between
the 40 FaceMesh lip points (FACEMESH_LIPS, coordinates scaled to 256 x 256 as THEval does); the
value is the mean over those distances of their standard deviation over time. A still mouth
(the `static` control) scores about 0; compare with the ground truth (`bench report --gt-relative`).

Ids: `.../facemesh-refine-256px/...` is THEval's own mesh input (frames resized to 256 x 256:
parity in tests/test_theval.py); the default `.../facemesh-refine/...` reads the shared landmark
pass (native size). THEval scores a clip without any face 0.0; here it is not scored.
"""

from __future__ import annotations

import numpy as np

from metrics.base import Pair, Score, register_metric
from metrics.nets.facemesh import LandmarkMetric, MeshProtocol, face_frames

# the points of mediapipe's FACEMESH_LIPS connections, sorted
LIPS = [0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191,
        267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415]
SCALE = 256


def lip_shapes(lm: np.ndarray) -> np.ndarray:
    """[F, 780] pairwise lip-point distances of the frames with a face, in THEval's pair order."""
    pts = lm[face_frames(lm)][:, LIPS, :2] * SCALE
    i, j = np.triu_indices(len(LIPS), k=1)
    return np.linalg.norm(pts[:, i] - pts[:, j], axis=2)


class _LipDynamics(LandmarkMetric):
    needs = frozenset({"gen_video"})
    higher_is_better = True

    def compute(self, pair: Pair) -> Score:
        lm = self.track_faces(pair)
        shapes = lip_shapes(lm)
        return Score(float(np.mean(np.std(shapes, axis=0))), len(shapes), len(lm))


@register_metric
class LipDynamics(_LipDynamics):
    id = "lip-dyn@theval/facemesh-refine/lips40-pairdist-std"
    description = "THEval lip dynamics: std over time of lip-shape distances (shared FaceMesh pass)"
    default = True


@register_metric
class LipDynamicsExact(_LipDynamics):
    id = "lip-dyn@theval/facemesh-refine-256px/lips40-pairdist-std"
    description = "THEval lip dynamics with its own mesh input (frames resized to 256 x 256)"
    protocol = MeshProtocol(size=256)
