"""StyleGAN2 generator (config F, skip architecture), written from the paper and NVIDIA's state-dict layout.

PULSE needs a generator it can differentiate through: it searches the latent ws (and some noise maps)
for a face whose downscale matches a low-resolution input. One class serves a tiny 64x64 model trained
on a CPU and NVIDIA's FFHQ weights: module, parameter and buffer names (and the state_dict order) equal
NVIDIA's ``stylegan2-ada-pytorch`` names, so their tensors load by name. The forward pass is NVIDIA's
fp32 reference path (docs/stylegan2_checkpoints.md §5), in plain PyTorch: no compiled ops.

    G = Generator(**SMALL_64)
    ws = G.mapping(torch.randn(4, G.z_dim))          # (4, num_ws, w_dim)
    img = G.synthesis(ws, noise_mode="const")        # (4, 3, 64, 64), nominally in [-1, 1]
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Presets. SMALL_64: 5 blocks of <= 128 channels, ~1.4 M parameters; trains and runs on a CPU.
SMALL_64 = dict(resolution=64, z_dim=128, w_dim=128, channel_base=4096, channel_max=128, num_mapping_layers=4)
FFHQ_1024 = dict(resolution=1024)  # config F: channel_base 32768, channel_max 512, 8 mapping layers
FFHQ_512 = dict(resolution=512)
FFHQ_256 = dict(resolution=256, channel_base=16384)  # NVIDIA's "paper256" config

NOISE_MODES = ("const", "random", "none")
_LRELU_SLOPE, _LRELU_GAIN = 0.2, math.sqrt(2)  # the gain keeps unit variance through the activation


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU(0.2) times sqrt(2): StyleGAN2's activation in G and D."""
    return F.leaky_relu(x, _LRELU_SLOPE) * _LRELU_GAIN


def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """2-D low-pass filter (outer product of the taps, sum 1) that every resampling step uses."""
    f = torch.tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)  # (4, 4)
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by zero insertion, pad, FIR-filter each channel, keep every ``down``-th sample.

    pad = (x0, x1, y0, y1); negative values crop. ``gain`` makes up for the inserted zeros (up**2).
    Output side: (H * up + y0 + y1 - fh) // down + 1.
    """
    n, c, h, w = x.shape
    if up > 1:
        y = x.new_zeros(n, c, h * up, w * up)
        y[:, :, ::up, ::up] = x  # (N, C, H*up, W*up)
        x = y
    x = F.pad(x, pad)
    kernel = (f * gain).flip([0, 1]).to(x)  # flipped: a true convolution, as NVIDIA defines it
    kernel = kernel.reshape(1, 1, *f.shape).repeat(c, 1, 1, 1)  # (C, 1, fh, fw): depthwise
    x = F.conv2d(x, kernel, groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """x2 upsampling with a separable 4x4 filter (``setup_filter``'s kind): (N, C, H, W) -> (N, C, 2H, 2W).

    Equals ``upfirdn2d(x, f, up=2, pad=(2, 1, 2, 1), gain=4)`` without the inserted zeros: per axis, each
    even output mixes taps 1 and 3 of two neighbours, each odd output taps 0 and 2 (polyphase form: on a
    CPU several times faster than the zero-filled depthwise convolution for the 3-channel image path).
    """
    taps = f.sum(dim=1).to(x) * 2  # (4,): 1-D taps with gain 2 per axis, for f = outer(t, t) / sum(t)^2
    for dim in (2, 3):  # H, then W
        x = _upsample_axis(x, taps, dim)
    return x


def _upsample_axis(x: torch.Tensor, taps: torch.Tensor, dim: int) -> torch.Tensor:
    """x2 along one axis (2 or 3) with 4 taps, zero border: output 2i is t1 x[i] + t3 x[i-1], 2i+1 is t0 x[i+1] + t2 x[i]."""
    n = x.shape[dim]
    padded = F.pad(x, (0, 0, 1, 1) if dim == 2 else (1, 1))  # a zero on each side of that axis
    before, here, after = (padded.narrow(dim, k, n) for k in range(3))  # x[i-1], x[i], x[i+1]
    even, odd = taps[1] * here + taps[3] * before, taps[0] * after + taps[2] * here
    out = torch.stack([even, odd], dim=dim + 1)  # (..., n, 2, ...) interleaves the phases
    return out.flatten(dim, dim + 1)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: int = 1, resample_filter: torch.Tensor | None = None, fused: bool = False,
                     gain: float = 1.0, add: torch.Tensor | None = None) -> torch.Tensor:
    """Convolve each sample with its own style-scaled (and demodulated) weights, with no loop over samples.

    x (N, I, H, W), weight (O, I, k, k), styles (N, I) -> (N, O, H*up, W*up). Two exact equivalents:
    fused=False scales the activations before and after one shared-weight conv (no gradient w.r.t.
    per-sample weights: faster when only ws/noise need gradients); fused=True builds per-sample weights
    and runs one grouped conv with the batch folded into the channels (groups=N); a 1x1 kernel (ToRGB) with
    fused=False is one batched matrix product with per-sample weights. Returns gain * conv + add, where
    ``add`` broadcasts to the output (a layer's noise or bias, added in the same pass). Raises ValueError for
    up other than 1 or 2, or up=2 without a 3x3 kernel and a resample filter.
    """
    n, in_ch, h, w = x.shape
    out_ch, _, kh, kw = weight.shape
    if up not in (1, 2) or (up == 2 and (kh != 3 or resample_filter is None)):
        raise ValueError("modulated_conv2d supports up=1, or up=2 with a 3x3 kernel and a filter; "
                         f"got up={up}, kernel {kh}x{kw}, filter {resample_filter is not None}")
    dcoefs = None
    if kh == 1 and not fused:  # 1x1 (ToRGB): one batched matrix product, far cheaper than conv2d on a CPU
        weight = weight.reshape(1, out_ch, in_ch) * styles.reshape(n, 1, in_ch)  # (N, O, I)
        if demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=2, keepdim=True) + 1e-8)
        if x.is_contiguous(memory_format=torch.channels_last):  # keep the layout, so the gradient keeps it too:
            # a (N, I, H*W) view of channels-last x sent back a plain-layout gradient, and every backward op
            # meeting it beside a channels-last tensor ran 10-25x slower (benchmarks/pulse_speed.py)
            x = _PixelProduct.apply(x.permute(0, 2, 3, 1).reshape(n, h * w, in_ch), weight)  # (N, H*W, O)
            x = x.reshape(n, h, w, out_ch).permute(0, 3, 1, 2)  # (N, O, H, W), channels-last
        else:
            x = torch.bmm(weight, x.flatten(2)).reshape(n, out_ch, h, w)  # (N, O, H, W)
        return x * gain if add is None else torch.add(add, x, alpha=gain)
    if fused:
        weight = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)  # (N, O, I, k, k)
        if demodulate:  # rescale each output channel to unit expected variance (replaces AdaIN)
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        x = x.reshape(1, n * in_ch, h, w)  # (1, N*I, H, W)
        weight, groups = weight.reshape(n * out_ch, in_ch, kh, kw), n
    else:
        if demodulate:  # the same per-(sample, output channel) factor, |W * s|^-1, without building W * s
            dcoefs = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8)  # (N, O)
        x = x * styles.reshape(n, in_ch, 1, 1)  # (N, I, H, W)
        groups = 1
    if up == 1:
        x = F.conv2d(x, weight, padding=kh // 2, groups=groups)
    else:
        # Transposed conv (stride 2, in/out axes swapped, no flip: W acts as a true convolution, not
        # conv2d's correlation) -> 2H+1, then the FIR low-pass crops back to 2H. NVIDIA's order and border.
        weight = weight.reshape(groups, -1, in_ch, kh, kw).transpose(1, 2).reshape(groups * in_ch, -1, kh, kw)
        x = F.conv_transpose2d(x, weight, stride=2, groups=groups)  # (., ., 2H+1, 2W+1)
        x = upfirdn2d(x, resample_filter, pad=(1, 1, 1, 1), gain=4.0)  # (., ., 2H, 2W)
    x = x.reshape(n, out_ch, *x.shape[2:])  # (N, O, H*up, W*up)
    if dcoefs is None:
        return (x if gain == 1 else x * gain) if add is None else torch.add(add, x, alpha=gain)
    scale = dcoefs.reshape(n, out_ch, 1, 1) * gain  # (N, O, 1, 1)
    return x * scale if add is None else torch.addcmul(add, x, scale)  # one pass


class _PixelProduct(torch.autograd.Function):
    """x (N, P, I), weight (N, O, I) -> x @ weight^T (N, P, O), with gradients in the products a CPU runs fast.

    Autograd's own backward of that bmm took the weight's gradient as a (N, I, P) @ (N, P, O) product with
    a transposed operand: 5.6 ms at 64x64 and 16 seeds where grad^T @ x takes 0.5 ms. Twice differentiable.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.bmm(x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, weight = ctx.saved_tensors  # grad (N, P, O)
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None  # (N, P, I)
        grad_weight = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None  # (N, O, I)
        return grad_x, grad_weight


class FullyConnectedLayer(nn.Module):
    """Linear layer with equalised learning rate: weights stored as N(0, 1/lr_mul^2), scaled at run time."""

    def __init__(self, in_features: int, out_features: int, lr_multiplier: float = 1.0,
                 bias_init: float = 0.0, activation: str = "linear"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)  # (out, in)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))  # (out,)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        if self.activation == "lrelu":
            x = lrelu(x)
        return x


class MappingNetwork(nn.Module):
    """z -> w: an MLP that untangles the Gaussian prior; its output is copied to every style input."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, lr_multiplier: float = 0.01,
                 codes=None):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, w_dim, num_ws, num_layers
        self.codes = codes  # None, or a fixed (parameter-free) z -> features step before the MLP
        dims = [z_dim if codes is None else codes.num_features] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(dims[i], dims[i + 1], lr_multiplier, activation="lrelu"))
        self.register_buffer("w_avg", torch.zeros(w_dim))  # running mean of w: the truncation centre

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """z (N, z_dim) -> ws (N, num_ws, w_dim), truncated towards w_avg; ValueError for another shape."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        x = z.to(self.w_avg.dtype)
        if self.codes is not None:
            x = self.codes(x)  # (N, num_features)
        x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)  # (N, z_dim), mean square 1
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)  # (N, w_dim)
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)  # (N, num_ws, w_dim); a copy, safe to edit in place
        if truncation_psi != 1:  # pull toward the average face; cutoff = how many leading ws
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            head = self.w_avg + truncation_psi * (ws[:, :cut] - self.w_avg)
            ws = torch.cat([head, ws[:, cut:]], dim=1)
        return ws

    @torch.no_grad()
    def update_w_avg(self, w: torch.Tensor, beta: float = 0.995) -> None:
        """Training step hook: w_avg <- beta * w_avg + (1 - beta) * mean(w); w untruncated, (..., w_dim)."""
        batch_mean = w.detach().reshape(-1, self.w_dim).mean(dim=0).to(self.w_avg.dtype)
        self.w_avg.copy_(beta * self.w_avg + (1 - beta) * batch_mean)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (x2 upsampling if up=2), + scaled noise, + bias, lrelu: one style input."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)  # w -> styles, start near 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))  # (O, I, 3, 3)
        self.noise_strength = nn.Parameter(torch.zeros([]))  # learned; 0 = noise has no effect
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("resample_filter", setup_filter())  # (4, 4); NVIDIA keeps it even when up=1
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # (R, R), for 'const'

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                noise: torch.Tensor | None = None, fused_modconv: bool = False) -> torch.Tensor:
        styles = self.affine(w)  # (N, I)
        if noise is None and noise_mode == "const":
            noise = self.noise_const  # (R, R)
        elif noise is None and noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
        # lrelu(z) * gain == lrelu(z * gain) for a gain > 0: the gain goes into the conv's scale, noise and bias,
        # so conv + noise + bias, lrelu and gain take three passes over the activations instead of five.
        bias = (self.bias * _LRELU_GAIN).reshape(1, -1, 1, 1)  # (1, O, 1, 1)
        noise = None if noise is None else noise * (self.noise_strength * _LRELU_GAIN)  # (N, 1, R, R) or (R, R)
        x = modulated_conv2d(x, self.weight, styles, up=self.up, resample_filter=self.resample_filter,
                             fused=fused_modconv, gain=_LRELU_GAIN, add=bias if noise is None else noise)
        if noise is not None:
            x = x.add_(bias)  # (N, O, R, R), in place: a fresh tensor that no backward needs
        x = F.leaky_relu(x, _LRELU_SLOPE, inplace=True)
        return x if self.conv_clamp is None else x.clamp(-self.conv_clamp, self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to colour, without demodulation, so each block adds its own image detail."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))  # (3, I, 1, 1)
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)  # on the styles, since nothing demodulates here

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = False) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # (N, I)
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused_modconv)
        x = x + self.bias.reshape(1, -1, 1, 1)
        return x if self.conv_clamp is None else x.clamp(-self.conv_clamp, self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | up-conv0), conv1, and a ToRGB added to the upsampled image so far."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))  # (C, 4, 4)
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", setup_filter())  # (4, 4), for the image skip path
        self.num_conv = 1 if in_channels == 0 else 2

    def layers(self) -> list[SynthesisLayer]:
        return [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str,
                noises: Sequence[torch.Tensor | None], fused_modconv: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
        # ws (N, num_conv + 1, w_dim): the ToRGB's w is also the next block's conv0 w.
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)  # (N, C, 4, 4)
        for i, layer in enumerate(self.layers()):
            x = layer(x, ws[:, i], noise_mode, noises[i], fused_modconv)  # (N, C, R, R)
        y = self.torgb(x, ws[:, self.num_conv], fused_modconv)  # (N, 3, R, R)
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws -> image: blocks b4 ... bR, each doubling the resolution; the image is a sum over blocks (skip)."""

    def __init__(self, w_dim: int, resolution: int, img_channels: int = 3, channel_base: int = 32768,
                 channel_max: int = 512, conv_clamp: float | None = None):
        super().__init__()
        self.w_dim, self.resolution, self.img_channels = w_dim, resolution, img_channels
        self.block_resolutions = [2 ** k for k in range(2, int(math.log2(resolution)) + 1)]
        channels = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        for r in self.block_resolutions:
            in_ch = channels[r // 2] if r > 4 else 0
            setattr(self, f"b{r}", SynthesisBlock(in_ch, channels[r], w_dim, r, img_channels, conv_clamp))
        self.num_ws = 2 * len(self.block_resolutions)  # b4: 1 conv, later blocks 2, + the last ToRGB

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{r}") for r in self.block_resolutions]

    def layers(self) -> list[SynthesisLayer]:
        """Every SynthesisLayer in forward order: b4.conv1, b8.conv0, b8.conv1, b16.conv0, ..."""
        return [layer for block in self.blocks() for layer in block.layers()]

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of each noise input, in forward order; num_ws - 1 of them."""
        return [(layer.resolution, layer.resolution) for layer in self.layers()]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const",
                noise: Sequence[torch.Tensor | None] | None = None, fused_modconv: bool = False) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images (N, img_channels, R, R), not clamped.

        noise: None, or one entry per layer (see ``noise_shapes``): None = use noise_mode for that layer,
        or a tensor broadcastable to (N, 1, H, W) that replaces the noise (gradients reach it).
        fused_modconv: which equivalent form of ``modulated_conv2d``. False (default) was 1.3-1.7x faster
        forward+backward on CPU at 64x64; True needed ~30% less activation memory at 1024 (equal time, N=1).
        Raises ValueError for ws or noise of the wrong shape, or an unknown noise_mode.
        """
        if ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        shapes = self.noise_shapes
        noise = [None] * len(shapes) if noise is None else list(noise)
        if len(noise) != len(shapes):
            raise ValueError(f"noise must have {len(shapes)} entries (one per SynthesisLayer), got {len(noise)}")
        for i, (n, hw) in enumerate(zip(noise, shapes)):
            if n is not None and tuple(n.shape[-2:]) != hw:
                raise ValueError(f"noise[{i}] must end in {hw}, got shape {tuple(n.shape)}")
        ws = ws.to(self.b4.const.dtype)
        x = img = None
        w_idx = layer_idx = 0
        for block in self.blocks():
            block_ws = ws[:, w_idx : w_idx + block.num_conv + 1]  # (N, num_conv + 1, w_dim)
            block_noise = noise[layer_idx : layer_idx + block.num_conv]
            x, img = block(x, img, block_ws, noise_mode, block_noise, fused_modconv)
            w_idx += block.num_conv
            layer_idx += block.num_conv
        return img


class Generator(nn.Module):
    """StyleGAN2 generator: ``mapping`` (z -> ws) then ``synthesis`` (ws -> image).

    z_codes (our face models only): world overrides such as ``{"skin_tone": "balanced"}``; the mapping then
    reads the face z's first coordinates stand for (``faces.LatentCodes``) instead of raw z.
    """

    def __init__(self, resolution: int = 1024, z_dim: int = 512, w_dim: int = 512, channel_base: int = 32768,
                 channel_max: int = 512, num_mapping_layers: int = 8, mapping_lr_multiplier: float = 0.01,
                 conv_clamp: float | None = None, img_channels: int = 3, z_codes: dict | None = None):
        super().__init__()
        if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 4, got {resolution!r}")
        self.config = dict(resolution=resolution, z_dim=z_dim, w_dim=w_dim, channel_base=channel_base,
                           channel_max=channel_max, num_mapping_layers=num_mapping_layers,
                           mapping_lr_multiplier=mapping_lr_multiplier, conv_clamp=conv_clamp,
                           img_channels=img_channels)
        if z_codes is not None:  # our face models only: NVIDIA's configs never carry the key
            self.config["z_codes"] = dict(z_codes)
        self.resolution, self.z_dim, self.w_dim, self.img_channels = resolution, z_dim, w_dim, img_channels
        # synthesis first: NVIDIA registers it first, so state_dict() lists synthesis.* before mapping.*
        self.synthesis = SynthesisNetwork(w_dim, resolution, img_channels, channel_base, channel_max, conv_clamp)
        self.num_ws = self.synthesis.num_ws  # 2 * log2(resolution) - 2
        codes = None
        if z_codes is not None:  # z's first coordinates stand for a face of our world, spelled out for the mapping
            from .faces import LatentCodes

            codes = LatentCodes(z_dim, **z_codes)
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, num_mapping_layers, mapping_lr_multiplier, codes)

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of each noise input, in forward order (see ``SynthesisNetwork.forward``'s ``noise``)."""
        return self.synthesis.noise_shapes

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const") -> torch.Tensor:
        ws = self.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)  # (N, img_channels, R, R)
