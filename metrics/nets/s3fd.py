"""S3FD face detector (Zhang et al. 2017) as joonson/syncnet_python runs it (`sfd_face.pth`,
`detectors/s3fd`), in plain torch with the same parameter names, batched.

Reference semantics kept exactly: the frame is resized by `scale` with cv2 INTER_LINEAR, the BGR
mean (104, 117, 123) is subtracted from the RGB channels it belongs to, anchors/decoding as in
its PriorBox/Detect (variances 0.1/0.2, float32), a greedy NMS at IoU 0.3 over the candidates
(top 5000, at most 750 kept), then boxes above `conf_th` are scaled to pixels and a second greedy
NMS at IoU 0.1 keeps the final faces, best first. Only candidates above `conf_th` are decoded:
greedy NMS visits boxes by falling score, so lower-scored boxes can never suppress them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from metrics.nets.infer import for_inference

BGR_MEAN = (104.0, 117.0, 123.0)
STEPS = (4, 8, 16, 32, 64, 128)
MIN_SIZES = (16, 32, 64, 128, 256, 512)
VARIANCES = (0.1, 0.2)
NMS_CANDIDATES, NMS_KEEP = 5000, 750


class L2Norm(nn.Module):
    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight[None, :, None, None] * (x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))


def _vgg() -> nn.ModuleList:
    """VGG16 through fc7 (dilated); indices match `vgg.N` of the state dict."""
    layers: list[nn.Module] = []
    c_in = 3
    for block, (c, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        for _ in range(n):
            layers += [nn.Conv2d(c_in, c, 3, 1, padding=1), nn.ReLU(inplace=True)]
            c_in = c
        layers.append(nn.MaxPool2d(2, 2, ceil_mode=block == 2))
    layers += [nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6), nn.ReLU(inplace=True),
               nn.Conv2d(1024, 1024, 1, 1), nn.ReLU(inplace=True)]
    return nn.ModuleList(layers)


class S3FDNet(nn.Module):
    """Returns (loc [B, P, 4], face probability [B, P]) over all anchors."""

    def __init__(self) -> None:
        super().__init__()
        self.vgg = _vgg()
        self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3 = L2Norm(256, 10), L2Norm(512, 8), L2Norm(512, 5)
        self.extras = nn.ModuleList([nn.Conv2d(1024, 256, 1, 1), nn.Conv2d(256, 512, 3, 2, padding=1),
                                     nn.Conv2d(512, 128, 1, 1), nn.Conv2d(128, 256, 3, 2, padding=1)])
        chans = (256, 512, 512, 1024, 512, 256)
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in chans])
        self.conf = nn.ModuleList([nn.Conv2d(c, 4 if i == 0 else 2, 3, 1, padding=1) for i, c in enumerate(chans)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sources = []
        for k, layer in enumerate(self.vgg):
            x = layer(x)
            if k == 15:
                sources.append(self.L2Norm3_3(x))
            elif k == 22:
                sources.append(self.L2Norm4_3(x))
            elif k == 29:
                sources.append(self.L2Norm5_3(x))
        sources.append(x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x), inplace=True)
            if k % 2 == 1:
                sources.append(x)
        locs, confs = [], []
        for i, (src, lc, cf) in enumerate(zip(sources, self.loc, self.conf)):
            c = cf(src)
            if i == 0:  # max-out background label over 3 channels
                c = torch.cat((c[:, :3].max(dim=1, keepdim=True)[0], c[:, 3:]), dim=1)
            locs.append(lc(src).permute(0, 2, 3, 1).flatten(1))
            confs.append(c.permute(0, 2, 3, 1).flatten(1))
        loc = torch.cat(locs, 1).view(x.shape[0], -1, 4)
        prob = torch.softmax(torch.cat(confs, 1).view(x.shape[0], -1, 2), dim=-1)[..., 1]
        return loc, prob


def load_s3fd(state: Mapping[str, torch.Tensor] | None) -> S3FDNet:
    """The network with `sfd_face.pth` copied in (None: the caller-seeded random init), strict."""
    net = S3FDNet()
    if state is not None:
        net.load_state_dict(dict(state))
    return net.eval()


def feature_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """The six detection maps' sizes (strides 4..128): two floor pools, the ceil-mode third, two
    more floor pools, then the two stride-2 padded extras (ceil)."""
    floor, ceil = (lambda v: v // 2), (lambda v: (v + 1) // 2)
    sizes, h, w = [], height, width
    for halve in ((floor, floor), (ceil,), (floor,), (floor,), (ceil,), (ceil,)):
        for f in halve:
            h, w = f(h), f(w)
        sizes.append((h, w))
    return sizes


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> list[int]:
    """Greedy NMS by falling score: a box survives when its IoU with every kept box is <= thresh."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) <= thresh]
    return keep


class S3FD:
    """Batched detection on RGB uint8 frames; one [n, 5] (x1, y1, x2, y2, score) array per frame."""

    def __init__(self, net: S3FDNet, device: str = "cpu"):
        self.net = net.eval().to(device)
        self.device = device
        self._fast: nn.Module | None = None
        self._anchors: dict[tuple[int, int], torch.Tensor] = {}

    def _for_size(self, height: int, width: int) -> tuple[nn.Module, torch.Tensor]:
        """The network prepared for inference (traced once on CPU: the trace holds for any input
        size) and the anchors of this input size."""
        if self._fast is None:
            self._fast = for_inference(self.net, torch.zeros(1, 3, height, width), self.device)
        if (height, width) not in self._anchors:
            self._anchors[(height, width)] = anchors(height, width)
        return self._fast, self._anchors[(height, width)]

    @torch.inference_mode()
    def detect(self, frames: Sequence[np.ndarray], scale: float = 0.25, conf_th: float = 0.9) -> list[np.ndarray]:
        h, w = frames[0].shape[:2]
        small = np.stack([cv2.resize(f, dsize=(0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
                          for f in frames]).astype(np.float32)
        small -= np.array(BGR_MEAN[::-1], dtype=np.float32)  # RGB frames: R-123, G-117, B-104
        net, pri = self._for_size(*small.shape[1:3])
        x = torch.from_numpy(small).permute(0, 3, 1, 2).to(self.device)  # NHWC storage: channels-last
        loc, prob = (t.float().cpu() for t in net(x))
        size = torch.tensor([w, h, w, h], dtype=torch.float32)
        return [self._faces(loc[b], prob[b], pri, size, conf_th) for b in range(len(frames))]

    @staticmethod
    def _faces(loc: torch.Tensor, prob: torch.Tensor, pri: torch.Tensor, size: torch.Tensor,
               conf_th: float) -> np.ndarray:
        idx = torch.nonzero(prob > conf_th).flatten()
        if idx.numel() == 0:
            return np.empty((0, 5))
        scores = prob[idx]
        top = torch.argsort(scores, descending=True, stable=True)[:NMS_CANDIDATES]
        idx, scores = idx[top], scores[top]
        l, p = loc[idx], pri[idx]
        wh = p[:, 2:] * torch.exp(l[:, 2:] * VARIANCES[1])
        xy = p[:, :2] + l[:, :2] * VARIANCES[0] * p[:, 2:] - wh / 2
        boxes = torch.cat([xy, wh + xy], 1)
        keep = _nms(boxes.numpy(), scores.numpy(), 0.3)[:NMS_KEEP]
        px = (boxes[keep] * size).numpy().astype(np.float64)
        dets = np.concatenate([px, scores[keep].numpy().astype(np.float64)[:, None]], 1)
        return dets[_nms(dets[:, :4], dets[:, 4], 0.1)]


def anchors(height: int, width: int) -> torch.Tensor:
    """Anchors [P, 4] (cx, cy, w, h), normalised, for an input of height×width, in the reference's
    order and arithmetic (float64, then float32)."""
    out = []
    for (fh, fw), step, size in zip(feature_sizes(height, width), STEPS, MIN_SIZES):
        i, j = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = (j.ravel() + 0.5) / (width / step)
        cy = (i.ravel() + 0.5) / (height / step)
        out.append(np.stack([cx, cy, np.full(cx.shape, size / width), np.full(cy.shape, size / height)], 1))
    return torch.from_numpy(np.concatenate(out).astype(np.float32))
