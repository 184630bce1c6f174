from pathlib import Path

import pytest

from bench.datasets import get_dataset, list_datasets
from bench.datasets.base import read_transcript
from bench.errors import ConfigError


def touch(root: Path, rel: str, text: str = "") -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def ids(name: str, root: Path) -> list[str]:
    return [i.id for i in get_dataset(name).discover(root)]


def test_registry_has_every_adapter_the_paper_needs():
    names = {d.name for d in list_datasets()}
    assert {"hdtf", "voxceleb", "celebvhq", "fakeavceleb", "lrs2", "lrs3", "folder", "demo"} <= names
    for d in list_datasets():
        assert d.obtain and d.layout, d.name


def test_unknown_dataset_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown dataset"):
        get_dataset("nope")


def test_root_from_env_and_clear_error_without(tmp_path, monkeypatch):
    d = get_dataset("hdtf")
    monkeypatch.delenv("BENCH_HDTF_ROOT", raising=False)
    with pytest.raises(ConfigError, match="BENCH_HDTF_ROOT"):
        d.resolve_root(None)
    monkeypatch.setenv("BENCH_HDTF_ROOT", str(tmp_path))
    assert d.resolve_root(None) == tmp_path
    flag = tmp_path / "from_flag"
    flag.mkdir()
    assert d.resolve_root(str(flag)) == flag  # the flag/config value wins over the environment
    with pytest.raises(ConfigError, match="not a directory"):
        d.resolve_root(str(tmp_path / "missing"))


def test_hdtf_ids_speakers_and_optional_transcripts(tmp_path):
    touch(tmp_path, "clips/WRA_KellyAyotte_000.mp4")
    touch(tmp_path, "clips/WRA_KellyAyotte_001.mp4")
    touch(tmp_path, "clips/WRA_KellyAyotte_001.txt", "hello there\n")
    items = get_dataset("hdtf").discover(tmp_path)
    assert [i.id for i in items] == ["WRA_KellyAyotte_000", "WRA_KellyAyotte_001"]
    assert {i.speaker for i in items} == {"WRA_KellyAyotte"}
    assert items[0].text is None and items[1].text == "hello there"
    assert items[1].files == {"video": "clips/WRA_KellyAyotte_001.mp4", "transcript": "clips/WRA_KellyAyotte_001.txt"}


def test_voxceleb2_layout(tmp_path):
    touch(tmp_path, "dev/mp4/id00012/21Uxsk56VDQ/00001.mp4")
    touch(tmp_path, "test/mp4/id00017/01dfn2spqyE/00002.mp4")
    touch(tmp_path, "dev/mp4/notaspeaker/x/00001.mp4")
    items = get_dataset("voxceleb").discover(tmp_path)
    assert [i.id for i in items] == ["id00012_21Uxsk56VDQ_00001", "id00017_01dfn2spqyE_00002"]
    assert [i.speaker for i in items] == ["id00012", "id00017"]


def test_fakeavceleb_uses_only_the_real_part(tmp_path):
    touch(tmp_path, "RealVideo-RealAudio/African/men/id00076/00109.mp4")
    touch(tmp_path, "FakeVideo-FakeAudio/African/men/id00076/00109_fake.mp4")
    touch(tmp_path, "RealVideo-FakeAudio/African/men/id00076/00109_2.mp4")
    items = get_dataset("fakeavceleb").discover(tmp_path)
    assert [(i.id, i.speaker) for i in items] == [("id00076_00109", "id00076")]


def test_lrs2_reads_text_lines_and_official_test_list(tmp_path):
    touch(tmp_path, "main/6300370419826092098/00001.mp4")
    touch(tmp_path, "main/6300370419826092098/00001.txt", "Text:  WHEN YOU'RE COOKING\nConf:  4\n\nWORD START END\n")
    touch(tmp_path, "main/6300370419826092098/00002.mp4")
    assert ids("lrs2", tmp_path) == ["6300370419826092098_00001", "6300370419826092098_00002"]
    touch(tmp_path, "test.txt", "6300370419826092098/00001\n")
    items = get_dataset("lrs2").discover(tmp_path)
    assert [i.id for i in items] == ["6300370419826092098_00001"]
    assert items[0].text == "WHEN YOU'RE COOKING"


def test_lrs3_prefers_the_test_folder_and_keeps_paths_relative_to_root(tmp_path):
    touch(tmp_path, "test/0Fi83BHQsMA/00002.mp4")
    touch(tmp_path, "test/0Fi83BHQsMA/00002.txt", "Text:  AND THAT'S IT\nConf:  3\n")
    touch(tmp_path, "pretrain/abc/00001.mp4")
    items = get_dataset("lrs3").discover(tmp_path)
    assert [i.id for i in items] == ["0Fi83BHQsMA_00002"]
    assert items[0].path("video") == tmp_path / "test/0Fi83BHQsMA/00002.mp4"
    assert items[0].text == "AND THAT'S IT"


def test_celebvhq_and_folder(tmp_path):
    touch(tmp_path, "35666/_0tf2n3rlJU_0.mp4")
    touch(tmp_path, "35666/readme.md")
    assert ids("celebvhq", tmp_path) == ["_0tf2n3rlJU_0"]
    touch(tmp_path, "other/clip.mpg")
    assert ids("folder", tmp_path) == ["35666--_0tf2n3rlJU_0", "other--clip"]


def test_read_transcript_formats(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("  plain   words\nsecond line ")
    assert read_transcript(p) == "plain words second line"
    p.write_text("")
    assert read_transcript(p) is None
    assert read_transcript(tmp_path / "missing.txt") is None
