"""LSE-D / LSE-C (Prajwal et al. 2020): lip-sync error distance and confidence from SyncNet.

Scoring is joonson/syncnet_python's `SyncNetInstance.evaluate` (../shared/PROTOCOLS.md §8):
python_speech_features MFCCs (defaults, 13 coefficients) of the 16 kHz int16 speech; for each
frame i < min(#frames, #samples // 640) - 5 the 5 frames i..i+4 (224×224 BGR floats 0–255) and
MFCC steps 4i..4i+19; 1024-d embeddings; Euclidean distances (torch's pairwise_distance, eps 1e-6)
to the audio embeddings shifted by -15..+15 frames (zero-padded at the edges, as the reference);
mdist = mean over frames; LSE-D = min(mdist), LSE-C = median(mdist) - min(mdist), AV offset =
15 - argmin in frames (the reference's printed "AV offset").

Two protocols, named in the ids:
- `s3fd-track{N}`: the reference pipeline (metrics.facetracks): S3FD faces on every frame, shot
  cuts, tracks of more than N detections (reference: 100; `s3fd-track50` etc. for shorter clips),
  face crops. `s3fd-track{N}-det{K}`: S3FD on every K-th frame, boxes interpolated where key
  frames hold the same faces (faster; not the reference's numbers to the last digit).
  Several tracks: the longest one (ties: the larger face) gives the sample's value; every track's
  numbers are in the sample's record. No track: "not scored" with the reason.
- `wholeframe224-wav2lip`: Wav2Lip's `calculate_scores_LRS.py`: no detection, every whole frame
  resized to 224×224 (for generators whose output is already a face crop).
Both LSE ids of one protocol share one pass per clip. Frames are read in forward passes (shots,
detection, crops per track) that hold a bounded window of frames: clips whose decoded frames
would exceed `max_frame_bytes` are streamed from the file once per pass instead of decoded whole.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from typing import ClassVar

import cv2
import numpy as np
import torch
from python_speech_features import mfcc

from bench.audio import to_pcm16
from bench.clip import Clip
from bench.errors import BadInputError
from metrics.base import Metric, Pair, PerSampleMetric, Score, register_metric
from metrics.facetracks import CROP_SIZE, TrackConfig, face_tracks, frame_iter, iter_track_crops, shots
from metrics.nets.infer import for_inference
from metrics.nets.s3fd import S3FD, load_s3fd
from metrics.nets.syncnet import SyncNet, load_syncnet

RATE, FPS = 16_000, 25
SAMPLES_PER_FRAME = RATE // FPS  # 640
VSHIFT = 15
BATCH = 20
FACEDET_SCALE, FACEDET_CONF = 0.25, 0.9


@dataclass(frozen=True)
class SyncResult:
    """One scored face track (or whole clip): the numbers and where they come from."""

    lse_d: float
    lse_c: float
    offset: int
    windows: int
    start: int = 0
    end: int = 0


def mfcc_int16(audio: np.ndarray) -> np.ndarray:
    """[13, steps] MFCCs of float audio in [-1, 1], computed on the int16 values the reference reads."""
    return mfcc(to_pcm16(audio), RATE).T


def windows(n_frames: int, n_samples: int) -> int:
    """How many 5-frame windows the reference scores: min(#frames, #samples // 640) - 5."""
    return max(min(n_frames, n_samples // SAMPLES_PER_FRAME) - 5, 0)


def mfcc_windows(cc: np.ndarray, n: int) -> torch.Tensor:
    """[n, 1, 13, 20]: MFCC steps 4i..4i+19 for frame i (10 ms steps, 4 per 40 ms frame)."""
    return torch.from_numpy(np.stack([cc[:, 4 * i:4 * i + 20] for i in range(n)])[:, None].astype(np.float32))


def offset_distances(video: torch.Tensor, audio: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """[n, 2*vshift+1]: distance of video embedding i to audio embedding i+k-vshift (zeros past the
    ends), as `calc_pdist` (pairwise_distance: ||v - a + 1e-6||)."""
    n = video.shape[0]
    padded = torch.nn.functional.pad(audio, (0, 0, vshift, vshift))
    idx = torch.arange(n)[:, None] + torch.arange(2 * vshift + 1)[None, :]
    return torch.linalg.vector_norm(video[:, None, :] - padded[idx] + 1e-6, dim=-1)


def sync_scores(dists: torch.Tensor, vshift: int = VSHIFT) -> tuple[float, float, int]:
    """(LSE-D, LSE-C, offset) from the per-window offset distances."""
    mdist = dists.mean(dim=0)
    minval, minidx = torch.min(mdist, 0)
    return float(minval), float(torch.median(mdist) - minval), int(vshift - minidx)


class _Tower(torch.nn.Module):
    """One SyncNet tower as a module of its own, to be traced."""

    def __init__(self, net: SyncNet, lip: bool):
        super().__init__()
        self.net, self.lip = net, lip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_lip(x) if self.lip else self.net.forward_aud(x)


class SyncScorer:
    """SyncNet embeddings of frames and speech, batched, and the reference's LSE numbers."""

    def __init__(self, net: SyncNet, device: str = "cpu", batch: int = BATCH):
        self.net = net.eval().to(device)
        self.device = device
        self.batch = batch
        # traced and frozen on CPU (oneDNN): the lip tower 1.8x, the audio tower 1.4x over eager
        self.lip = for_inference(_Tower(self.net, True), torch.zeros(2, 3, 5, CROP_SIZE, CROP_SIZE), device,
                                 channels_last=False)
        self.aud = for_inference(_Tower(self.net, False), torch.zeros(2, 1, 13, 20), device, channels_last=False)

    @torch.inference_mode()
    def score(self, crops: np.ndarray | Iterable[np.ndarray], audio: np.ndarray, vshift: int = VSHIFT) -> SyncResult:
        """Crops uint8 [T, 224, 224, 3] RGB, as one array or as consecutive chunks of one (long
        tracks: only a batch of windows is held), and their 16 kHz speech from the first crop on."""
        limit = len(audio) // SAMPLES_PER_FRAME - 5  # windows the audio allows
        vid: list[torch.Tensor] = []
        held, i, frames = np.empty((0, CROP_SIZE, CROP_SIZE, 3), np.uint8), 0, 0  # held: crops from window i on
        for chunk in [crops] if isinstance(crops, np.ndarray) else crops:
            frames += len(chunk)
            held = np.concatenate([held, chunk])
            # a full batch and one crop more: window T-5 exists but the reference does not score it
            while i < limit and len(held) >= self.batch + 5:
                held, i = self._lip(held, i, min(i + self.batch, limit), vid)
        n = windows(frames, len(audio))
        if n <= 0:
            raise ValueError(f"{frames} frames / {len(audio) / RATE:.2f} s of audio: fewer than 6 frames to score")
        while i < n:
            held, i = self._lip(held, i, min(i + self.batch, n), vid)
        cc = mfcc_windows(mfcc_int16(audio), n)
        aud = [self.aud(cc[k:k + self.batch].to(self.device)).float().cpu()
               for k in range(0, n, self.batch)]
        lse_d, lse_c, offset = sync_scores(offset_distances(torch.cat(vid), torch.cat(aud), vshift), vshift)
        return SyncResult(lse_d, lse_c, offset, n)

    def _lip(self, held: np.ndarray, i: int, j: int, out: list[torch.Tensor]) -> tuple[np.ndarray, int]:
        """Lip embeddings of windows i..j-1 (`held` starts at crop i) appended to `out`; returns
        the crops still needed and j."""
        x = torch.from_numpy(held[:j - i + 4, ..., ::-1].astype(np.float32))  # BGR floats 0-255
        x = x.permute(3, 0, 1, 2).unfold(1, 5, 1).permute(1, 0, 4, 2, 3)  # [j-i, 3, 5, 224, 224]
        out.append(self.lip(x.contiguous().to(self.device)).float().cpu())
        return held[j - i:], j


def whole_frames(frames: Iterable[np.ndarray], counted: list[int]) -> Iterator[np.ndarray]:
    """Wav2Lip's LRS mode: every whole frame resized to 224×224 (cv2 INTER_LINEAR), chunk by
    chunk; the frame count is added to `counted`."""
    for chunk in frames:
        counted[0] += len(chunk)
        yield np.stack([cv2.resize(f, (CROP_SIZE, CROP_SIZE)) for f in chunk])


class _LSE(PerSampleMetric):
    needs = frozenset({"gen_video", "gen_audio"})
    device = "gpu-able"
    field: ClassVar[str]
    min_track: ClassVar[int | None] = 100  # None: whole-frame protocol (no detection)
    detect_every: ClassVar[int] = 1
    # clips whose decoded frames exceed this are streamed in windows (decoded once per pass) rather
    # than decoded whole; the numbers are the same either way (tests/test_lipsync.py)
    max_frame_bytes: ClassVar[float] = 2 * 2**30
    # clip keys -> the main result and every track's, or the error: both LSE ids share one pass
    _cache: ClassVar[OrderedDict[tuple, tuple[dict, list[SyncResult]] | BadInputError]] = OrderedDict()

    def setup(self, device: str) -> None:
        path = self.weights_file("syncnet-v2")
        state = None if path is None else torch.load(path, map_location="cpu", weights_only=True)
        self.scorer = SyncScorer(load_syncnet(state), device)
        self.detector = None
        if self.min_track is not None:
            path = self.weights_file("s3fd")
            state = None if path is None else torch.load(path, map_location="cpu", weights_only=True)
            s3fd = S3FD(load_s3fd(state), device)
            self.detector = lambda frames: s3fd.detect(frames, FACEDET_SCALE, FACEDET_CONF)

    def _run(self, clip: Clip) -> tuple[dict, list[SyncResult]]:
        if abs(clip.fps - FPS) > 1e-6 or clip.sample_rate != RATE:
            raise BadInputError(clip.video_path, f"LSE needs 25 fps / 16 kHz clips, got {clip.fps} fps / {clip.sample_rate} Hz")
        audio = clip.audio
        frames = partial(clip.frame_pass, self.max_frame_bytes)  # starts a pass per use
        if self.detector is None:
            counted = [0]
            res = [self._score(clip, whole_frames((f for _, f in frames().chunks(BATCH)), counted), audio, "clip")]
            return {"tracks": 1, "frames": counted[0], "samples": len(audio)}, res
        scenes = shots(frame_iter(frames))
        n = scenes[-1][1] if scenes else 0
        if n <= self.min_track:
            raise BadInputError(clip.video_path, f"not scored: too short: {n} frames, tracks need more "
                                                 f"than {self.min_track} (use an id with a lower s3fd-trackN)")
        cfg = TrackConfig(min_track=self.min_track, every=self.detect_every)
        tracks = face_tracks(frames, self.detector, cfg, scenes)
        info = {"tracks": len(tracks), "frames": n, "samples": len(audio)}
        if not tracks:
            raise BadInputError(clip.video_path, f"not scored: no face track (S3FD conf {FACEDET_CONF}, more than "
                                                 f"{self.min_track} frames, face > 100 px)")
        # main speaker: the longest track, then the larger face
        tracks.sort(key=lambda t: (-(t.end - t.start), -t.size))
        results = []
        for t in tracks:
            seg = audio[t.start * SAMPLES_PER_FRAME:(t.end + 1) * SAMPLES_PER_FRAME]
            r = self._score(clip, iter_track_crops(frames, t), seg, f"track {t.start}-{t.end}")
            results.append(SyncResult(r.lse_d, r.lse_c, r.offset, r.windows, t.start, t.end))
        return info, results

    def _score(self, clip: Clip, crops: Iterable[np.ndarray], audio: np.ndarray, what: str) -> SyncResult:
        try:
            return self.scorer.score(crops, audio)
        except ValueError as e:
            raise BadInputError(clip.video_path, f"not scored: {what}: {e}") from None

    def compute(self, pair: Pair) -> Score:
        clip = pair.gen
        key = (clip.content_key, clip.audio_key, self.id.split("@", 1)[1], tuple(sorted(self.loaded_weights.items())))
        if key not in self._cache:
            try:
                self._cache[key] = self._run(clip)
            except BadInputError as e:
                self._cache[key] = e
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        got = self._cache[key]
        if isinstance(got, BadInputError):
            raise got
        info, results = got
        main = results[0]
        extra = {**info, "offset": main.offset, "lse_d": main.lse_d, "lse_c": main.lse_c,
                 "track": [main.start, main.end], "other_tracks": [asdict(r) for r in results[1:]]}
        scored = main.end - main.start + 1 if self.min_track is not None else info["frames"]
        return Score(getattr(main, self.field), scored, info["frames"], extra)


def _protocol(min_track: int | None, every: int = 1) -> str:
    det = "wholeframe224-wav2lip" if min_track is None else f"s3fd-track{min_track}" + (f"-det{every}" if every > 1 else "")
    return f"syncnet-v2/{det}/vshift15"


def _make(field: str, min_track: int | None, default: bool, every: int = 1) -> type[_LSE]:
    name = "lse-d" if field == "lse_d" else "lse-c"
    what = ("whole frames resized to 224 (Wav2Lip LRS mode)" if min_track is None
            else f"S3FD face tracks of more than {min_track} frames (syncnet_python pipeline)")
    return type(f"LSE_{field}_{min_track}_{every}", (_LSE,), {
        "id": f"{name}@{_protocol(min_track, every)}",
        "field": field,
        "min_track": min_track,
        "detect_every": every,
        "higher_is_better": field == "lse_c",
        "default": default,
        "weights": ("syncnet-v2",) if min_track is None else ("syncnet-v2", "s3fd"),
        "description": f"{'lip-sync confidence' if field == 'lse_c' else 'lip-sync distance'} "
                       f"(SyncNet, offsets ±15) on {what}",
    })


for _field in ("lse_d", "lse_c"):
    register_metric(_make(_field, 100, True))
    register_metric(_make(_field, None, False))

SPEC = re.compile(r"^(lse-[cd])@syncnet-v2/s3fd-track(\d+)(?:-det(\d+))?/vshift15$")


def from_spec(name: str, random_weights: bool) -> Metric | None:
    """`lse-c@syncnet-v2/s3fd-track50/vshift15` and the like: the pipeline with another minimum
    track length (the reference's 100 leaves clips of <= 100 frames unscored); `-detK` runs the
    detector on every K-th frame with the same-faces rule (metrics.facetracks) in between."""
    m = SPEC.match(name)
    if not m or int(m.group(2)) < 6:
        return None
    every = int(m.group(3) or 1)
    return _make("lse_c" if m.group(1) == "lse-c" else "lse_d", int(m.group(2)), False, max(every, 1))(random_weights)
