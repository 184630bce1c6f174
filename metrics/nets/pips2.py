"""PIPs++ (Zheng et al. 2023) in plain torch, inference only, as FVMD runs it (fvmd 1.0.0).

Module names match `pips2_weights.pth['model_state_dict']` (fnet.*, delta_block.*, norm.*), so
the published file loads strictly. Only the forward pass FVMD uses is kept: a 16-frame clip, N
query points initialised at frame 0 with zero velocity, `iters` refinement steps, the last quarter
damped by 0.5 ("beautify", which FVMD turns on).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LATENT, LEVELS, RADIUS = 128, 4, 3


class ResBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.norm1, self.norm2 = nn.InstanceNorm2d(cout), nn.InstanceNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.InstanceNorm2d(cout))
                           if stride != 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x))))))
        return F.relu((self.downsample(x) if self.downsample is not None else x) + y)


class Encoder(nn.Module):
    """Multi-scale CNN → 128-d features at 1/8 resolution (instance norm throughout)."""

    def __init__(self, stride: int = 8):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.norm1, self.norm2 = nn.InstanceNorm2d(64), nn.InstanceNorm2d(2 * LATENT)
        dims, cin = (64, 96, 128, 128), 64
        for i, (d, s) in enumerate(zip(dims, (1, 2, 2, 2)), start=1):
            setattr(self, f"layer{i}", nn.Sequential(ResBlock2d(cin, d, s), ResBlock2d(d, d, 1)))
            cin = d
        self.conv2 = nn.Conv2d(sum(dims), 2 * LATENT, 3, padding=1)
        self.conv3 = nn.Conv2d(2 * LATENT, LATENT, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[2] // self.stride, x.shape[3] // self.stride)
        x = F.relu(self.norm1(self.conv1(x)))
        outs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(F.interpolate(x, size, mode="bilinear", align_corners=True))
        return self.conv3(F.relu(self.norm2(self.conv2(torch.cat(outs, 1)))))


class Conv1dSame(nn.Module):
    def __init__(self, cin: int, cout: int, k: int):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.conv.kernel_size[0] - 1
        return self.conv(F.pad(x, (p // 2, p - p // 2)))


class ResBlock1d(nn.Module):
    def __init__(self, cin: int, cout: int, first: bool):
        super().__init__()
        self.cin, self.cout, self.first = cin, cout, first
        self.norm1, self.norm2 = nn.InstanceNorm1d(cin), nn.InstanceNorm1d(cout)
        self.conv1, self.conv2 = Conv1dSame(cin, cout, 3), Conv1dSame(cout, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.first else F.relu(self.norm1(x))
        out = self.conv2(F.relu(self.norm2(self.conv1(out))))
        if self.cout != self.cin:  # identity zero-padded on the channel axis, split before/after
            extra = self.cout - self.cin
            x = F.pad(x.transpose(-1, -2), (extra // 2, extra - extra // 2)).transpose(-1, -2)
        return out + x


class DeltaBlock(nn.Module):
    """1-D temporal ResNet over (correlations ‖ sin-cos flow embedding) → coordinate updates."""

    def __init__(self) -> None:
        super().__init__()
        kitchen = LEVELS * (2 * RADIUS + 1) ** 2 * 3 + LATENT + 2
        self.first_block_conv = Conv1dSame(kitchen, 128, 3)
        chans = [(128, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 1024), (1024, 1024)]
        self.basicblock_list = nn.ModuleList(ResBlock1d(i, o, first=(k == 0)) for k, (i, o) in enumerate(chans))
        self.dense = nn.Linear(1024, 2)

    def forward(self, fcorr: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        x = torch.cat([fcorr, posemb_sincos_xy(flow, LATENT)], 2).permute(0, 2, 1)
        x = F.relu(self.first_block_conv(x))
        for block in self.basicblock_list:
            x = block(x)
        return self.dense(F.relu(x).permute(0, 2, 1))


def posemb_sincos_xy(xy: torch.Tensor, c: int, temperature: float = 10000.0) -> torch.Tensor:
    """[B, S, 2] → [B, S, c + 2]: sin/cos of x and y at c/4 frequencies, then the raw xy."""
    b, s, _ = xy.shape
    omega = 1.0 / temperature ** (torch.arange(c // 4, device=xy.device) / (c // 4 - 1))
    x = xy[..., 0].flatten()[:, None] * omega[None]
    y = xy[..., 1].flatten()[:, None] * omega[None]
    pe = torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], 1).reshape(b, s, c).to(xy.dtype)
    return torch.cat([pe, xy], 2)


def sample_points(fmap: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """fmap [B, C, H, W] at (x, y) [B, N] → [B, N, C]: bilinear with clamped corner indices and
    weights from the unclamped corners (the reference's behaviour at the border)."""
    b, c, h, w = fmap.shape
    x0, y0 = x.floor(), y.floor()
    x1, y1 = x0 + 1, y0 + 1
    flat = fmap.permute(0, 2, 3, 1).reshape(b, h * w, c)

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        idx = yy.long().clamp(0, h - 1) * w + xx.long().clamp(0, w - 1)
        return torch.gather(flat, 1, idx.unsqueeze(-1).expand(-1, -1, c))

    return (((x1 - x) * (y1 - y)).unsqueeze(-1) * at(y0, x0) + ((x - x0) * (y1 - y)).unsqueeze(-1) * at(y0, x1)
            + ((x1 - x) * (y - y0)).unsqueeze(-1) * at(y1, x0) + ((x - x0) * (y - y0)).unsqueeze(-1) * at(y1, x1))


class CorrPyramid:
    """Correlation volumes of target features against a 4-level feature pyramid, sampled in a
    7×7 window around the current estimate at every level."""

    def __init__(self, fmaps: torch.Tensor):
        b, s, c, h, w = fmaps.shape
        self.pyramid = [fmaps]
        for _ in range(LEVELS - 1):
            f = F.avg_pool2d(self.pyramid[-1].reshape(b * s, c, *self.pyramid[-1].shape[-2:]), 2, 2)
            self.pyramid.append(f.reshape(b, s, c, *f.shape[-2:]))
        lin = torch.linspace(-RADIUS, RADIUS, 2 * RADIUS + 1)
        # the reference stacks a (dy, dx) 'ij' meshgrid and adds it to (x, y): kept as is
        self.delta = torch.stack(torch.meshgrid(lin, lin, indexing="ij"), -1).to(fmaps.device).view(1, 7, 7, 2)

    def corr(self, targets: torch.Tensor) -> None:
        b, s, n, c = targets.shape
        self.corrs = [(targets @ f.reshape(b, s, c, -1)).reshape(b, s, n, *f.shape[-2:]) / math.sqrt(c)
                      for f in self.pyramid]

    def sample(self, coords: torch.Tensor) -> torch.Tensor:
        b, s, n, _ = coords.shape
        out = []
        for i, corrs in enumerate(self.corrs):
            h, w = corrs.shape[-2:]
            pts = coords.reshape(b * s * n, 1, 1, 2) / 2**i + self.delta
            grid = torch.stack([2 * pts[..., 0] / (w - 1) - 1, 2 * pts[..., 1] / (h - 1) - 1], -1)
            out.append(F.grid_sample(corrs.reshape(b * s * n, 1, h, w), grid, align_corners=True).view(b, s, n, -1))
        return torch.cat(out, -1)


class Pips(nn.Module):
    def __init__(self, stride: int = 8):
        super().__init__()
        self.stride = stride
        self.fnet = Encoder(stride)
        self.delta_block = DeltaBlock()
        self.norm = nn.GroupNorm(1, LATENT)  # unused at inference; kept so the state dict loads strictly

    def forward(self, xy0: torch.Tensor, rgbs: torch.Tensor, iters: int = 16, beautify: bool = True) -> torch.Tensor:
        """xy0 [B, N, 2] pixel query points at frame 0; rgbs [B, S, 3, H, W] in 0–255 → [B, S, N, 2]."""
        b, s, c, h, w = rgbs.shape
        n = xy0.shape[1]
        fmaps = self.fnet((2 * (rgbs / 255.0) - 1.0).reshape(b * s, c, h, w))
        fmaps = fmaps.reshape(b, s, LATENT, h // self.stride, w // self.stride)
        coords = (xy0 / float(self.stride)).unsqueeze(1).repeat(1, s, 1, 1)
        first = coords[:, 0].clone()
        fn1, fn2, fn4 = CorrPyramid(fmaps), CorrPyramid(fmaps), CorrPyramid(fmaps)
        feat1 = sample_points(fmaps[:, 0], coords[:, 0, :, 0], coords[:, 0, :, 1])
        feats2 = feats4 = feat1.unsqueeze(1).repeat(1, s, 1, 1)
        fn1.corr(feats2)
        t = torch.arange(s)
        for itr in range(iters):
            if itr >= 1:  # targets from the current estimate 2 and 4 frames back
                feats2, feats4 = (sample_points(fmaps[:, idx].reshape(b * s, LATENT, *fmaps.shape[-2:]),
                                                coords[:, idx].reshape(b * s, n, 2)[..., 0],
                                                coords[:, idx].reshape(b * s, n, 2)[..., 1]).reshape(b, s, n, LATENT)
                                  for idx in ((t - 2).clamp(min=0), (t - 4).clamp(min=0)))
            fn2.corr(feats2)
            fn4.corr(feats4)
            fc = torch.cat([f.sample(coords).permute(0, 2, 1, 3).reshape(b * n, s, -1) for f in (fn1, fn2, fn4)], 2)
            flows = (coords[:, 1:] - coords[:, :-1]).permute(0, 2, 1, 3).reshape(b * n, s - 1, 2)
            delta = self.delta_block(fc, torch.cat([flows, flows[:, -1:]], 1))
            if beautify and itr > 3 * iters // 4:
                delta = delta * 0.5
            coords = coords + delta.reshape(b, n, s, 2).permute(0, 2, 1, 3)
            coords[:, 0] = first
        return coords * self.stride
