"""Procedural talking faces for the embedded demo dataset: deterministic, offline, no third-party media.

Each sample is a drawn face (per-identity skin, hair, face shape and voice pitch) whose mouth
opening follows the amplitude envelope of a synthetic speech-like signal: voiced syllables with
a pitch contour and vowel formants, noise bursts for consonants, pauses between words. The face
also sways and blinks, so video metrics see motion, and the mouth is in sync with the audio, so
sync metrics see a real (positive) signal while the `shuffled` control breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.signal import lfilter

SR = 16_000
FPS = 25
WIDTH, HEIGHT = 320, 288  # not square: preprocessing's face crop has work to do

WORDS = ["blue", "green", "red", "white", "place", "set", "lay", "bin", "at", "by", "in", "with",
         "now", "soon", "again", "please", "one", "two", "three", "four", "five", "six", "seven",
         "eight", "nine", "zero", "the", "quick", "talking", "face", "speaks", "clearly", "today"]
# (F1, F2) of a few vowels, Hz: enough variety for a speech-like spectrum
VOWELS = [(730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720), (490, 1350)]


@dataclass(frozen=True)
class Identity:
    """Looks and voice of one procedural speaker."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    background: tuple[int, int, int]
    face_w: int
    face_h: int
    eye_dx: int
    f0: float


def make_identity(rng: np.random.Generator) -> Identity:
    skin = tuple(int(v) for v in rng.choice([[224, 172, 140], [198, 134, 96], [165, 110, 78], [238, 196, 170]]))
    hair_base = rng.choice([[40, 30, 20], [90, 60, 30], [20, 20, 20], [150, 110, 60]])
    hair = tuple(int(min(h, 0.6 * s)) for h, s in zip(hair_base, skin))  # darker than the face
    background = tuple(int(v) for v in rng.integers(60, 200, 3))
    return Identity(skin, hair, background, int(rng.integers(62, 74)), int(rng.integers(82, 92)),
                    int(rng.integers(24, 30)), float(rng.uniform(100, 220)))


def _formant(x: np.ndarray, freq: float, bw: float) -> np.ndarray:
    """Second-order resonator (one formant) applied to x."""
    r = np.exp(-np.pi * bw / SR)
    theta = 2 * np.pi * freq / SR
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def speech(rng: np.random.Generator, words: list[str], f0: float) -> np.ndarray:
    """Speech-like audio for the given words: ~2 syllables per word, pauses between words."""
    parts: list[np.ndarray] = [np.zeros(int(0.25 * SR))]
    for word in words:
        for _ in range(max(1, min(3, len(word) // 3))):
            n = int(rng.uniform(0.14, 0.24) * SR)
            t = np.arange(n) / SR
            pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))
            phase = 2 * np.pi * np.cumsum(pitch) / SR
            source = sum(np.sin(k * phase) / k for k in range(1, 25))
            f1, f2 = VOWELS[int(rng.integers(len(VOWELS)))]
            voiced = _formant(source, f1, 90) + 0.6 * _formant(source, f2, 120)
            env = np.sin(np.pi * np.linspace(0, 1, n)) ** 0.7
            burst = rng.normal(0, 0.3, int(0.03 * SR)) * np.hanning(int(0.03 * SR))
            parts += [burst, voiced * env, np.zeros(int(0.02 * SR))]
        parts.append(np.zeros(int(rng.uniform(0.08, 0.2) * SR)))
    parts.append(np.zeros(int(0.25 * SR)))
    x = np.concatenate(parts)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def mouth_openness(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """Per-video-frame mouth opening in [0, 1] from the audio's RMS envelope."""
    hop = SR // FPS
    rms = np.array([np.sqrt(np.mean(audio[i * hop:(i + 1) * hop] ** 2) + 1e-12) for i in range(n_frames)])
    return np.clip(rms / (np.percentile(rms, 95) + 1e-9), 0, 1)


def draw_face(ident: Identity, t: float, mouth: float, blink: bool) -> np.ndarray:
    """One RGB frame of the identity at time t with the given mouth opening."""
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[:] = ident.background
    cx = int(WIDTH / 2 + 10 * np.sin(2 * np.pi * 0.3 * t))
    cy = int(HEIGHT / 2 + 4 * np.sin(2 * np.pi * 0.5 * t + 1))
    aa = cv2.LINE_AA
    cv2.ellipse(img, (cx, cy + 120), (110, 60), 0, 180, 360, tuple(v // 2 for v in ident.hair), -1, aa)  # shoulders
    cv2.ellipse(img, (cx, cy - 18), (ident.face_w + 10, ident.face_h + 8), 0, 180, 360, ident.hair, -1, aa)
    cv2.ellipse(img, (cx, cy), (ident.face_w, ident.face_h), 0, 0, 360, ident.skin, -1, aa)
    shade = tuple(int(v * 0.7) for v in ident.skin)
    brow = tuple(int(v * 0.3) for v in ident.skin)  # always darker than skin, whatever the hair
    ey = cy - 22
    for side in (-1, 1):
        ex = cx + side * ident.eye_dx
        cv2.ellipse(img, (ex, ey - 2), (17, 12), 0, 0, 360, shade, -1, aa)  # eye socket shadow
        cv2.line(img, (ex - 14, ey - 17), (ex + 14, ey - 19 + side), brow, 4, aa)  # eyebrow
        if blink:
            cv2.line(img, (ex - 11, ey), (ex + 11, ey), (40, 30, 30), 2, aa)
        else:
            cv2.ellipse(img, (ex, ey), (12, 7), 0, 0, 360, (245, 245, 245), -1, aa)
            cv2.circle(img, (ex, ey), 5, (60, 40, 30), -1, aa)
            cv2.circle(img, (ex, ey), 2, (10, 10, 10), -1, aa)
    cv2.line(img, (cx, ey + 8), (cx - 5, cy + 14), shade, 3, aa)  # nose
    cv2.ellipse(img, (cx, cy + 16), (9, 4), 0, 0, 180, shade, -1, aa)
    my = cy + 42
    open_h = int(2 + 16 * mouth)
    cv2.ellipse(img, (cx, my), (20, open_h), 0, 0, 360, (150, 60, 60), -1, aa)  # lips
    cv2.ellipse(img, (cx, my), (16, max(1, open_h - 4)), 0, 0, 360, (50, 15, 20), -1, aa)  # mouth cavity
    if mouth > 0.3:
        cv2.rectangle(img, (cx - 10, my - open_h + 3), (cx + 10, my - open_h + 6), (235, 235, 225), -1)  # teeth
    return cv2.GaussianBlur(img, (3, 3), 0)


def render(seed: int, n_words: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Frames [T,H,W,3] uint8, audio float32 @16 kHz of the same duration, and the transcript."""
    rng = np.random.default_rng(seed)
    ident = make_identity(rng)
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), n_words)]
    audio = speech(rng, words, ident.f0)
    n_frames = len(audio) // (SR // FPS)
    audio = audio[: n_frames * (SR // FPS)]
    mouth = mouth_openness(audio, n_frames)
    blink_at = set(int(b) for b in rng.integers(0, n_frames, max(1, n_frames // 60)))
    frames = np.stack([draw_face(ident, k / FPS, mouth[k], k in blink_at or (k - 1) in blink_at)
                       for k in range(n_frames)])
    return frames, audio, " ".join(words)
