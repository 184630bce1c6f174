import pytest

from bench.config import build, load_file, parse_shard
from bench.errors import ConfigError


def test_cli_overrides_file_overrides_defaults(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("dataset: hdtf\nmodels: [gt]\nseed: 3\npreprocess: {size: 256}\ndatasets:\n  hdtf: {root: /data/hdtf}\n")
    cfg = build({"seed": 7, "metrics": "stoi", "dataset": None}, load_file(f))
    assert cfg.dataset == "hdtf" and cfg.models == ("gt",) and cfg.seed == 7 and cfg.metrics == ("stoi",)
    assert cfg.root == "/data/hdtf" and cfg.preprocess.size == 256 and cfg.preprocess.fps == 25.0
    assert build({"dataset": "demo"}).models == ("gt", "static", "shuffled")


def test_run_id_depends_on_numbers_not_on_output_place():
    a = build({"dataset": "demo", "out": "x", "shard": "1/2"})
    b = build({"dataset": "demo", "out": "y"})
    c = build({"dataset": "demo", "seed": 1})
    assert a.run_id("h") == b.run_id("h") != c.run_id("h")
    assert a.run_id("h") != a.run_id("other-split")


def test_bad_config_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown config keys: colour"):
        build({"dataset": "demo", "colour": "red"})
    with pytest.raises(ConfigError, match="no dataset"):
        build({})
    with pytest.raises(ConfigError, match="crop"):
        build({"dataset": "demo", "preprocess": {"crop": "sideways"}})
    with pytest.raises(ConfigError, match="k/N"):
        parse_shard("2")
    with pytest.raises(ConfigError, match="1 <= k <= N"):
        parse_shard("3/2")


def test_asr_spec_errors_are_clear(tmp_path):
    from bench.asr import make_transcriber

    assert make_transcriber(None) is None
    with pytest.raises(ConfigError, match="unknown --asr backend"):
        make_transcriber("whisperx:/x")
    with pytest.raises(ConfigError, match="faster-whisper"):  # not installed, or no model.bin in the dir
        make_transcriber(f"faster-whisper:{tmp_path}")
