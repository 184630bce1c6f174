"""Paired frame metrics (PSNR, SSIM) against scikit-image, and the dlib-based ID-SIM and LMD on
real fixture faces."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from bench.errors import BadInputError
from bench.video import read_frames
from metrics.base import Pair
from metrics.idsim import IDSimDlib
from metrics.lmd import LMDDlib
from metrics.paired import psnr_frames, ssim_frames

pytestmark = pytest.mark.real


def clip(frames: np.ndarray, name: str = "gen.mp4") -> types.SimpleNamespace:
    return types.SimpleNamespace(frames=frames, video_path=name)


@pytest.fixture(scope="module")
def face_frames(real) -> np.ndarray:
    return read_frames(real / "videos" / "retalking_face_3.mp4", 25, 0.8)  # 20 frames, one speaker


@pytest.mark.parity
def test_psnr_and_ssim_equal_scikit_image_on_real_frames(face_frames):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    a = face_frames[:4]
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    want_ssim = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       channel_axis=-1, data_range=255) for x, y in zip(a, b)]
    want_psnr = [peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(a, b)]
    np.testing.assert_allclose(ssim_frames(a, b), want_ssim, rtol=1e-10)
    np.testing.assert_allclose(psnr_frames(a, b), want_psnr, rtol=1e-10)
    assert psnr_frames(a, a).tolist() == [100.0] * 4  # identical frames: the documented cap


@pytest.fixture(scope="module")
def idsim():
    m = IDSimDlib()
    m.setup("cpu")
    return m


def test_id_sim_is_higher_for_the_same_person(real, idsim, face_frames, tmp_path):
    same = tmp_path / "same.png"
    cv2.imwrite(str(same), cv2.cvtColor(face_frames[0], cv2.COLOR_RGB2BGR))
    gen = clip(face_frames[5:])

    def score(source) -> float:  # noqa: ANN001
        got = idsim.compute(Pair(types.SimpleNamespace(source_image=str(source)), gen, None))
        assert got.used == got.offered == 3  # frames 5, 10, 15 of the 15 generated: a face in each
        return got.value

    s_same = score(same)
    s_other = score(real / "images" / "hallo_ref_3.jpg")
    assert s_same > s_other and s_same > 0.85


def test_id_sim_without_a_face_is_a_clear_error(real, idsim):
    blank = clip(np.zeros((10, 128, 128, 3), np.uint8), "blank.mp4")
    with pytest.raises(BadInputError, match="blank.mp4: no face found"):
        idsim.compute(Pair(types.SimpleNamespace(source_image=str(real / "images" / "hallo_ref_3.jpg")), blank, None))


def test_lmd_is_zero_on_identical_frames_and_tracks_a_known_shift(face_frames):
    m = LMDDlib()
    m.setup("cpu")
    shifted = np.roll(face_frames, 10, axis=2)  # 10 px to the right: the mouth moves by 10 px
    same = m.compute(Pair(None, clip(face_frames), clip(face_frames, "gt.mp4")))
    assert same.value == 0.0 and same.used == same.offered == len(face_frames)
    moved = m.compute(Pair(None, clip(shifted), clip(face_frames, "gt.mp4")))
    assert moved.value == pytest.approx(10.0, abs=2.0)
