"""Downscaling operators, PULSE's antialiased bicubic first.

PULSE searches for a high-resolution image whose *downscaled* version matches the low-resolution
input, so the downscaler D defines what "consistent with the input" means: the loss is
mean((D(G(z)) - I_LR)^2) and the same D prepares I_LR. `bicubic_downsample` is PULSE's D exactly
(antialiased Keys cubic, a = -0.5, 4f taps, reflect padding, separable H then W); `downscale` also
offers area, nearest and Pillow bicubic so the lessons can show how the choice of D changes results.
All four are linear and separable: `downscale_matrix`, `project_consistent` and `null_space_part`
write D as a matrix and find the many high-res images that D maps to one low-res image.
"""
from __future__ import annotations

import functools
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

DOWNSCALE_METHODS: tuple[str, ...] = ("bicubic", "area", "nearest", "pil-bicubic")


def _check_factor(factor: int) -> int:
    """Return factor as a plain int; PULSE's factors are integers (generator side / LR side)."""
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral):
        raise TypeError(f"factor must be a positive int, got {factor!r} ({type(factor).__name__})")
    if factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor}")
    return int(factor)


def _keys_cubic(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys (1981) cubic convolution kernel; a = -0.5 is the value PULSE and MATLAB use."""
    x = x.abs()
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1  # |x| <= 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a  # 1 < |x| < 2
    return torch.where(x <= 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


@functools.lru_cache(maxsize=None)
def _taps_float64(factor: int) -> torch.Tensor:
    """Float64 CPU taps, computed once per factor (never hand this tensor out: it is shared)."""
    with torch.inference_mode(False):  # an inference tensor in the cache would break autograd later
        i = torch.arange(4 * factor, dtype=torch.float64)
        taps = _keys_cubic((i - 2 * factor + 0.5) / factor)  # kernel stretched by f: antialiased
        return taps / taps.sum()


@functools.lru_cache(maxsize=64)
def _taps_blocks(factor: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Taps as 4 blocks of f, shape (4, f), on the device and dtype where they are used."""
    with torch.inference_mode(False):
        return _taps_float64(factor).to(device=device, dtype=dtype).view(4, factor)


def bicubic_taps(factor: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """PULSE's 4f antialiased bicubic taps: tap i = k((i - 2f + 0.5) / f), normalised to sum 1."""
    return _taps_float64(_check_factor(factor)).to(dtype=dtype, copy=True)  # (4f,)


def _check_images(images: torch.Tensor, factor: int) -> None:
    """Raise a clear error unless images is a float (N, C, H, W) tensor with H, W divisible by f."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim == 3:
        raise ValueError(
            f"images must be 4-D (N, C, H, W), got 3-D shape {tuple(images.shape)}; "
            "for a single (C, H, W) image pass images[None]"
        )
    if images.ndim != 4:
        raise ValueError(f"images must be 4-D (N, C, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"images must be a floating-point tensor (float32/float64), got {images.dtype}")
    n, c, h, w = images.shape
    if n < 1 or c < 1:
        raise ValueError(f"images needs N >= 1 and C >= 1, got shape {tuple(images.shape)}")
    if h % factor or w % factor:
        raise ValueError(f"height {h} and width {w} must both be divisible by factor {factor}")


def bicubic_downsample(images: torch.Tensor, factor: int) -> torch.Tensor:
    """PULSE's downscaler D: (N, C, H, W) -> (N, C, H/f, W/f), differentiable, dtype/device kept.

    Per axis (H first, then W): reflect-pad floor(3f/2) before and ceil(3f/2) after, then
    cross-correlate with the 4f taps at stride f. A stride-f window of 4f taps covers exactly 4
    consecutive blocks of f pixels, so we compute it as a matmul of each block with the taps
    reshaped (4, f) plus a sum of 4 shifted results (the "polyphase" form): same numbers as a
    depthwise conv, 4-6x faster on CPU, forward and backward.
    For even f the kernel is centred on each block's centre; for odd f (never used by PULSE, whose
    factors divide 1024) the floor(3f/2) padding puts the centre half a pixel after it.
    factor 1 returns a copy: the 4-tap formula would blur and shift by half a pixel.

    Raises ValueError when the image is too small for the factor's reflect padding.
    """
    factor = _check_factor(factor)
    _check_images(images, factor)
    if factor == 1:
        return images.clone()
    n, c, h, w = images.shape
    before, after = 3 * factor // 2, 3 * factor - 3 * factor // 2
    if after >= min(h, w):
        raise ValueError(
            f"image {h}x{w} is too small for factor {factor}: reflect padding of {after} pixels "
            f"needs height and width > {after}, i.e. a low-res side of at least 2 ({2 * factor} px)"
        )
    taps = _taps_blocks(factor, images.dtype, images.device)  # (4, f)
    lh, lw = h // factor, w // factor

    x = F.pad(images, (0, 0, before, after), mode="reflect")  # (N, C, H+3f, W)
    x = x.reshape(n, c, lh + 3, factor, w)  # blocks of f rows
    z = torch.matmul(taps, x)  # (N, C, h+3, 4, W): block k weighted by each quarter of the taps
    x = z[:, :, 0:lh, 0] + z[:, :, 1 : lh + 1, 1] + z[:, :, 2 : lh + 2, 2] + z[:, :, 3 : lh + 3, 3]

    x = F.pad(x, (before, after, 0, 0), mode="reflect")  # (N, C, h, W+3f)
    x = x.reshape(n, c, lh, lw + 3, factor)  # blocks of f columns
    z = torch.matmul(x, taps.T)  # (N, C, h, w+3, 4)
    return z[..., 0:lw, 0] + z[..., 1 : lw + 1, 1] + z[..., 2 : lw + 2, 2] + z[..., 3 : lw + 3, 3]


def _pil_bicubic(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Pillow's BICUBIC resize of each (H, W) plane as a float32 'F' image; not differentiable."""
    n, c, h, w = images.shape
    planes = images.detach().to("cpu", torch.float32).numpy()  # (N, C, H, W)
    out = np.empty((n, c, h // factor, w // factor), dtype=np.float32)
    for i in range(n):
        for j in range(c):
            plane = Image.fromarray(np.ascontiguousarray(planes[i, j]))  # mode 'F'
            out[i, j] = np.asarray(plane.resize((w // factor, h // factor), Image.Resampling.BICUBIC))
    return torch.from_numpy(out).to(device=images.device, dtype=images.dtype)


def downscale(images: torch.Tensor, factor: int, method: str = "bicubic") -> torch.Tensor:
    """Downscale (N, C, H, W) by an integer factor with one of `DOWNSCALE_METHODS`.

    - "bicubic": `bicubic_downsample`, PULSE's operator.
    - "area": mean of each f x f block.
    - "nearest": the pixel at offset f//2 in each axis of each block (the centre for odd f, the
      pixel just below-right of it for even f; same pick as Pillow NEAREST and torch "nearest-exact").
    - "pil-bicubic": Pillow's Image.resize(BICUBIC) per channel in float32; runs on CPU, returns the
      input's dtype and device, and is NOT differentiable (the result carries no gradient).

    Raises ValueError for an unknown ``method``.
    """
    if method not in DOWNSCALE_METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {DOWNSCALE_METHODS}")
    if method == "bicubic":
        return bicubic_downsample(images, factor)
    factor = _check_factor(factor)
    _check_images(images, factor)
    if method == "area":
        return F.avg_pool2d(images, factor)
    if method == "nearest":
        offset = factor // 2
        return images[:, :, offset::factor, offset::factor].clone()
    return _pil_bicubic(images, factor)


# ------------------------------------------------------------------ the many-to-one problem
@functools.lru_cache(maxsize=32)
def _axis_matrices(size: int, factor: int, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 CPU (A, A⁺) for one axis of ``size`` pixels, computed once (shared: never hand them out)."""
    with torch.inference_mode(False):
        probe = torch.zeros(size, 1, size, 2 * factor, dtype=torch.float64)  # image i: row i all ones
        probe[torch.arange(size), 0, torch.arange(size)] = 1
        matrix = downscale(probe, factor, method)[:, 0, :, 0].T.contiguous()  # (size/f, size)
        return matrix, torch.linalg.pinv(matrix)  # A⁺: (size, size/f)


def downscale_matrix(size: int, factor: int, method: str = "bicubic", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The (size/f, size) matrix A of one image axis: ``downscale(x)`` is ``A_H @ x @ A_W.T`` per channel.

    Every method in DOWNSCALE_METHODS is linear and separable, so D is this small matrix applied to
    rows and columns. It is read off the operator itself: downscaling an image whose row i is all ones
    gives column i of A times the W-axis row sums, and those are 1 (each method keeps constants).

    Raises ValueError for an unknown ``method`` or a size the factor does not divide.
    """
    factor = _check_factor(factor)
    if method not in DOWNSCALE_METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {DOWNSCALE_METHODS}")
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 or size % factor:
        raise ValueError(f"size must be a positive int divisible by factor {factor}, got {size!r}")
    return _axis_matrices(int(size), factor, method)[0].to(dtype=dtype, copy=True)


def _axis_operators(images: torch.Tensor, factor: int, method: str) -> tuple[torch.Tensor, ...]:
    """(A_H, A_H⁺, A_W, A_W⁺) for ``images``, on their device and dtype."""
    h, w = images.shape[-2:]
    mats = [*_axis_matrices(h, factor, method), *_axis_matrices(w, factor, method)]
    return tuple(m.to(dtype=images.dtype).to(images.device) for m in mats)


def project_consistent(images: torch.Tensor, low_res: torch.Tensor, factor: int, method: str = "bicubic") -> torch.Tensor:
    """The images nearest to ``images`` (least squares over pixels) whose downscale is exactly ``low_res``.

    x + D⁺(y - D x), with D⁺ the pseudo-inverse of the downscaler: the orthogonal projection onto the
    set of all high-res images consistent with y (an affine subspace). Only content that D can see is
    changed. (N, C, H, W) and (N or 1, C, H/f, W/f) -> (N, C, H, W); exact up to rounding (~1e-7 in
    float32), not clamped to [0, 1].

    Raises ValueError for an unknown ``method`` or mismatched shapes, TypeError when ``low_res`` is not a tensor.
    """
    if method not in DOWNSCALE_METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {DOWNSCALE_METHODS}")
    factor = _check_factor(factor)
    _check_images(images, factor)
    n, c, h, w = images.shape
    if not isinstance(low_res, torch.Tensor):
        raise TypeError(f"low_res must be a torch.Tensor, got {type(low_res).__name__}")
    if low_res.ndim != 4 or low_res.shape[0] not in (1, n) or tuple(low_res.shape[1:]) != (c, h // factor, w // factor):
        raise ValueError(f"low_res must be a tensor shaped ({n} or 1, {c}, {h // factor}, {w // factor}), "
                         f"got {tuple(low_res.shape)}")
    a_h, a_h_pinv, a_w, a_w_pinv = _axis_operators(images, factor, method)
    residual = low_res.to(images) - a_h @ images @ a_w.T  # (N, C, h, w): what D sees that is wrong
    return images + a_h_pinv @ residual @ a_w_pinv.T  # D⁺ = A_H⁺ ⊗ A_W⁺ (pinv of a Kronecker product)


def null_space_part(images: torch.Tensor, factor: int, method: str = "bicubic") -> torch.Tensor:
    """(I - D⁺D) x: the part of ``images`` the downscaler cannot see; adding it to a picture keeps its downscale."""
    factor = _check_factor(factor)
    _check_images(images, factor)
    n, c, h, w = images.shape
    return project_consistent(images, images.new_zeros(1, c, h // factor, w // factor), factor, method)
