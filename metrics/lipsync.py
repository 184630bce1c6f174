"""THEval lip-sync (Synchronization/lip_sync.py @cfe23fe): how closely mouth opening follows
loudness while the speaker speaks. Lower is better.

Per frame, mouth openness = |mean y of 8 upper-lip points - mean y of 8 lower-lip points| divided
by the inter-ocular distance (|mean x of one eye's corners - mean x of the other's|), FaceMesh
coordinates normalised to the frame. Loudness = RMS of the audio in 50 ms frames (hop 50 ms,
librosa, centred), linearly interpolated to the video frame times i / fps. Only frames inside
Silero VAD speech segments and with a face count; openness and RMS are each min-max normalised
over those frames (+1e-8), and the value is the mean absolute difference. Not scored when speech
covers less than 10 % of the frames or fewer than 2 speech frames have a face.

Ids: `.../facemesh-plain-bgrswap/...` keeps THEval's mesh exactly (the plain 468-point mesh, fed
decord's RGB frames after a BGR-to-RGB conversion, i.e. with red and blue swapped: per-clip parity
in tests/test_theval.py); the default `.../facemesh-refine/...` reads the suite's shared landmark
pass (attention mesh, colours as decoded). Audio: the run's 16 kHz mono track (THEval reads the
file at its own rate for RMS; the VAD sees 16 kHz in both).
"""

from __future__ import annotations

import librosa
import numpy as np

from bench.errors import BadInputError, NotApplicableError
from metrics.base import Pair, Score, register_metric
from metrics.nets import silero
from metrics.nets.facemesh import LandmarkMetric, MeshProtocol, face_frames

UPPER = [191, 80, 81, 82, 13, 312, 311, 310]
LOWER = [95, 88, 178, 87, 14, 317, 402, 318]
EYE_A, EYE_B = [33, 133], [362, 263]
RMS_SECONDS = 0.05
MIN_SPEECH_SHARE = 0.1


def mouth_openness(lm: np.ndarray) -> np.ndarray:
    """[T] openness per frame (NaN without a face or with zero inter-ocular distance)."""
    upper, lower = lm[:, UPPER, 1].mean(axis=1), lm[:, LOWER, 1].mean(axis=1)
    inter = np.abs(lm[:, EYE_B, 0].mean(axis=1) - lm[:, EYE_A, 0].mean(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(inter > 0, np.abs(upper - lower) / inter, np.nan)


def loudness(audio: np.ndarray, rate: int, times: np.ndarray) -> np.ndarray:
    """RMS in 50 ms frames, interpolated to `times` (seconds)."""
    n = int(rate * RMS_SECONDS)
    rms = librosa.feature.rms(y=audio, frame_length=n, hop_length=n)[0]
    at = librosa.frames_to_time(range(len(rms)), sr=rate, hop_length=n)
    return np.interp(times, at, rms)


def _minmax(x: np.ndarray) -> np.ndarray:
    return (x - np.min(x)) / (np.max(x) - np.min(x) + 1e-8)


class _LipSync(LandmarkMetric):
    needs = frozenset({"gen_video", "gen_audio"})
    higher_is_better = False
    uses_vad = True

    def compute(self, pair: Pair) -> Score:
        clip = pair.gen
        lm = self.track_faces(pair)
        total = len(lm)
        audio = clip.audio_at(silero.RATE)
        if not np.any(audio):
            raise NotApplicableError(clip.audio_path, "not scored: the audio is silent")
        openness = mouth_openness(lm)
        speech = silero.speech_frames(silero.speech_segments(audio), clip.fps, total)
        share = len(speech) / total
        mask = np.isin(np.arange(total), sorted(speech)) & ~np.isnan(openness)
        if share < MIN_SPEECH_SHARE:
            raise NotApplicableError(clip.audio_path, f"not scored: speech (Silero VAD) covers "
                                     f"{share:.0%} of the {total} frames, under "
                                     f"{MIN_SPEECH_SHARE:.0%}")
        if mask.sum() < 2:
            raise BadInputError(clip.video_path, f"not scored: {int(mask.sum())} speech frames "
                                "with a face, fewer than 2")
        volume = loudness(audio, silero.RATE, np.arange(total) / clip.fps)
        value = np.mean(np.abs(_minmax(openness[mask]) - _minmax(volume[mask])))
        extra = {"speech_frames": len(speech), "face_frames": int(face_frames(lm).sum())}
        return Score(float(value), int(mask.sum()), total, extra=extra)


@register_metric
class LipSync(_LipSync):
    id = "lipsync@theval/facemesh-refine/rms50ms-silero5.1.2/16k"
    description = "THEval lip sync: |mouth openness - RMS| on speech frames (shared FaceMesh pass)"
    default = True


@register_metric
class LipSyncExact(_LipSync):
    id = "lipsync@theval/facemesh-plain-bgrswap/rms50ms-silero5.1.2/16k"
    description = "THEval lip sync with lip_sync.py's own mesh (plain mesh, red/blue swapped)"
    protocol = MeshProtocol(refine=False, swap_rb=True)
