"""Head-motion dynamics with THEval's formula (Naturalness/head_motion_dynamics.py @cfe23fe) on
head pose from FaceMesh instead of THEval's FaceXFormer (whose weights are not installable here):
a different pose estimator, hence its own id and no parity claim.

Pose per face frame: metrics.nets.facemesh.head_pose (pitch, yaw, roll in degrees; the head's
position = the landmarks' centroid in pixels, where THEval takes the RetinaFace box centre). Value
= sqrt(mean std of the three angles * mean variance of their frame-to-frame changes + mean
variance of the x and y position), THEval's "complexity". About 0 for a still head.
"""

from __future__ import annotations

import numpy as np

from metrics.base import Pair, Score, register_metric
from metrics.nets.facemesh import LandmarkMetric


def complexity(angles: np.ndarray, centre: np.ndarray) -> float:
    """THEval's measure_head_motion_dynamics on [F, 3] angles and [F, 2] positions."""
    avg_std = float(np.std(angles, axis=0).mean())
    d = np.diff(angles, axis=0)
    avg_deriv_var = float(np.var(d, axis=0).mean()) if len(d) > 1 else 0.0
    avg_trans_var = float(np.var(centre, axis=0).mean()) if len(centre) > 1 else 0.0
    return float(np.sqrt(avg_std * avg_deriv_var + avg_trans_var))


@register_metric
class HeadDynamics(LandmarkMetric):
    id = "head-dyn@facemesh-axes/theval-complexity"
    needs = frozenset({"gen_video"})
    higher_is_better = True
    description = "head-motion dynamics (THEval's formula, head pose from FaceMesh)"
    default = True

    def compute(self, pair: Pair) -> Score:
        angles, centre, frames = self.pose(pair)
        return Score(complexity(angles, centre), len(angles), frames)
