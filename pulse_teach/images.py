"""Images in and out: PIL images and arrays to (N, 3, H, W) tensors in [0, 1], and back to files."""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from .storage import atomic_path

PLAIN_MODES = ("RGB", "L", "1", "P")  # 8-bit pictures whose RGB conversion is exact (P only without transparency)


def to_tensor(image) -> torch.Tensor:
    """A PIL image, an (H, W, 3) uint8/float array, or a (3, H, W) / (N, 3, H, W) tensor -> (N, 3, H, W) float32 in [0, 1].

    Pictures that need more than a plain RGB conversion (transparency, 16-bit or float modes) and arrays
    that are not uint8 or floats in [0, 1] raise a ValueError naming ``inputs.prepare_input``, which
    handles them the way the command line does. Other shapes raise ValueError, other types TypeError.
    """
    if isinstance(image, Image.Image):
        if image.mode not in PLAIN_MODES or "transparency" in image.info:
            what = f"mode {image.mode}" + (" with transparency" if "transparency" in image.info else "")
            raise ValueError(f"a {what} picture needs more than a plain RGB conversion: pass it through "
                             "prepare_input(picture, resolution), which composites transparency on a background "
                             "and scales 16-bit values, as the command line does")
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB array, got shape {image.shape}; for other pictures use "
                             "prepare_input(PIL.Image.fromarray(array), resolution)")
        if image.dtype == np.uint8:
            image = image.astype(np.float32) / 255.0
        elif image.dtype.kind == "f" and image.size and (image.min() < -1e-3 or image.max() > 1 + 1e-3):
            raise ValueError(f"a float array must hold values in [0, 1], got [{image.min():.3g}, {image.max():.3g}]; "
                             "scale it, or give 8-bit pictures to prepare_input")
        elif image.dtype.kind != "f":
            raise ValueError(f"expected a uint8 array (0-255) or floats in [0, 1], got {image.dtype}; convert it, "
                             "or give the picture to prepare_input")
        image = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a PIL image, numpy array or tensor, got {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected a tensor shaped (3, H, W) or (N, 3, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"expected a float tensor in [0, 1], got dtype {image.dtype}")
    return image.float()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) or (H, W, 3) uint8 pixels (the face world's renders) -> (N, 3, H, W) float32 in [0, 1].

    Raises ValueError for another dtype or shape (use ``to_tensor`` for pictures of any kind).
    """
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 pixels shaped (N, H, W, 3) or (H, W, 3), got {images.dtype} {images.shape}")
    return torch.from_numpy(images).reshape(-1, *images.shape[-3:]).permute(0, 3, 1, 2).float() / 255


def from_generator(images: torch.Tensor, clamp: bool = False) -> torch.Tensor:
    """A generator's output, nominally in [-1, 1], -> [0, 1] as (x + 1) / 2 (any shape).

    Not clamped by default: PULSE's loss sees the values as they are (docs/pulse_method.md §1).
    """
    images = (images + 1) / 2
    return images.clamp(0, 1) if clamp else images


def check_batch(name: str, images, shape: tuple | None = None) -> None:
    """Raise ValueError, naming ``name``, unless ``images`` is an (N, 3, H, W) float tensor (with
    ``shape``: (N, *shape)), the batch convention of the package (values in [0, 1])."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point() \
            or (shape is not None and tuple(images.shape[1:]) != tuple(shape)):
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        want = f"(N, {', '.join(map(str, shape))})" if shape else "(N, 3, H, W)"
        raise ValueError(f"{name} must be a {want} float tensor in [0, 1], got {got}")


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] (any shape) rounded to 8 bits, as saving them as a PNG does (``to_pil``): clamped,
    then round(x * 255) / 255."""
    return (images.clamp(0, 1) * 255).round() / 255


def to_display(image: torch.Tensor) -> np.ndarray:
    """A (3, H, W) tensor in [0, 1] (any device, with or without gradients) -> an (H, W, 3) float32 array
    for ``imshow``, clamped to [0, 1]. Raises ValueError for another shape."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a tensor shaped (3, H, W), got {tuple(image.shape)}")
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def to_pil(image: torch.Tensor) -> Image.Image:
    """A (3, H, W) tensor in [0, 1] -> an RGB PIL image (values clamped).

    Raises ValueError for a tensor that is not (3, H, W) or (1, 3, H, W).
    """
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a tensor shaped (3, H, W), got {tuple(image.shape)}")
    array = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


GRID_PAD = 2  # pixels of padding around every image of a make_grid grid


def grid_cell(i: int, ncol: int, h: int, w: int, pad: int = GRID_PAD) -> tuple[int, int]:
    """(top, left) pixel of image ``i`` (h x w) on a ``make_grid`` grid of ``ncol`` columns."""
    return pad + (i // ncol) * (h + pad), pad + (i % ncol) * (w + pad)


def make_grid(images: torch.Tensor, ncol: int | None = None, pad: int = GRID_PAD, pad_value: float = 1.0) -> torch.Tensor:
    """(N, 3, H, W) -> one (3, H', W') image with the N images on a grid (ncol columns, default near-square)."""
    n, c, h, w = images.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    grid = images.new_full((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), pad_value)
    for i in range(n):
        top, left = grid_cell(i, ncol, h, w, pad)
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
