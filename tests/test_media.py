import numpy as np
import pytest
import soundfile as sf

from bench.audio import load_audio, read_audio_native, resample
from bench.errors import BadInputError
from bench.video import decode_audio_stream, iter_frames_cfr, probe, read_frames, write_video


def _frames(n, h=32, w=48):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_ffv1_round_trip_is_lossless_and_bit_exact(tmp_path):
    frames = _frames(12)
    write_video(tmp_path / "a.mkv", iter(frames))
    write_video(tmp_path / "b.mkv", iter(frames))
    assert (tmp_path / "a.mkv").read_bytes() == (tmp_path / "b.mkv").read_bytes()
    np.testing.assert_array_equal(read_frames(tmp_path / "a.mkv"), np.stack(frames))


def test_muxed_audio_comes_back(tmp_path):
    sr = 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)).astype(np.float32)
    write_video(tmp_path / "a.mkv", iter(_frames(25)), audio=(x, sr))
    y, rate = decode_audio_stream(tmp_path / "a.mkv")
    assert rate == sr and len(y) == len(x)
    np.testing.assert_allclose(y, x, atol=1 / 32767 + 1e-6)
    assert probe(tmp_path / "a.mkv").has_audio


def test_constant_rate_resampling_of_30fps_input(tmp_path):
    frames = [np.full((8, 8, 3), i, np.uint8) for i in range(30)]  # 1 s at 30 fps, frame i has value i
    write_video(tmp_path / "a.mkv", iter(frames), fps=30)
    out = read_frames(tmp_path / "a.mkv", fps=25)
    assert len(out) == 25  # duration kept: 1 s
    # output frame k shows the last input frame at or before its centre (k + 0.5) / 25
    expected = [int(np.floor((k + 0.5) / 25 * 30 + 1e-9)) for k in range(25)]
    assert [int(f[0, 0, 0]) for f in out] == expected


def test_max_seconds_caps_frames(tmp_path):
    write_video(tmp_path / "a.mkv", iter(_frames(50)))
    assert sum(1 for _ in iter_frames_cfr(tmp_path / "a.mkv", 25, max_seconds=1.0)) == 25


@pytest.mark.parametrize("content, cause", [(b"", "empty"), (b"not a video at all" * 50, "unreadable")])
def test_corrupt_and_empty_files_name_file_and_cause(tmp_path, content, cause):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(BadInputError) as e:
        probe(p)
    assert "bad.mp4" in str(e.value) and cause in str(e.value)


def test_video_without_audio_track(tmp_path):
    write_video(tmp_path / "silent.mkv", iter(_frames(5)))
    with pytest.raises(BadInputError, match="silent.mkv: no audio track"):
        decode_audio_stream(tmp_path / "silent.mkv")


def test_wrong_sample_rate_is_resampled_and_bad_audio_rejected(tmp_path):
    sr = 8000
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype(np.float32)
    sf.write(tmp_path / "a8k.wav", np.stack([x, x], 1), sr)  # stereo, 8 kHz
    y = load_audio(tmp_path / "a8k.wav", 16000)
    assert len(y) == 2 * 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 440) < 2  # the tone survived, at the right pitch
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), sr)
    with pytest.raises(BadInputError, match="empty.wav: audio has zero samples"):
        read_audio_native(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF1234")
    with pytest.raises(BadInputError, match="junk.wav: unreadable audio"):
        read_audio_native(tmp_path / "junk.wav")


def test_resample_identity_and_length():
    x = np.random.default_rng(0).normal(size=22050).astype(np.float32)
    assert resample(x, 16000, 16000) is x or np.array_equal(resample(x, 16000, 16000), x)
    assert len(resample(x, 22050, 16000)) == 16000


@pytest.mark.real
def test_real_fixtures_decode(real):
    for name in ["lipnet_grid_bbaf2n.mpg", "latentsync_demo1_video.mp4", "retalking_face_3.mp4"]:
        info = probe(real / "videos" / name)
        assert info.has_audio
        first = next(iter_frames_cfr(real / "videos" / name))
        assert first.shape == (info.height, info.width, 3)


@pytest.mark.real
def test_vfr_clip_keeps_its_wall_clock_duration(real):
    """retalking_face_1.mp4 is VFR (nominal 30 fps, 135 frames over 6.1 s): resampling by timestamps
    gives 25 fps frames spanning the audio's duration within one frame; a constant-fps reader
    (135 / 30 = 4.5 s) would drift by 1.6 s."""
    path = real / "videos" / "retalking_face_1.mp4"
    n = sum(1 for _ in iter_frames_cfr(path, 25))
    audio_s = len(load_audio(path, 16000)) / 16000
    assert abs(n / 25 - audio_s) <= 1 / 25
    assert abs(n / 25 - 135 / 30) > 1.0  # reading the 135 frames at the nominal 30 fps would be badly wrong


def test_frame_windows_stream_like_the_array_and_hold_only_unreleased_frames(tmp_path):
    """A streamed pass gives the decoded array's frames, holds only what is not released (a
    skipped stretch is decoded, never held), refuses to go back, and ends where the clip ends;
    Clip.frame_pass streams only when the decoded frames exceed the budget."""
    from bench.clip import Clip, FrameWindows

    frames = np.random.default_rng(0).integers(0, 255, (40, 16, 16, 3), dtype=np.uint8)
    pulled = []

    def source():
        for i, f in enumerate(frames):
            pulled.append(i)
            yield f
    w = FrameWindows(source())
    assert np.array_equal(w.get(2, 5), frames[2:5]) and pulled == list(range(5))
    assert np.shares_memory(w.frame(4), frames[4])  # the held frame itself, not a copy
    w.release(30)
    assert len(w._held) == 0 and pulled == list(range(30))
    assert [(i, len(c)) for i, c in w.chunks(4, 30)] == [(30, 4), (34, 4), (38, 2)]
    with pytest.raises(ValueError, match="already released"):
        w.get(10, 12)
    with pytest.raises(IndexError, match="past the end"):
        w.frame(40)
    a = FrameWindows(frames)
    assert [c for _, c in a.chunks(16)][2].base is frames  # the array's own slices

    path = tmp_path / "v.mkv"
    write_video(path, iter(frames), 25, "ffv1")
    assert Clip(path, None).decoded_bytes == frames.nbytes
    streamed, whole = Clip(path, None).frame_pass(frames.nbytes - 1), Clip(path, None).frame_pass(frames.nbytes)
    assert streamed._array is None and whole._array is not None
    assert np.array_equal(np.concatenate([c for _, c in streamed.chunks(7)]), whole.get(0, 40))
