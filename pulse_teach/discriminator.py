"""A small StyleGAN2-style residual discriminator: the critic the generator learns against.

It is used only for training (see ``train.py``): PULSE never needs it, so it keeps no NVIDIA names.
Layout (StyleGAN2's "resnet" D, written from the paper): fromRGB at full resolution, one residual block
per halving (3x3 conv, 2x2 average-pool, 3x3 conv; a pooled 1x1 skip; sum scaled by 1/sqrt(2)), then at
4x4 a minibatch-stddev channel, a 3x3 conv and two linear layers to one logit. Weights use equalised
learning rates, like the generator, so Adam's step is the same for every layer.

    D = Discriminator(resolution=64)           # ~0.9 M parameters: 16 channels at 64 px ... 128 at 8 and 4 px
    logits = D(images)                         # (N, 3, 64, 64) in [-1, 1] -> (N,)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .stylegan2 import _LRELU_GAIN, _LRELU_SLOPE, FullyConnectedLayer


class Conv2dLayer(nn.Module):
    """k x k conv with equalised learning rate (weights N(0, 1) scaled by 1/sqrt(fan_in) at run time)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "lrelu"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation != "lrelu":
            return F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)
        # lrelu(z) * gain == lrelu(z * gain): the gain rides on the weights and bias, one pass fewer
        bias = None if self.bias is None else self.bias * _LRELU_GAIN
        x = F.conv2d(x, self.weight * (self.weight_gain * _LRELU_GAIN), bias, padding=self.weight.shape[-1] // 2)
        return F.leaky_relu(x, _LRELU_SLOPE, inplace=True)


class DiscriminatorBlock(nn.Module):
    """(N, I, R, R) -> (N, O, R/2, R/2): two convs around a 2x2 average-pool, plus a pooled 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3)
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3)  # runs after pooling: 4x cheaper
        self.skip = Conv2dLayer(in_channels, out_channels, 1, bias=False, activation="linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(F.avg_pool2d(x, 2))  # (N, O, R/2, R/2)
        x = self.conv1(F.avg_pool2d(self.conv0(x), 2))  # (N, O, R/2, R/2)
        return (x + y) * math.sqrt(0.5)  # keeps unit variance when adding two branches


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the feature spread within groups of samples, so D can see a collapse of variety."""
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group_size, n) + 1) if n % d == 0)  # a group size that divides N
    y = x.reshape(g, n // g, c, h, w).float()  # (G, N/G, C, H, W): sample i is in group i % (N/G)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/G,)
    y = y.to(x.dtype).reshape(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)  # (N, C + 1, H, W)


class Discriminator(nn.Module):
    """Image -> realness logit. Channels: min(channel_base // R, channel_max) at resolution R.

    The defaults keep the high-resolution layers thin: on a 2-core CPU a D with 32 channels at 64 px
    made a training step 1.7x slower than this one (16 channels) for little gain on flat cartoon faces.
    """

    def __init__(self, resolution: int = 64, channel_base: int = 1024, channel_max: int = 128,
                 img_channels: int = 3, mbstd_group: int = 4):
        super().__init__()
        if not isinstance(resolution, int) or resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution!r}")
        self.config = dict(resolution=resolution, channel_base=channel_base, channel_max=channel_max,
                           img_channels=img_channels, mbstd_group=mbstd_group)
        self.resolution, self.mbstd_group = resolution, mbstd_group
        resolutions = [2 ** k for k in range(int(math.log2(resolution)), 2, -1)]  # R, R/2, ..., 8
        channels = {r: min(channel_base // r, channel_max) for r in resolutions + [4]}
        self.fromrgb = Conv2dLayer(img_channels, channels[resolution], 1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(channels[r], channels[r // 2]) for r in resolutions)
        c = channels[4]
        self.conv = Conv2dLayer(c + 1, c, 3)
        self.fc = FullyConnectedLayer(c * 16, c, activation="lrelu")
        self.out = FullyConnectedLayer(c, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Raises ValueError for images of another shape."""
        if img.ndim != 4 or img.shape[-1] != self.resolution or img.shape[-2] != self.resolution:
            raise ValueError(f"expected images (N, C, {self.resolution}, {self.resolution}), got {tuple(img.shape)}")
        x = self.fromrgb(img)  # (N, C_R, R, R)
        for block in self.blocks:
            x = block(x)  # halves the side each time, down to (N, C_4, 4, 4)
        x = self.conv(minibatch_stddev(x, self.mbstd_group))  # (N, C_4, 4, 4)
        return self.out(self.fc(x.flatten(1))).squeeze(1)  # (N,)


class ProbeFeatureHead(nn.Module):
    """(N, feature_dim) frozen probe features -> (N,) logits: a second judge in a feature space made for faces."""

    def __init__(self, feature_dim: int = 256, hidden: int = 256):
        super().__init__()
        self.fc = FullyConnectedLayer(feature_dim, hidden, activation="lrelu")
        self.out = FullyConnectedLayer(hidden, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(feats)).squeeze(1)  # (N,)


AUGMENTS = ("translation", "cutout")


def augment(images: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): random shifts and cutouts that gradients pass through.

    images: (N, C, R, R). policy: "" or a comma list of AUGMENTS. Draws on the CPU ``generator`` so runs
    repeat on any device. Applied alike to reals and fakes, D cannot tell them apart by the changes.

    Raises ValueError for an unknown augmentation name.
    """
    names = [p for p in policy.replace(" ", "").split(",") if p]
    unknown = set(names) - set(AUGMENTS)
    if unknown:
        raise ValueError(f"unknown augment {sorted(unknown)}; choose from {AUGMENTS}")
    n, _, r, _ = images.shape
    device = images.device
    if "translation" in names:  # shift by up to r/8 px, zeros (grey in [-1, 1]) coming in
        shift = r // 8
        dx, dy = (torch.randint(-shift, shift + 1, (2, n, 1, 1), generator=generator)).to(device)
        index = torch.arange(r, device=device)
        rows = (index.view(1, r, 1) - dy).clamp(-1, r)  # (N, R, 1); -1 and r fall outside
        cols = (index.view(1, 1, r) - dx).clamp(-1, r)  # (N, 1, R)
        padded = F.pad(images, (1, 1, 1, 1))  # (N, C, R+2, R+2)
        flat = (rows + 1) * (r + 2) + (cols + 1)  # (N, R, R) indices into the padded picture
        images = padded.flatten(2).gather(2, flat.flatten(1).unsqueeze(1).expand(-1, images.shape[1], -1))
        images = images.view(n, -1, r, r)
    if "cutout" in names:  # a blank square of half the side, anywhere
        half = r // 2
        centre = torch.randint(0, r + 1 - half % 2, (2, n, 1, 1), generator=generator).to(device)
        index = torch.arange(r, device=device)
        inside = ((index.view(1, r, 1) - centre[0]).abs() < half // 2) & \
                 ((index.view(1, 1, r) - centre[1]).abs() < half // 2)  # (N, R, R)
        images = images * (~inside).unsqueeze(1).to(images.dtype)
    return images
