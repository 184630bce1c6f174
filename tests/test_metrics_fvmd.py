"""FVMD: PIPs++ tracks, motion histograms and the final number against the fvmd 1.0.0 package,
with shared random weights on real fixture clips."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.video import read_frames
from conftest import reference_module
from metrics import fvmd
from metrics.frechet import frechet_distance, stats_of
from metrics.nets.pips2 import Pips

pytestmark = pytest.mark.real


@pytest.fixture
def ref(monkeypatch):
    """The package's modules, with stand-ins for its logging/CLI imports and its hard-coded .cuda()."""
    for name, attrs in {"prettytable": {"PrettyTable": object}, "loguru": {"logger": None},
                        "tensorboardX": {"SummaryWriter": object}, "fire": {"Fire": None},
                        "fvmd.utils.improc": {}, "fvmd.utils.saverloader": {}}.items():
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *a, **k: self)
    basic = reference_module("fvmd", "utils.basic")
    grid = basic.meshgrid2d
    monkeypatch.setattr(basic, "meshgrid2d", lambda *a, **k: grid(*a, **{**k, "device": "cpu"}))
    return types.SimpleNamespace(pips=reference_module("fvmd", "nets.pips2"),
                                 hist=reference_module("fvmd", "extract_motion_features"),
                                 fd=reference_module("fvmd", "frechet_distance"),
                                 track=reference_module("fvmd", "keypoint_tracking"))


SIDE = 128  # the metric tracks at 256²; parity of the network and the histograms holds at any size


def clip_frames(real, name: str) -> torch.Tensor:
    x = torch.from_numpy(read_frames(real / "videos" / name, 25, 0.64)).permute(0, 3, 1, 2).float()
    return F.interpolate(x, (SIDE, SIDE), mode="bilinear", align_corners=False, antialias=True)[None]


@pytest.mark.parity
def test_tracks_histograms_and_fvmd_match_the_package(real, ref):
    torch.manual_seed(0)
    theirs = ref.pips.Pips(stride=8).eval()
    ours = Pips(stride=8).eval()
    ours.load_state_dict(theirs.state_dict())
    xy0 = fvmd.query_grid(SIDE, SIDE)
    feats_ours, feats_ref = [], []
    for name in ("retalking_face_3.mp4", "lipnet_grid_bbaf2n.mpg"):
        rgbs = clip_frames(real, name)  # [1, 16, 3, SIDE, SIDE]
        with torch.no_grad():  # the package's own grid and call; 2 of its 16 refinement steps:
            want = ref.track.run_tracking(theirs, rgbs, N=400, iters=2)  # the same code, 1/8 the time
            got = ours(xy0, rgbs, iters=2)
        assert (got - want).abs().max().item() <= 1e-4, name
        assert (want[:, 1:] - want[:, :1]).abs().max().item() > 1e-3  # the points actually move
        w = want.double()
        v_ref, a_ref = ref.track.calc_velocity(w), ref.track.calc_acceleration(w)  # package: acc of trajectories
        b = w.shape[0]
        feats_ref.append(np.concatenate([ref.hist.calc_hist(v_ref.numpy()).reshape(b, -1),
                                         ref.hist.calc_hist(a_ref.numpy()).reshape(b, -1)], 1))
        feats_ours.append(fvmd.window_features(got.double().numpy(), paper_acc=False))
    np.testing.assert_allclose(np.concatenate(feats_ours), np.concatenate(feats_ref), atol=1e-12)
    # the final number on two sets (windows of several clips) as the package computes it
    a, b = np.concatenate(feats_ref), np.concatenate(feats_ref)[::-1] * 0.9 + 0.05
    want = ref.fd.calculate_fd_given_vectors(a, b)
    got = frechet_distance(stats_of([a], fvmd.DIM, 1), stats_of([b], fvmd.DIM, 1), eps=1e-5, always_eps=True)
    assert got == pytest.approx(want, rel=1e-6)


def test_paper_acceleration_differs_from_the_package_bug():
    rng = np.random.default_rng(0)
    trajs = np.cumsum(rng.normal(0, 2, (1, 16, 400, 2)), axis=1)
    v = fvmd.velocity(trajs)
    paper = fvmd.acceleration_pkg(v)
    assert np.allclose(paper[:, 3], v[:, 3] - v[:, 2]) and np.allclose(fvmd.acceleration_pkg(trajs)[:, 3], v[:, 3])
    assert not np.allclose(fvmd.window_features(trajs, True), fvmd.window_features(trajs, False))
