"""Head-motion diversity, the "Diversity" column of the Faces that Speak tables: the standard
deviation over time of head pose, averaged over pitch, yaw and roll (degrees), with pose from
FaceMesh (metrics.nets.facemesh.head_pose). SadTalker, whose protocol Faces that Speak follows,
takes the std of Hopenet's pose; Hopenet's weights are not installable here, so this is its own
id. It is the `avg_std` term of THEval's head-motion dynamics. About 0 for a still head.
"""

from __future__ import annotations

import numpy as np

from metrics.base import Pair, Score, register_metric
from metrics.nets.facemesh import LandmarkMetric


@register_metric
class HeadPoseDiversity(LandmarkMetric):
    id = "diversity@facemesh-axes/pose-std-deg"
    needs = frozenset({"gen_video"})
    higher_is_better = True
    description = "head-motion diversity: std of head pose over time, mean of pitch/yaw/roll (deg)"
    default = True

    def compute(self, pair: Pair) -> Score:
        angles, _, frames = self.pose(pair)
        return Score(float(np.std(angles, axis=0).mean()), len(angles), frames)
