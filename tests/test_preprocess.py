import cv2
import numpy as np
import pytest

from bench.asr import Transcriber
from bench.audio import load_audio
from bench.errors import BadInputError
from bench.face import Box, detect_faces, square_crop
from bench.preprocess import PreprocessConfig, preprocess
from bench.sample import RawItem
from bench.video import probe, read_frames, write_video


def test_square_crop_stays_inside_and_shrinks_to_fit():
    assert square_crop(Box(40, 40, 20, 20), 100, 100, 2.0) == (30, 30, 40)
    assert square_crop(Box(0, 0, 20, 20), 100, 100, 2.0) == (0, 0, 40)  # shifted, not padded
    assert square_crop(Box(10, 10, 80, 80), 100, 60, 2.0) == (20, 0, 60)  # shrunk to the short side


def test_no_face_is_a_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 96, 3), dtype=np.uint8) for _ in range(30)]
    audio = (0.1 * rng.normal(size=16000 * 30 // 25)).astype(np.float32)
    write_video(tmp_path / "noise.mkv", iter(frames), audio=(audio, 16000))
    item = RawItem("noise", "folder", str(tmp_path), {"video": "noise.mkv"})
    with pytest.raises(BadInputError, match=r"noise.mkv: no face: found on 0% of"):
        preprocess(item, PreprocessConfig(min_seconds=0.5), cache_root=tmp_path / "cache")
    # center crop needs no detector
    s = preprocess(item, PreprocessConfig(crop="center", size=64, min_seconds=0.5), cache_root=tmp_path / "cache")
    assert s.num_frames == 30 and read_frames(s.video).shape == (30, 64, 64, 3)


def test_missing_audio_and_too_short_are_errors(tmp_path):
    write_video(tmp_path / "mute.mkv", iter([np.zeros((64, 64, 3), np.uint8)] * 30))
    item = RawItem("mute", "folder", str(tmp_path), {"video": "mute.mkv"})
    with pytest.raises(BadInputError, match="mute.mkv: no audio track"):
        preprocess(item, PreprocessConfig(crop="center"), cache_root=tmp_path)
    write_video(tmp_path / "short.mkv", iter([np.zeros((64, 64, 3), np.uint8)] * 5),
                audio=(np.full(3200, 0.1, np.float32), 16000))
    item = RawItem("short", "folder", str(tmp_path), {"video": "short.mkv"})
    with pytest.raises(BadInputError, match="short.mkv: clip is 0.20 s long"):
        preprocess(item, PreprocessConfig(crop="center"), cache_root=tmp_path)


def test_demo_sample_is_preprocessed_as_in_the_paper(tmp_path):
    from bench.datasets import get_dataset

    d = get_dataset("demo")
    item = d.discover(d.resolve_root(str(tmp_path / "raw")))[0]
    s = preprocess(item, PreprocessConfig(), cache_root=tmp_path / "cache")
    frames = read_frames(s.video)
    assert frames.shape[1:] == (512, 512, 3) and len(frames) == s.num_frames and s.fps == 25
    audio = load_audio(s.audio)
    assert len(audio) == round(s.duration * 16000)
    assert len(load_audio(s.voice_profile)) == 2 * 16000
    src = cv2.cvtColor(cv2.imread(s.source_image), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(src, frames[0])  # source image = first preprocessed frame
    assert s.text == item.text and s.text_source == "dataset"
    again = preprocess(item, PreprocessConfig(), cache_root=tmp_path / "cache")
    assert again == s  # cache hit
    other = preprocess(item, PreprocessConfig(size=256), cache_root=tmp_path / "cache")
    assert other.meta["cache_key"] != s.meta["cache_key"]  # parameters are part of the key


@pytest.mark.real
def test_real_clip_crop_is_centred_on_the_face(real, tmp_path):
    item = RawItem("grid", "folder", str(real / "videos"), {"video": "lipnet_grid_bbaf2n.mpg"})
    s = preprocess(item, PreprocessConfig(), cache_root=tmp_path)
    assert s.num_frames == 75 and s.duration == 3.0
    frame = read_frames(s.video)[40]
    faces = detect_faces(frame)
    assert faces, "the face must still be visible after cropping"
    f = faces[0]
    cx, cy = f.x + f.w / 2, f.y + f.h / 2
    assert abs(cx - 256) < 512 * 0.1 and abs(cy - 256) < 512 * 0.15
    assert 512 / 2.5 < f.w < 512 / 1.3  # the face fills about 1 / face_expand of the crop


@pytest.mark.real
def test_vfr_clip_preprocessed_to_25fps_keeps_av_duration(real, tmp_path):
    path = real / "videos" / "retalking_face_1.mp4"
    item = RawItem("vfr", "folder", str(path.parent), {"video": path.name})
    s = preprocess(item, PreprocessConfig(size=128), cache_root=tmp_path)
    info = probe(s.video)
    assert info.nominal_fps == 25
    raw_audio_s = len(load_audio(path)) / 16000
    assert abs(s.num_frames / 25 - raw_audio_s) <= 1 / 25
    assert abs(s.meta["audio_minus_video_s"]) <= 1 / 25


class _CountingASR(Transcriber):
    id = "stub-asr"

    def __init__(self):
        self.calls = 0

    def transcribe(self, audio):
        self.calls += 1
        assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size > 16000  # the preprocessed 16 kHz audio
        return "machine words"


def test_missing_transcript_comes_from_the_configured_asr_and_is_recorded(tmp_path):
    from bench.datasets import get_dataset

    d = get_dataset("demo")
    item = d.discover(d.resolve_root(str(tmp_path / "raw")))[1]
    item = RawItem(item.id, "folder", item.root, {"video": item.files["video"]})  # no transcript
    assert preprocess(item, PreprocessConfig(), cache_root=tmp_path / "c").text_source == "none"
    asr = _CountingASR()
    s = preprocess(item, PreprocessConfig(), asr, cache_root=tmp_path / "c")
    assert (s.text, s.text_source) == ("machine words", "asr:stub-asr")
    preprocess(item, PreprocessConfig(), asr, cache_root=tmp_path / "c")
    assert asr.calls == 1  # cached beside the preprocessed entry
