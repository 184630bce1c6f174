"""The systems framework: model options and labels, the registry, the config's `models:`
section, and the one normalisation step every output goes through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import config
from bench.errors import BadInputError, ConfigError, GeneratorError
from bench.generators import Generator, make_generator, parse_spec, register_generator
from bench.normalise import Target, check_delivery, normalise
from bench.video import probe, read_frames, write_video


def test_option_syntax_never_collides_with_the_model_separator() -> None:
    assert parse_spec("sadtalker:size=512:still=true") == ("sadtalker", {"size": "512",
                                                                         "still": "true"})
    assert parse_spec("precomputed:/a/out") == ("precomputed", {"": "/a/out"})
    cfg = config.build({"dataset": "demo", "models": "gt,precomputed:dir=/tmp"})
    assert cfg.models == ("gt", "precomputed:dir=/tmp")
    with pytest.raises(ConfigError, match="given twice"):
        parse_spec("x:a=1:a=2")


def test_two_precomputed_directories_of_one_name_get_two_rows(tmp_path: Path) -> None:
    (tmp_path / "a" / "out").mkdir(parents=True)
    (tmp_path / "b" / "out").mkdir(parents=True)
    a = make_generator(f"precomputed:{tmp_path / 'a' / 'out'}")
    b = make_generator(f"precomputed:dir={tmp_path / 'b' / 'out'}")
    assert a.label != b.label and a.label.startswith("precomputed:out@")
    same = make_generator(f"precomputed:dir={tmp_path / 'a' / 'out'}")
    assert same.label == a.label
    keys = [config.build({"dataset": "demo", "models": f"precomputed:{tmp_path / d / 'out'}"})
            .numbers_key("x")["models"] for d in ("a", "b")]
    assert keys == [[a.label], [b.label]]


def test_unknown_option_and_bad_value_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'size'"):
        make_generator("gt:size=3")
    with pytest.raises(ConfigError, match="options are key=value"):
        make_generator("static:foo")


def test_the_registry_refuses_a_second_class_under_a_taken_name() -> None:
    with pytest.raises(TypeError, match="taken"):
        @register_generator
        class Impostor(Generator):  # noqa: F841 - registration is the test
            name = "gt"
            description = "x"
            produces = frozenset({"video"})
            needs = frozenset()

            def generate(self, sample, ctx, workdir):  # noqa: ANN001, ANN201
                raise AssertionError


def test_config_models_section_accepts_mappings(tmp_path: Path) -> None:
    cfg = config.build({}, {"dataset": "demo", "models": {"gt": None, "precomputed": {
        "dir": str(tmp_path)}}})
    assert cfg.models == ("gt", f"precomputed:dir={tmp_path}")
    cfg = config.build({}, {"dataset": "demo", "models": ["static", {"name": "gt"}]})
    assert cfg.models == ("static", "gt")
    with pytest.raises(ConfigError, match="models:"):
        config.build({}, {"dataset": "demo", "models": [3]})


def _native(tmp: Path, fps: float = 30.0, size: tuple[int, int] = (640, 480), seconds: float = 2.0,
            audio_seconds: float | None = None, rate: int = 44_100, stereo: bool = True,
            amp: float = 0.3) -> tuple[Path, Path]:
    w, h = size
    n = int(round(seconds * fps))
    yy, xx = np.mgrid[0:h, 0:w]
    frames = [((xx + 7 * i) % 256).astype(np.uint8)[..., None].repeat(3, -1) for i in range(n)]
    video = tmp / "native.mp4"
    write_video(video, iter(frames), fps, "h264")
    t = np.arange(int((audio_seconds or seconds) * rate)) / rate
    tone = amp * np.sin(2 * np.pi * 220 * t)
    audio = tmp / "native.wav"
    sf.write(audio, np.stack([tone, tone], 1) if stereo else tone, rate, subtype="FLOAT")
    return video, audio


def test_normalisation_converts_fps_size_rate_and_channels_and_records_it(tmp_path: Path) -> None:
    video, audio = _native(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    v, a, record = normalise(video, audio, None, Target(256, 256, max_seconds=20.0), out)
    info = probe(v)
    assert (info.width, info.height) == (256, 256)
    frames = read_frames(v)
    assert len(frames) == 50  # 2 s at 25 fps, by timestamps
    x, rate = sf.read(a)
    assert rate == 16_000 and x.ndim == 1 and abs(len(x) - 32_000) <= 1
    assert sf.info(str(a)).subtype == "PCM_16"
    assert record["native_video"] == {"file": "native.mp4", "width": 640, "height": 480,
                                      "fps": 30.0}
    assert record["native_audio"]["rate"] == 44_100 and record["native_audio"]["channels"] == 2
    assert "30.000 fps -> 256x256 @ 25 fps" in record["video"]
    assert "44100 Hz x2 -> 16000 Hz mono" in record["audio"]


def test_a_conforming_output_is_kept_byte_for_byte(tmp_path: Path) -> None:
    frames = [np.full((64, 64, 3), i, np.uint8) for i in range(25)]
    write_video(tmp_path / "v.mkv", iter(frames), 25.0)
    sf.write(tmp_path / "a.wav", 0.2 * np.ones(16_000), 16_000, subtype="PCM_16")
    out = tmp_path / "out"
    out.mkdir()
    v, a, record = normalise(tmp_path / "v.mkv", tmp_path / "a.wav", None, Target(64, 64), out)
    assert v.read_bytes() == (tmp_path / "v.mkv").read_bytes()
    assert a.read_bytes() == (tmp_path / "a.wav").read_bytes()
    assert record["video"].startswith("kept") and record["audio"].startswith("kept")


def test_duration_mismatch_and_silence_fail_with_the_cause(tmp_path: Path) -> None:
    video, audio = _native(tmp_path, seconds=1.0, audio_seconds=3.0)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(GeneratorError, match="video of 1.00 s but 3.00 s of audio"):
        normalise(video, audio, None, Target(64, 64), out)
    _, quiet = _native(tmp_path, amp=0.0)
    with pytest.raises(BadInputError, match="silent audio"):
        normalise(None, quiet, None, Target(64, 64), out)
    with pytest.raises(GeneratorError, match="no output file"):
        normalise(None, None, None, Target(64, 64), out)


def test_a_video_without_audio_gets_the_driving_audio(tmp_path: Path) -> None:
    frames = [np.full((64, 64, 3), i, np.uint8) for i in range(50)]
    write_video(tmp_path / "v.mkv", iter(frames), 25.0)
    _, drive = _native(tmp_path, seconds=2.0, rate=16_000, stereo=False)
    out = tmp_path / "out"
    out.mkdir()
    _, a, record = normalise(tmp_path / "v.mkv", None, drive, Target(64, 64), out)
    assert a is not None and "driving audio" in record["native_audio"]["from"]


def test_delivery_codec_changes_the_bytes_and_the_run_hash(tmp_path: Path) -> None:
    video, audio = _native(tmp_path, size=(64, 64), rate=16_000, stereo=False)
    plain, coded = tmp_path / "plain", tmp_path / "coded"
    plain.mkdir()
    coded.mkdir()
    v0, a0, _ = normalise(video, audio, None, Target(64, 64), plain)
    v1, a1, record = normalise(video, audio, None, Target(64, 64, delivery="h264-crf23-aac"), coded)
    assert v1.name == "delivered.mp4" and "CRF 23" in record["delivery"]
    assert a1.read_bytes() != a0.read_bytes()
    assert not np.array_equal(read_frames(v0), read_frames(v1))
    base = config.build({"dataset": "demo"})
    coded_cfg = config.build({"dataset": "demo", "delivery": "h264-crf23-aac"})
    assert base.run_id("s") != coded_cfg.run_id("s")
    with pytest.raises(ConfigError, match="delivery"):
        check_delivery("mp3")
