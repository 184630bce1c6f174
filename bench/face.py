"""Face detection for preprocessing: OpenCV's Haar cascades, which ship inside the
opencv-python-headless 4.x wheel and so work offline on any machine.

The crop is fixed for a whole clip (a talking-head crop, as HDTF/VoxCeleb preprocessing does):
detect on a few frames spread over the clip, take the largest face in each, and use the median
box, so one missed or spurious detection cannot move the crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

DETECTOR_ID = "opencv-haar-frontalface-default"
_DETECT_MAX_SIDE = 640  # detection runs on a downscaled copy: faster and scale-stable


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels: top-left corner and size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return self.w * self.h


@lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV Haar cascade missing at {path}: install opencv-python-headless<5 "
                           "(the 5.x wheels ship an empty cv2/data)")
    return cascade


def detect_faces(img: np.ndarray, min_size_frac: float = 0.08) -> list[Box]:
    """Faces in an RGB uint8 image, largest first; `min_size_frac` of the shorter side is the
    smallest face considered (rejects background false positives)."""
    h, w = img.shape[:2]
    scale = min(1.0, _DETECT_MAX_SIDE / max(h, w))
    small = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else img
    gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    min_side = max(20, int(min(small.shape[:2]) * min_size_frac))
    found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    boxes = [Box(x / scale, y / scale, bw / scale, bh / scale) for (x, y, bw, bh) in found]
    return sorted(boxes, key=lambda b: b.area, reverse=True)


def clip_face_box(frames: list[np.ndarray]) -> tuple[Box | None, float]:
    """Median of the largest face over the frames that have one, and the share of frames that
    have one (the detection rate); (None, 0.0) when no frame has a face."""
    found = [faces[0] for faces in map(detect_faces, frames) if faces]
    if not found:
        return None, 0.0
    arr = np.array([[b.x + b.w / 2, b.y + b.h / 2, b.w, b.h] for b in found])
    cx, cy, bw, bh = np.median(arr, axis=0)
    return Box(cx - bw / 2, cy - bh / 2, bw, bh), len(found) / len(frames)


def square_crop(face: Box, width: int, height: int, expand: float) -> tuple[int, int, int]:
    """A square (x0, y0, side) centred on the face, `expand` times its size, kept inside the frame.

    When the expanded square does not fit it shrinks to the largest square that does, and it is
    shifted (not cut) at the borders so the output is never padded.
    """
    side = int(round(min(max(face.w, face.h) * expand, width, height)))
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    x0 = int(round(min(max(cx - side / 2, 0), width - side)))
    y0 = int(round(min(max(cy - side / 2, 0), height - side)))
    return x0, y0, side
