"""LMD: mouth landmark distance between generated and ground-truth frames.

Protocol in the id: dlib 68-point landmarks (registry `dlib-landmarks68`, HOG detector, largest
face, re-detected every 10th frame and reused in between), the 20 mouth points (48–67), mean Euclidean distance in pixels of the preprocessed frame
(512×512 by default: the frame size is part of the run's preprocessing config), frame i against
frame i over the common length, no alignment or normalisation ("raw"; Chen et al. 2018 align by
the mouth centre — that would be a different id). Frames where either face is not found are
skipped; their share is logged by the error when no frame is left.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BadInputError
from metrics.base import Pair, PerSampleMetric, Score, register_metric
from metrics.nets.dlib_face import DlibFaces

MOUTH = slice(48, 68)
DETECT_EVERY = 10  # re-detect the face box every 10 frames; landmarks are fitted on every frame


def mouth_tracks(faces: DlibFaces, frames: np.ndarray) -> list[np.ndarray | None]:
    """Mouth landmarks [20, 2] per frame (None where no face box is known yet)."""
    out, box = [], None
    for i, f in enumerate(frames):
        if i % DETECT_EVERY == 0:
            found = faces.detect(f)
            box = found if found is not None else box
        lm = faces.landmarks(f, box) if box is not None else None
        out.append(lm[MOUTH] if lm is not None else None)
    return out


@register_metric
class LMDDlib(PerSampleMetric):
    id = "lmd@dlib68/mouth20/frames-all-det10/px-raw"
    needs = frozenset({"gen_video", "gt_video"})
    higher_is_better = False
    weights = ("dlib-landmarks68",)
    description = "mouth landmark distance to ground truth (dlib 68 points, pixels, no alignment)"
    default = True
    randomisable = False  # dlib models ship offline: always the real weights

    def setup(self, device: str) -> None:
        self.faces = DlibFaces(str(self.shipped_weights_file("dlib-landmarks68")))

    def compute(self, pair: Pair) -> Score:
        gen, gt = pair.gen.frames, pair.gt.frames
        n = min(len(gen), len(gt))
        dists = [np.linalg.norm(a - b, axis=1).mean()
                 for a, b in zip(mouth_tracks(self.faces, gen[:n]), mouth_tracks(self.faces, gt[:n]))
                 if a is not None and b is not None]
        if not dists:
            raise BadInputError(pair.gen.video_path, f"no frame with a face in both generated and ground truth "
                                                f"({min(len(gen), len(gt))} frames compared)")
        return Score(float(np.mean(dists)), len(dists), max(len(gen), len(gt)))
