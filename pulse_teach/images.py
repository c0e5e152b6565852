"""Images in and out: PIL images and arrays to (N, 3, H, W) tensors in [0, 1], and back to files."""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from .storage import atomic_path


def to_tensor(image) -> torch.Tensor:
    """A PIL image, an (H, W, 3) uint8/float array, or a (3, H, W) / (N, 3, H, W) tensor -> (N, 3, H, W) float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB array, got shape {image.shape}")
        scale = 255.0 if image.dtype == np.uint8 else 1.0
        image = torch.from_numpy(image.astype(np.float32) / scale).permute(2, 0, 1)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a PIL image, numpy array or tensor, got {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected a tensor shaped (3, H, W) or (N, 3, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"expected a float tensor in [0, 1], got dtype {image.dtype}")
    return image.float()


def to_pil(image: torch.Tensor) -> Image.Image:
    """A (3, H, W) tensor in [0, 1] -> an RGB PIL image (values clamped)."""
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a tensor shaped (3, H, W), got {tuple(image.shape)}")
    array = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def make_grid(images: torch.Tensor, ncol: int | None = None, pad: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """(N, 3, H, W) -> one (3, H', W') image with the N images on a grid (ncol columns, default near-square)."""
    n, c, h, w = images.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    grid = images.new_full((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), pad_value)
    for i in range(n):
        top, left = pad + (i // ncol) * (h + pad), pad + (i % ncol) * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    return grid


def enlarge(image: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest-neighbour enlargement of (..., 3, h, w) to side ``size``, so small images show their pixels."""
    return torch.nn.functional.interpolate(image.reshape(-1, *image.shape[-3:]), size=(size, size), mode="nearest").reshape(
        *image.shape[:-2], size, size)


def save_image(image: torch.Tensor, path: str | os.PathLike) -> None:
    """Save a (3, H, W) tensor in [0, 1] as a PNG, atomically."""
    with atomic_path(path) as tmp:
        to_pil(image).save(tmp, format="PNG")
