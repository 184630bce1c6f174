"""Face tracks for lip-sync scoring: joonson/syncnet_python's `run_pipeline.py` on decoded frames.

Same steps and constants as the reference (../shared/PROTOCOLS.md §8): shot cuts by PySceneDetect's
ContentDetector (0.6 semantics: HSV mean absolute difference, threshold 27, minimum shot 15
frames, merge filter, frames downscaled by max(w, h) // 256), greedy IoU > 0.5 tracking within a
shot with gaps of at most 25 frames, tracks longer than `min_track` detections whose mean box
side exceeds `min_face_size` px, boxes linearly interpolated across gaps, size and centre
median-filtered (kernel 13, zero-padded as scipy's medfilt), crops of rows [y - s, y + 1.8 s] and
columns [x - 1.4 s, x + 1.4 s] of the frame padded with grey 110, resized to 224×224.

What differs is only how the work is done: frames come decoded from memory (no AVI, JPEG or
XVID round trips), in forward passes that hold a bounded window of frames (bench.clip.FrameWindows:
the decoded array, or a re-decoding stream for long videos), detection runs in batches, and with
`every` > 1 the detector runs on every k-th frame of a shot: where two consecutive key frames hold
the same faces (same count, each matched at IoU >= `same_iou`), the boxes in between are
interpolated, otherwise every frame in between is detected. tests/test_lipsync.py measures what
this changes on the real fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import signal
from scipy.interpolate import interp1d

from bench.clip import FrameWindows

Detector = Callable[[Sequence[np.ndarray]], list[np.ndarray]]  # RGB frames -> [n, 5] boxes+score each
Frames = np.ndarray | Callable[[], FrameWindows]  # decoded frames, or how to start a pass over them

CUT_THRESHOLD, MIN_SHOT = 27.0, 15
TRACK_IOU, MAX_GAP = 0.5, 25
CROP_SCALE, CROP_SIZE, PAD_VALUE, MEDIAN_KERNEL = 0.40, 224, 110, 13


@dataclass(frozen=True)
class TrackConfig:
    """The reference pipeline's knobs (defaults = run_pipeline.py) plus the detection stride."""

    min_track: int = 100
    min_face_size: float = 100.0
    every: int = 1
    same_iou: float = 0.8
    batch: int = 16  # frames per detector call; a pass holds at most batch * every + 1 frames


@dataclass(frozen=True)
class Track:
    """Consecutive frames [start, end] of one face with its per-frame box (x1, y1, x2, y2)."""

    frames: np.ndarray  # int [n]
    boxes: np.ndarray  # float [n, 4]

    @property
    def start(self) -> int:
        return int(self.frames[0])

    @property
    def end(self) -> int:
        return int(self.frames[-1])

    @property
    def size(self) -> float:
        return float(np.maximum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1]).mean())


def _content_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """Mean of the mean absolute H, S and V differences (ContentDetector's default weights)."""
    d = np.abs(prev.astype(np.int32) - cur.astype(np.int32)).reshape(-1, 3).sum(axis=0) / (prev.shape[0] * prev.shape[1])
    return float(d.sum() / 3)


def shots(frames: Iterable[np.ndarray]) -> list[tuple[int, int]]:
    """[start, end) frame ranges between hard cuts, read in one pass; the whole clip when there is
    none (the last range ends at the frame count)."""
    cuts, last_above, merging, merge_start, merge_enabled = [], 0, False, 0, False
    prev, n = None, 0
    for i, f in enumerate(frames):
        n = i + 1
        h, w = f.shape[:2]
        factor = max(w, h) // 256 if max(w, h) >= 256 else 1
        if factor > 1:
            f = cv2.resize(f, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_LINEAR)
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)
        above = prev is not None and _content_score(prev, hsv) >= CUT_THRESHOLD
        prev = hsv
        long_enough = i - last_above >= MIN_SHOT  # PySceneDetect's FlashFilter, MERGE mode
        if above:
            last_above = i
        if merging:
            if long_enough and not above and last_above - merge_start >= MIN_SHOT:
                merging = False
                cuts.append(last_above)
        elif above and long_enough:
            merge_enabled = True
            cuts.append(i)
        elif above and merge_enabled:
            merging, merge_start = True, i
    bounds = [0, *cuts, n]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The reference's IoU (no +1 pixel convention)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _same_faces(a: np.ndarray, b: np.ndarray, min_iou: float) -> np.ndarray | None:
    """For each face of `a`, the index of its match in `b` when the two frames hold the same faces."""
    if len(a) != len(b):
        return None
    match, free = [], set(range(len(b)))
    for box in a:
        best = max(free, key=lambda j: iou(box, b[j]), default=None)
        if best is None or iou(box, b[best]) < min_iou:
            return None
        match.append(best)
        free.discard(best)
    return np.array(match, dtype=int)


def _opener(frames: Frames) -> Callable[[], FrameWindows]:
    return (lambda: FrameWindows(frames)) if isinstance(frames, np.ndarray) else frames


def frame_iter(frames: Frames, chunk: int = 16) -> Iterator[np.ndarray]:
    """The frames one by one, in one pass."""
    for _, got in _opener(frames)().chunks(chunk):
        yield from got


def detect(frames: Frames, n: int, detector: Detector, scenes: list[tuple[int, int]],
           cfg: TrackConfig) -> list[np.ndarray]:
    """Faces per frame, in one pass: detected on every frame (every=1), or on key frames with the
    same-faces rule filling the frames in between (see the module docstring). Key frames go in
    blocks of `batch`; a block's frames are released once its gaps are filled."""
    out: list[np.ndarray | None] = [None] * n
    win = _opener(frames)()

    def run(idx: list[int]) -> None:
        for k in range(0, len(idx), cfg.batch):
            chunk = idx[k:k + cfg.batch]
            for i, d in zip(chunk, detector([win.frame(i) for i in chunk])):
                out[i] = d

    for s, e in scenes:
        keys = sorted({*range(s, e, max(cfg.every, 1)), e - 1})
        for c in range(0, len(keys), cfg.batch):
            block = keys[max(c - 1, 0):c + cfg.batch]  # shares its first key with the previous block
            run(keys[c:c + cfg.batch])
            refine = []
            for a, b in zip(block, block[1:]):
                if b - a < 2:
                    continue
                match = _same_faces(out[a], out[b], cfg.same_iou)
                if match is None:
                    refine.extend(range(a + 1, b))
                    continue
                for i in range(a + 1, b):
                    t = (i - a) / (b - a)
                    out[i] = (1 - t) * out[a] + t * out[b][match]
            run(refine)
            win.release(block[-1])
    return out  # type: ignore[return-value]


def _track_shot(faces: list[list[dict]], cfg: TrackConfig) -> list[Track]:
    """run_pipeline.py's track_shot, including its list-mutation order (one face per frame per pass)."""
    tracks = []
    while True:
        track: list[dict] = []
        for frame_faces in faces:
            for face in frame_faces:  # the reference removes from the list it iterates: kept as is
                if not track:
                    track.append(face)
                    frame_faces.remove(face)
                elif face["frame"] - track[-1]["frame"] <= MAX_GAP:
                    if iou(face["bbox"], track[-1]["bbox"]) > TRACK_IOU:
                        track.append(face)
                        frame_faces.remove(face)
                        continue
                else:
                    break
        if not track:
            return tracks
        if len(track) > cfg.min_track:
            fr = np.array([f["frame"] for f in track])
            bb = np.array([f["bbox"] for f in track])
            full = np.arange(fr[0], fr[-1] + 1)
            boxes = np.stack([interp1d(fr, bb[:, k])(full) for k in range(4)], axis=1)
            if max(np.mean(boxes[:, 2] - boxes[:, 0]), np.mean(boxes[:, 3] - boxes[:, 1])) > cfg.min_face_size:
                tracks.append(Track(full, boxes))


def face_tracks(frames: Frames, detector: Detector, cfg: TrackConfig,
                scenes: list[tuple[int, int]] | None = None) -> list[Track]:
    """The clip's face tracks, shot by shot (`scenes`: the clip's shots, when already known)."""
    if scenes is None:
        scenes = shots(frame_iter(frames))
    dets = detect(frames, scenes[-1][1] if scenes else 0, detector, scenes, cfg)
    tracks = []
    for s, e in scenes:
        if e - s >= cfg.min_track:
            faces = [[{"frame": i, "bbox": list(b[:4])} for b in dets[i]] for i in range(s, e)]
            tracks.extend(_track_shot(faces, cfg))
    return tracks


def crop_boxes(track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median-filtered half-size, centre x and centre y per frame (crop_video's `dets`)."""
    b = track.boxes
    s = np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2
    x, y = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    return tuple(signal.medfilt(v, kernel_size=MEDIAN_KERNEL) for v in (s, x, y))  # type: ignore[return-value]


def crop(frame: np.ndarray, s: float, x: float, y: float) -> np.ndarray:
    """One 224×224 face crop, exactly as the reference slices the frame padded with grey 110
    (the padding is materialised only when the window leaves the frame)."""
    pad = int(s * (1 + 2 * CROP_SCALE))
    my, mx = y + pad, x + pad
    r0, r1 = int(my - s), int(my + s * (1 + 2 * CROP_SCALE))
    c0, c1 = int(mx - s * (1 + CROP_SCALE)), int(mx + s * (1 + CROP_SCALE))
    h, w = frame.shape[:2]
    if 0 <= r0 and 0 <= c0 and r1 <= h + 2 * pad and c1 <= w + 2 * pad:
        win = np.full((max(r1 - r0, 0), max(c1 - c0, 0), 3), PAD_VALUE, np.uint8)
        sr0, sr1, sc0, sc1 = max(r0 - pad, 0), min(r1 - pad, h), max(c0 - pad, 0), min(c1 - pad, w)
        if sr1 > sr0 and sc1 > sc0:
            win[sr0 + pad - r0:sr1 + pad - r0, sc0 + pad - c0:sc1 + pad - c0] = frame[sr0:sr1, sc0:sc1]
    else:  # numpy's negative-index slicing semantics, as the reference gets them
        win = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), constant_values=PAD_VALUE)[r0:r1, c0:c1]
    if win.size == 0:
        return np.full((CROP_SIZE, CROP_SIZE, 3), PAD_VALUE, np.uint8)
    return cv2.resize(win, (CROP_SIZE, CROP_SIZE))


def iter_track_crops(frames: Frames, track: Track, chunk: int = 16) -> Iterator[np.ndarray]:
    """uint8 [<=chunk, 224, 224, 3] crops of the track's frames, in order, in one pass that holds
    at most `chunk` frames (same channel order as `frames`)."""
    s, x, y = crop_boxes(track)
    for i0, got in _opener(frames)().chunks(chunk, track.start, track.end + 1):
        yield np.stack([crop(f, s[i0 - track.start + k], x[i0 - track.start + k], y[i0 - track.start + k])
                        for k, f in enumerate(got)])


def track_crops(frames: Frames, track: Track) -> np.ndarray:
    """All crops of the track as one array."""
    return np.concatenate(list(iter_track_crops(frames, track)))
