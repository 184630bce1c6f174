import dataclasses

import pytest

from bench.sample import RawItem, Sample


def _sample(**kw) -> Sample:
    base = dict(id="a", dataset="demo", source_image="s.png", voice_profile="v.wav", video="v.mkv",
                audio="a.wav", fps=25.0, sample_rate=16000, duration=3.0, num_frames=75)
    return Sample(**{**base, **kw})


def test_sample_is_immutable():
    s = _sample()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.text = "changed"


def test_sample_round_trips_through_dict():
    s = _sample(text="hello", text_source="dataset", speaker="x", raw={"video": "/r/a.mp4"}, meta={"k": 1})
    assert Sample.from_dict(s.to_dict()) == s


def test_sample_from_dict_ignores_unknown_keys():
    d = _sample().to_dict() | {"added_later": 1}
    assert Sample.from_dict(d) == _sample()


def test_raw_item_paths_are_relative_to_root(tmp_path):
    item = RawItem("x", "folder", str(tmp_path), {"video": "sub/x.mp4"})
    assert item.path("video") == tmp_path / "sub" / "x.mp4"
