"""`mels`, the paper's generator: its dimensions against the supplement, every ablation switch
against the graph it builds, and `tiny` trained on the demo training split (loss, bit-exact
resume, held-out scores against an untrained twin, `bench run` beside a control)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from baselines.mels import PRETRAINED, Mels
from baselines.mels import train as mels_train
from baselines.mels.config import FULL, TINY, MelsConfig, load_config
from baselines.mels.model import MELS, EntanglingEncoder, Inputs, build
from bench.cli import main
from bench.errors import ConfigError, MissingWeightsError
from bench.generators import GenContext, make_generator

PSNR, STOI = "psnr@rgb-uint8/frame-mean/cap100", "stoi@pystoi/16k/truncate"


# -- dimensions --------------------------------------------------------------------------------

def test_one_encoder_has_the_supplements_layers_and_parameters():
    enc = EntanglingEncoder(512, 8)
    layers = [enc.norm1, enc.attn, enc.norm2, enc.fc1, enc.norm3, enc.fc2]
    counts = [sum(p.numel() for p in m.parameters()) for m in layers]
    assert counts == [1_024, 1_048_576, 1_024, 262_144, 1_024, 262_144]  # supplement Table 1
    assert sum(counts) == sum(p.numel() for p in enc.parameters()) == 1_575_936


def test_attention_map_at_the_papers_token_counts_on_the_meta_device():
    with torch.device("meta"):
        enc = EntanglingEncoder(512, 8)
        out, weights = enc(torch.empty(1, 3136, 512), torch.empty(1, 5610, 512), need_weights=True)
    assert out.shape == (1, 3136, 512) and weights.shape == (1, 3136, 5610)


def test_full_builds_with_the_papers_dimensions_without_allocating():
    model = build(FULL, "meta")
    assert all(p.is_meta for p in model.parameters())
    report = model.parameter_report()
    assert report["encoder_audio"] == report["encoder_visual"] == 1_575_936
    assert model.cfg.visual_grid ** 2 == 3136 and report["trainable"] > 10 ** 8
    ste = build(replace(FULL, te="ste"), "meta").parameter_report()
    assert "encoder_visual" not in ste and ste["encoder_audio"] == 1_575_936  # half of ETE's


def test_full_names_every_pretrained_file_it_needs(tmp_path, capsys):
    code = main(["train", "mels", "--config", "full", "--dataset", "demo", "--out",
                 str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "mels full needs these pretrained files" in err
    from bench import weights

    for name in PRETRAINED:  # FaceMesh ships inside mediapipe: installed where mediapipe is
        assert (f"  {name} (" in err) is (not weights.status(name)[0].startswith("ok")), name
    assert "xtts-v2 (" in err and "hallo-sd15-unet (" in err
    assert not (tmp_path / "m").exists()


# -- every switch changes the graph ------------------------------------------------------------

def _inputs(seed: int = 0, frames: int = 3) -> Inputs:
    g = torch.Generator().manual_seed(seed)
    wav = torch.randn(1, 16_000, generator=g) * 0.1
    from baselines.mels.data import log_mel

    return Inputs(wav, log_mel(wav[0].numpy(), TINY), torch.randint(1, 200, (1, 64), generator=g),
                  torch.rand(1, 3, 64, 64, generator=g) * 2 - 1,
                  (torch.rand(1, 2, 64, 64, generator=g) > 0.5).float(), frames)


def _run(model: MELS, x: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Video and teacher-forced spectrogram of a fixed noise and target."""
    torch.manual_seed(1)
    mel = torch.randn(1, model.mel_frames(x.frames, x.fps), TINY.n_mels)
    noise = torch.randn(x.frames, 4, 8, 8)
    with torch.no_grad():
        out = model(x, mel, noise)
    return out.video, out.mel


def _perturbed(model: MELS, part: torch.nn.Module) -> MELS:
    twin = build(model.cfg)
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in dict(twin.named_modules())[_name(model, part)].parameters():
            p.add_(torch.randn_like(p))
    return twin


def _name(model: MELS, part: torch.nn.Module) -> str:
    return next(n for n, m in model.named_modules() if m is part)


@pytest.mark.parametrize("dc", [True, False])
def test_dc_is_the_only_link_between_the_branches(dc):
    model = build(replace(TINY, dc=dc))
    x = _inputs()
    video, mel = _run(model, x)
    video_unet, mel_unet = _run(_perturbed(model, model.unet), x)  # video branch changed
    video_gpt, mel_gpt = _run(_perturbed(model, model.gpt), x)  # audio branch changed
    assert not torch.equal(video, video_unet) and not torch.equal(mel, mel_gpt)
    assert torch.equal(mel, mel_unet) is (not dc)  # DC off: audio ignores the video branch
    assert torch.equal(video, video_gpt) is (not dc)  # ... and video ignores the audio branch


@pytest.mark.parametrize("ec", [True, False])
def test_ec_carries_the_entangled_latent_into_the_denoiser(ec):
    model = build(replace(TINY, ec=ec, dc=False))
    video, _ = _run(model, _inputs())
    other_text = replace(_inputs(), text=torch.randint(1, 200, (1, 64)))
    assert torch.equal(video, _run(model, other_text)[0]) is (not ec)
    assert (model.unet.ec is None) is (not ec)


@pytest.mark.parametrize("te,tokens,audio_sees_image,video_tokens_see_text", [
    ("ete", "both", True, True), ("ste", "both", True, True), ("none", "both", False, False),
    ("ete", "visual", False, True), ("ete", "audio", True, False)])
def test_encoders_decide_which_stream_attends_to_which(te, tokens, audio_sees_image,
                                                        video_tokens_see_text):
    model = build(replace(TINY, te=te, tokens=tokens, dc=False))
    x = _inputs()
    other_image = replace(x, source=torch.rand(1, 3, 64, 64) * 2 - 1)
    assert (not torch.equal(_run(model, x)[1], _run(model, other_image)[1])) is audio_sees_image
    other_text = replace(x, text=torch.randint(1, 200, (1, 64)))
    n_audio = TINY.fa_tokens + TINY.fs_tokens
    with torch.no_grad():
        z_v, z_v_text = (model.entangle(i)[0][:, n_audio:] for i in (x, other_text))
    assert (not torch.equal(z_v, z_v_text)) is video_tokens_see_text
    encoders = [m for m in model.modules() if isinstance(m, EntanglingEncoder)]
    assert len(encoders) == {"ete": 2 if tokens == "both" else 1, "ste": 1, "none": 0}[te]


def test_ste_shares_one_encoders_weights_between_the_streams():
    model = build(replace(TINY, te="ste", dc=False))
    assert model.enc_visual is None
    x = _inputs()
    n_audio = TINY.fa_tokens + TINY.fs_tokens
    twin = _perturbed(model, model.enc_audio)
    with torch.no_grad():
        a, b = model.entangle(x)[0], twin.entangle(x)[0]
    assert not torch.equal(a[:, :n_audio], b[:, :n_audio])
    assert not torch.equal(a[:, n_audio:], b[:, n_audio:])  # the same weights serve eq. 2


@pytest.mark.parametrize("switch,field", [("hifigan", "profile_mel"), ("wav2vec", "profile_wav")])
def test_each_audio_profile_encoder_can_be_removed(switch, field):
    for on in (True, False):
        model = build(replace(TINY, dc=False, **{switch: on}))
        x = _inputs()
        changed = replace(x, **{field: getattr(x, field) + 0.5})
        assert (not torch.equal(_run(model, x)[1], _run(model, changed)[1])) is on
        assert (getattr(model, "speaker" if switch == "hifigan" else "wav2vec") is None) is not on


def test_configs_are_data_and_invalid_combinations_are_refused(tmp_path):
    f = tmp_path / "ste.yaml"
    f.write_text("base: tiny\nte: ste\ndc: false\n")
    cfg = load_config(str(f))
    assert (cfg.te, cfg.dc, cfg.width) == ("ste", False, TINY.width)
    assert load_config("tiny", {"ec": "false"}).variant["ec"] is False
    for bad in ({"te": "both"}, {"te": "none", "tokens": "visual"},
                {"hifigan": "false", "wav2vec": "false"}, {"widht": "3"}):
        with pytest.raises(ConfigError):
            load_config("tiny", bad)
    assert MelsConfig.from_dict(FULL.to_dict()) == FULL


# -- training on the demo training split -------------------------------------------------------

def test_the_training_split_must_not_overlap_the_evaluation_split(tmp_path, capsys):
    from bench.splits import shipped_manifest

    code = main(["train", "mels", "--dataset", "demo", "--split", str(shipped_manifest("demo")),
                 "--out", str(tmp_path / "m")])
    assert code == 2 and "overlaps the evaluation split" in capsys.readouterr().err
    train = json.loads(Path(str(shipped_manifest("demo-train"))).read_text())
    held = json.loads(Path(str(shipped_manifest("demo"))).read_text())
    assert len(train["samples"]) == 24 and len(held["samples"]) == 8
    regenerated = tmp_path / "t.json"
    assert main(["split", "--dataset", "demo", "--training", "--out", str(regenerated)]) == 0
    assert json.loads(regenerated.read_text()) == train  # regenerated byte for byte
    assert not {s["id"] for s in train["samples"]} & {s["id"] for s in held["samples"]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """`bench train mels --config tiny --dataset demo`: the whole tiny schedule (10 epochs)."""
    out = tmp_path_factory.mktemp("mels") / "tiny"
    assert main(["train", "mels", "--config", "tiny", "--dataset", "demo", "--out", str(out)]) == 0
    return out


def test_tiny_trains_within_fifteen_minutes_and_its_loss_falls(trained):
    record = json.loads((trained / "train.json").read_text())
    losses = [h["loss"] for h in record["history"]]
    assert record["finished"] and len(losses) == 30 and record["seconds"] < 15 * 60
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3
    assert record["failed_samples"] == {} and record["eval_split"] != record["train_split"]
    print(f"\ntiny: {record['seconds']} s, loss {losses[0]:.3f} -> {losses[-1]:.3f}")


def test_trained_beats_untrained_on_held_out_samples(trained):
    from baselines.mels.data import example_of
    from bench.datasets import get_dataset
    from bench.preprocess import PreprocessConfig, preprocess
    from bench.splits import check_items, load_manifest, shipped_manifest

    adapter = get_dataset("demo")
    items, _ = check_items(load_manifest(shipped_manifest("demo")),
                           adapter.discover(adapter.resolve_root(None)))
    held = [example_of(preprocess(i, PreprocessConfig(), None), TINY) for i in items]
    untrained = mels_train.evaluate(build(TINY), held)
    model = build(TINY)
    model.load_state_dict(mels_train.load_checkpoint(trained)["model"])
    scores = mels_train.evaluate(model, held)
    print(f"\nheld-out (8 demo samples): untrained {untrained}\ntrained {scores}")
    assert scores["video_l1"] < untrained["video_l1"] and scores["psnr"] > untrained["psnr"]
    assert scores["mel_mse"] < untrained["mel_mse"]


def test_bench_run_scores_mels_beside_a_control(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--dataset", "demo", "--models", f"mels:checkpoint={trained},static",
                 "--metrics", f"{PSNR},{STOI}", "--limit", "2", "--out", "r"])
    assert code == 0
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    label = next(m for m in s["metrics"] if m.startswith("mels:checkpoint=tiny@"))
    row = s["metrics"][label]
    assert row[PSNR]["n"] == 2 and row[STOI]["n"] == 2 and row[PSNR]["calibrated"] is False
    assert s["metrics"]["static"][PSNR]["calibrated"] is True
    metas = [json.loads(p.read_text()) for p in (tmp_path / "r" / "outputs").rglob("meta.json")]
    ours = [m for m in metas if "mels" in m.get("meta", {})]
    assert len(ours) == 2 and all(m["calibrated"] is False for m in ours)
    assert ours[0]["meta"]["mels"]["te"] == "ete" and ours[0]["meta"]["mels"]["size"] == 64


@pytest.fixture
def four_training_samples(tmp_path) -> Path:
    """A training split of four of the demo's training identities (fast CLI runs)."""
    from bench.datasets import get_dataset
    from bench.splits import make_manifest, write_manifest

    adapter = get_dataset("demo")
    items = adapter.training_items(adapter.resolve_root(None))
    write_manifest(tmp_path / "four.json", make_manifest("demo", items[:4], None, 0))
    return tmp_path / "four.json"


def test_resume_from_a_mid_run_checkpoint_is_bit_exact(four_training_samples, tmp_path):
    small = ["train", "mels", "--dataset", "demo", "--split", str(four_training_samples),
             "--set", "batch_size=2", "--set", "epochs=2"]
    assert main(small + ["--out", str(tmp_path / "straight"), "--max-steps", "4"]) == 0
    assert main(small + ["--out", str(tmp_path / "resumed"), "--max-steps", "2"]) == 0
    assert main(small + ["--out", str(tmp_path / "resumed"), "--max-steps", "4"]) == 0
    a, b = (mels_train.load_checkpoint(tmp_path / d) for d in ("straight", "resumed"))
    assert a["step"] == b["step"] == 4 and a["history"] == b["history"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["optimizer"]["state"][0]["exp_avg"], b["optimizer"]["state"][0]["exp_avg"])


def test_an_ablation_variant_trains_and_is_its_own_row(four_training_samples, tmp_path):
    from reports.tables import mels_rows

    out = tmp_path / "no-te"
    assert main(["train", "mels", "--dataset", "demo", "--split", str(four_training_samples),
                 "--set", "te=none", "--set", "dc=false", "--set", "batch_size=4",
                 "--set", "epochs=1", "--out", str(out)]) == 0
    label = make_generator(f"mels:checkpoint={out}").label
    assert label.endswith(":dc=false:te=none")
    assert mels_rows("table4", [label]) == [{"model": label, "name": "TE removed",
                                             "flags": ["EC"]}]


def test_reports_name_our_model_and_fill_the_ablation_tables():
    from reports.tables import _display, mels_rows

    full, ste = "mels:checkpoint=a@123456", "mels:checkpoint=b@abcdef:te=ste"
    plain = "mels:checkpoint=c@0000aa:dc=false:ec=false:te=ste"
    visual = "mels:checkpoint=d@0000bb:tokens=visual"
    no_w2v = "mels:checkpoint=e@0000cc:wav2vec=false"
    models = ["gt", full, ste, plain, visual, no_w2v]
    assert _display(full, models) == "Our Model" and _display(ste, models) == ste
    assert [(r["name"], r["flags"]) for r in mels_rows("table4", models)] == [
        ("ETE + DC + EC", ["ETE", "DC", "EC"]), ("STE + DC + EC", ["STE", "DC", "EC"]),
        ("STE only", ["STE"])]
    assert [r["name"] for r in mels_rows("table5", models)] == [
        "Proposed Model", "Only Visual Tokens Attended", "No Wav2Vec"]
    assert [r["name"] for r in mels_rows("supp2", models)] == ["Explicit TE", "Shared TE"]


def test_a_damaged_checkpoint_is_refused(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    data = bytearray((copy / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "checkpoint.pt").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="does not match"):
        mels_train.load_checkpoint(copy)


def test_the_label_carries_the_checkpoints_variant_and_refuses_another(trained):
    g = make_generator(f"mels:checkpoint={trained}")
    assert g.label.startswith("mels:checkpoint=tiny@") and g.opts["te"] == "ete"
    with pytest.raises(ConfigError, match="was trained with te=ete"):
        make_generator(f"mels:checkpoint={trained}:te=ste")


def test_without_a_checkpoint_mels_is_missing_unless_random_weights(tmp_path):
    ctx = GenContext(("x",), lambda s: None)
    with pytest.raises(MissingWeightsError, match="checkpoint=DIR"):
        Mels().setup(ctx)
    g = make_generator("mels:te=ste", random_weights=True)
    g.setup(replace(ctx, random_weights=True))
    assert g.cfg.te == "ste" and g.label == "mels:te=ste" and not g.calibrated
