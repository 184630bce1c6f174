"""THEval silent-lip stability (Synchronization/silent_lip_stability.py @cfe23fe): how still the
lips stay while nobody speaks. Lower is better.

Silences: frames outside every Silero VAD speech segment ([int(start * fps), int(end * fps)]),
kept in runs of at least 0.3 s (0.3 * fps frames). On each such frame with a face, lip distance =
the mean over 8 upper/lower lip point pairs of |y_upper - y_lower| / |eye corner 33 - eye corner
263| (coordinates scaled to 256 x 256, as THEval resizes the frame; frames whose eye distance is
under 1e-3 px are skipped). The value is THEval's "MAD": the median absolute deviation of those
distances from their mean. Not scored without a silence of 0.3 s or with fewer than 2 silent frames
with a face.

Ids: `.../facemesh-refine-256px-silent-only/...` is THEval's own mesh input: frames resized to
256 x 256 and only the silent frames fed to the tracker, in order (parity in tests/test_theval.py);
the default `.../facemesh-refine/...` takes the silent frames' rows of the shared landmark pass
(every frame tracked, native size).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from bench.errors import BadInputError, NotApplicableError
from metrics.base import Pair, Prepared, Score, register_metric
from metrics.nets import silero
from metrics.nets.facemesh import LandmarkMetric, MeshProtocol, face_frames, landmarks, no_face

UPPER = [191, 80, 81, 82, 13, 312, 311, 310]
LOWER = [95, 88, 178, 87, 14, 317, 402, 318]
MIN_SILENCE_S = 0.3
SCALE = 256


def silent_frames(segments: list[tuple[float, float]], fps: float, total: int) -> list[int]:
    """Frames in silences of at least 0.3 s, in order."""
    speech = {f for s, e in segments for f in range(int(s * fps), int(e * fps) + 1)}
    silent = set(range(total)) - speech
    out: list[int] = []
    run: list[int] = []
    for f in sorted(silent):
        if run and f != run[-1] + 1:
            out += run if len(run) >= MIN_SILENCE_S * fps else []
            run = []
        run.append(f)
    return out + (run if len(run) >= MIN_SILENCE_S * fps else [])


def lip_distance(lm: np.ndarray) -> np.ndarray:
    """[T] mean normalised vertical lip distance per frame (NaN without a usable face)."""
    px = lm[:, :, :2] * SCALE
    eye = np.linalg.norm(px[:, 33] - px[:, 263], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.abs(px[:, UPPER, 1] - px[:, LOWER, 1]) / eye[:, None]
    return np.where(eye >= 1e-3, d.mean(axis=1), np.nan)


class _SilentLip(LandmarkMetric):
    needs = frozenset({"gen_video", "gen_audio"})
    higher_is_better = False
    uses_vad = True

    def silent_track(self, pair: Pair) -> tuple[int, Callable[[list[int]], np.ndarray]]:
        """The clip's frame count, and the landmarks of given frames (rows of the shared pass)."""
        lm = self.track(pair)
        return len(lm), lambda frames: lm[frames]

    def compute(self, pair: Pair) -> Score:
        clip = pair.gen
        total, silent_landmarks = self.silent_track(pair)
        audio = clip.audio_at(silero.RATE)
        frames = silent_frames(silero.speech_segments(audio), clip.fps, total)
        if not frames:
            raise NotApplicableError(clip.audio_path, f"not scored: no silence of {MIN_SILENCE_S} "
                                     f"s or more (Silero VAD) in {total} frames")
        lm = silent_landmarks(frames)
        if not face_frames(lm).any():
            raise no_face(clip, lm)
        d = lip_distance(lm)
        d = d[~np.isnan(d)]
        if len(d) < 2:
            raise BadInputError(clip.video_path, f"not scored: {len(d)} silent frames with a face, "
                                "fewer than 2")
        mean = float(np.mean(d))
        value = statistics.median([abs(float(x) - mean) for x in d])
        return Score(float(value), len(d), total, extra={"silent_frames": len(frames)})


@register_metric
class SilentLip(_SilentLip):
    id = "silent-lip@theval/facemesh-refine/silence300ms-silero5.1.2/mad"
    description = "THEval silent-lip stability: spread of lip distance in silences (shared pass)"
    default = True


@register_metric
class SilentLipExact(_SilentLip):
    id = "silent-lip@theval/facemesh-refine-256px-silent-only/silence300ms-silero5.1.2/mad"
    description = "THEval silent-lip stability with its own mesh input (256 px, silent frames only)"
    protocol = MeshProtocol(size=256)

    def prepare(self, pair: Pair) -> Prepared | None:
        return None  # its pass depends on the audio's silences: computed with the metric

    def silent_track(self, pair: Pair) -> tuple[int, Callable[[list[int]], np.ndarray]]:
        """The decoded frame count, and a pass over only the given frames."""
        return len(pair.gen.frames), lambda frames: landmarks(pair.gen, self.protocol, frames)
