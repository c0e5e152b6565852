"""Any picture in, PULSE's low-res input out: decode, straighten, crop and size it, and say what was done.

PULSE needs a small square RGB image whose side divides the generator's. People have photos, scans,
screenshots and GIFs, so ``prepare_input`` accepts whatever Pillow reads and explains every change
in plain words (``notices``); what it cannot use is refused with one ``InputError`` line that names
the file and the reason. Shared by the command line and the notebooks' upload widget:

    prepared = prepare_input("me.jpg", resolution=64)      # or bytes, or a PIL image
    prepared.low_res      # (3, s, s) in [0, 1], s dividing 64
    prepared.notices      # ["EXIF orientation applied (rotated)", "640x480 centre-cropped to 480x480", ...]
"""
from __future__ import annotations

import contextlib
import io
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError

from .downscale import downscale

MAX_PIXELS = 50_000_000  # larger images are refused: a decompression bomb decodes a tiny file into gigabytes
MAX_FILE_BYTES = 256 * 2**20  # no picture people upsample is this big; a video or disk image might be
PIXEL_OPTION = "--max-pixels (max_pixels= in prepare_input)"  # how a refusal names the limit a user controls
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class InputError(ValueError):
    """An image that cannot be used; ``str(error)`` is one line: '<source>: <reason>'."""

    def __init__(self, source: str, reason: str):
        self.source, self.reason = source, " ".join(str(reason).split())  # one line, always
        super().__init__(f"{self.source}: {self.reason}")


@dataclass
class PreparedInput:
    """What PULSE gets, and what was done to the picture to get there."""

    low_res: torch.Tensor  # (3, s, s) float32 in [0, 1], s = resolution // factor
    notices: list[str] = field(default_factory=list)  # human-readable, one per change made
    source: str = "<image>"
    original_size: tuple[int, int] = (0, 0)  # (width, height) as decoded, before orientation and crops
    high_res: torch.Tensor | None = None  # (3, R, R) the picture at the model's resolution, when it was that big

    @property
    def side(self) -> int:
        return int(self.low_res.shape[-1])


def default_factor(resolution: int) -> int:
    """The factor for pictures at the model's size or larger: to 8x8 (x8 at 64 px), 16x16 at 1024 px (the paper's x64)."""
    side = 16 if resolution >= 1024 else 8
    return resolution // side if resolution % side == 0 and resolution // side >= 2 else resolution // valid_sides(resolution)[0]


def infer_factor(resolution: int, low_res_size: Sequence[int]) -> int:
    """The integer factor from a (h, w) low-res input to the generator's side ``resolution``.

    The one factor rule: the input must be square with a side that divides ``resolution`` (factor 1, a
    full-size input, is a plain projection). Raises ValueError (saying what to do) otherwise;
    ``prepare_input`` makes any picture fit, with a side from ``valid_sides``.
    """
    h, w = int(low_res_size[0]), int(low_res_size[1])
    if h != w:
        raise ValueError(f"the low-res image must be square, got {h}x{w}; crop it first (prepare_input does)")
    if h < 1 or resolution % h:
        raise ValueError(f"the generator makes {resolution}x{resolution} images, which is not an integer multiple "
                         f"of {h}x{h}; resize the input to one of {valid_sides(resolution)} (prepare_input does)")
    return resolution // h


def valid_factors(resolution: int) -> list[int]:
    """Factors PULSE can upsample by to reach ``resolution``: those leaving a low-res side of 2 px or more."""
    return [resolution // s for s in valid_sides(resolution)][::-1]


def valid_sides(resolution: int) -> list[int]:
    """Low-res sides PULSE can upsample to ``resolution``: its divisors from 2 up to resolution / 2."""
    return [s for s in range(resolution // 2, 1, -1) if resolution % s == 0][::-1]


def nearest_side(side: int, resolution: int) -> int:
    """The valid low-res side closest to ``side`` in scale (log2); ties go to the larger side."""
    return min(valid_sides(resolution), key=lambda s: (abs(np.log2(s) - np.log2(side)), -s))


def parse_crop(spec: str) -> tuple[int, int, int, int]:
    """'x,y,w,h' -> (x, y, w, h) with w, h >= 1; a ValueError says what was expected."""
    try:
        x, y, w, h = (int(v) for v in spec.split(","))
    except ValueError:
        raise ValueError(f"crop must be four integers x,y,w,h (e.g. 10,20,128,128), got {spec!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise ValueError(f"crop needs x, y >= 0 and w, h >= 1, got {spec!r}")
    return x, y, w, h


def parse_background(spec: str | tuple) -> tuple[int, int, int]:
    """A colour name, '#rrggbb' or 'r,g,b' -> an (r, g, b) tuple of 0-255 ints.

    Raises ValueError for anything else.
    """
    if isinstance(spec, tuple):
        return tuple(int(v) for v in spec[:3])
    try:
        if "," in spec:
            rgb = tuple(int(v) for v in spec.split(","))
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise ValueError
            return rgb
        return ImageColor.getrgb(spec)[:3]
    except ValueError:
        raise ValueError(f"background must be a colour name, #rrggbb or r,g,b (0-255), got {spec!r}") from None


def prepare_input(
    image: str | os.PathLike | bytes | Image.Image,
    resolution: int,
    factor: int | None = None,
    crop: tuple[int, int, int, int] | None = None,
    background: str | tuple[int, int, int] = "white",
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> PreparedInput:
    """Turn a file path, the bytes of an image file, or a PIL image into PULSE's input for a generator.

    factor: None picks it from the image (a side that divides ``resolution`` is used as it is; other
    small sides are resized to the nearest one; images at ``resolution`` or larger are downscaled by
    ``default_factor``: to 8x8, or 16x16 for 1024 px models);
    an int asks for a ``resolution // factor`` input. Raises InputError for unusable images and
    ValueError for bad arguments (factor, crop, background).
    """
    if factor is not None and (isinstance(factor, bool) or not isinstance(factor, int)
                               or factor not in valid_factors(resolution)):
        raise ValueError(f"factor must divide {resolution} and leave at least 2 px, i.e. one of "
                         f"{valid_factors(resolution)}; got {factor!r}")
    fill = parse_background(background)
    source = name or (str(image) if isinstance(image, (str, os.PathLike)) else
                      "<uploaded bytes>" if isinstance(image, (bytes, bytearray)) else "<image>")
    notices: list[str] = []
    with _pillow_limit_lifted():  # Pillow's own limit would override max_pixels in open, convert and crop
        picture, original_size = _open(image, source, max_pixels, notices)
        picture = _to_rgb_or_grey(picture, source, fill, notices)  # mode RGB, or F (one float channel in [0, 1])
        picture = _crop_square(picture, crop, source, notices)
        side = picture.size[0]
        if side < 2:
            what = f"a {side}x{side} image" if original_size == (side, side) else \
                f"a {original_size[0]}x{original_size[1]} image ({side}x{side} once cropped square)"
            raise InputError(source, f"{what} is too small: PULSE needs at least 2x2 pixels")
        if side >= 4 * resolution:  # shrink huge photos cheaply (box filter) before the float conversion
            picture = picture.reduce(side // (2 * resolution))
    pixels = np.asarray(picture, dtype=np.float32)
    pixels = pixels / 255.0 if picture.mode == "RGB" else np.repeat(pixels[..., None], 3, axis=2)  # (S', S', 3)
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]  # (1, 3, S, S)
    high_res = None
    if side >= resolution:  # a high-res picture: bring it to the model's size, then make PULSE's input
        factor = factor or default_factor(resolution)
        if side > resolution:
            x = _resize(x, resolution)
            notices.append(f"{side}x{side} resized to the model's {resolution}x{resolution}")
        high_res = x[0]
        x = downscale(x, factor).clamp(0, 1)
        notices.append(f"{resolution}x{resolution} is the model's own resolution, not a low-res input: downscaled "
                       f"x{factor} to {resolution // factor}x{resolution // factor} first (PULSE's bicubic); "
                       "the original is shown for comparison but PULSE never sees it")
    else:
        target = resolution // factor if factor else (side if side in valid_sides(resolution)
                                                       else nearest_side(side, resolution))
        if target != side:
            why = (f"x{factor} needs {target}x{target}" if factor else
                   f"{side} does not divide the model's {resolution}")
            x = _resize(x, target)
            notices.append(f"{side}x{side} resized to {target}x{target} ({why})")
    return PreparedInput(x[0].contiguous(), notices, source, original_size, high_res)


def _open(image, source: str, max_pixels: int, notices: list[str]) -> tuple[Image.Image, tuple[int, int]]:
    """Decode fully (so truncation shows up here), refuse bombs before decoding, apply EXIF orientation."""
    if isinstance(image, Image.Image):
        picture = image
    else:
        if isinstance(image, (bytes, bytearray)):
            data = bytes(image)
        elif isinstance(image, (str, os.PathLike)):
            path = Path(image)
            if not path.exists():
                raise InputError(source, "no such file")
            if path.is_dir():
                raise InputError(source, "is a folder, not an image file")
            byte_limit = file_byte_limit(max_pixels)
            if path.stat().st_size > byte_limit:
                raise InputError(source, f"{path.stat().st_size / 2**20:.0f} MiB is too large for a picture "
                                         f"(limit {byte_limit / 2**20:.0f} MiB, which grows with "
                                         f"{PIXEL_OPTION}; raise that if the picture is genuine)")
            try:
                data = path.read_bytes()
            except OSError as error:
                raise InputError(source, f"cannot be read ({error.strerror or error})") from None
        else:
            raise TypeError(f"expected a path, bytes or a PIL image, got {type(image).__name__}")
        if not data:
            raise InputError(source, "empty file (0 bytes)")
        try:
            with _pillow_limit_lifted():  # our own limit (max_pixels) is the one in force: checked below
                picture = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as error:  # not expected with the limit lifted; said in our terms
            raise InputError(source, f"refused by Pillow as a possible decompression bomb ({error}); raise "
                                     f"{PIXEL_OPTION} if the picture is genuine") from None
        except UnidentifiedImageError:
            raise InputError(source, "not an image, or a format Pillow cannot read") from None
        except Exception as error:  # Pillow raises many kinds for broken headers
            raise InputError(source, f"unreadable image header ({type(error).__name__}: {error})") from None
    width, height = picture.size
    if width * height > max_pixels:
        raise InputError(source, f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
                                 f"(refused as a possible decompression bomb; raise {PIXEL_OPTION} if the picture "
                                 "is genuine)")
    frames = getattr(picture, "n_frames", 1)
    try:
        with _pillow_limit_lifted():
            picture.seek(0)
            picture.load()
    except Exception as error:  # truncated data, bad chunks, broken compression streams
        reason = "truncated file" if "truncated" in str(error) else f"corrupt image data ({type(error).__name__}: {error})"
        raise InputError(source, f"{reason}; nothing was decoded") from None
    if frames > 1:
        notices.append(f"{frames} frames ({picture.format or 'animated'}): using the first")
    orientation = picture.getexif().get(0x0112, 1)  # EXIF Orientation tag
    if orientation not in (1, None):
        picture = ImageOps.exif_transpose(picture)
        notices.append(f"EXIF orientation {orientation} applied (the picture is turned upright as a camera shows it)")
    return picture, (width, height)


def file_byte_limit(max_pixels: int) -> int:
    """The largest file accepted: MAX_FILE_BYTES, scaled up when ``max_pixels`` is raised above MAX_PIXELS."""
    return int(MAX_FILE_BYTES * max(1.0, max_pixels / MAX_PIXELS))


_PILLOW_LIMIT = threading.RLock()


@contextlib.contextmanager
def _pillow_limit_lifted() -> Iterator[None]:
    """Pillow's own decompression-bomb limit off (and its warning silenced) while decoding: ours applies instead."""
    with _PILLOW_LIMIT, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _to_rgb_or_grey(picture: Image.Image, source: str, fill: tuple[int, int, int], notices: list[str]) -> Image.Image:
    """Any mode -> RGB (alpha composited on ``fill``; grey, palette, CMYK converted), or 16-bit grey -> F in [0, 1]."""
    mode = picture.mode
    if mode in SIXTEEN_BIT_MODES or mode == "F":
        grey = np.asarray(picture, dtype=np.float32)  # (H, W)
        peak = float(grey.max(initial=0))
        top = (1.0 if peak <= 1 else 255.0 if peak <= 255 else 65535.0) if mode in ("F", "I") else 65535.0
        notices.append(f"{'16-bit' if top == 65535 else mode + '-mode'} greyscale scaled to [0, 1] and converted to RGB")
        return Image.fromarray(np.clip(grey / top, 0, 1).astype(np.float32), "F")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info
    try:
        if has_alpha:
            rgba = picture.convert("RGBA")
            if rgba.getextrema()[3][0] < 255:  # some pixel is not fully opaque
                rgba = Image.alpha_composite(Image.new("RGBA", rgba.size, fill + (255,)), rgba)
                notices.append(f"transparent pixels composited on the background {'#%02x%02x%02x' % fill}")
            picture = rgba
        elif mode in ("L", "1"):
            notices.append("greyscale converted to RGB")
        elif mode == "P":
            notices.append("palette image converted to RGB")
        elif mode != "RGB":
            notices.append(f"{mode} image converted to RGB")
        return picture.convert("RGB")
    except Exception as error:
        raise InputError(source, f"cannot convert mode {mode} to RGB ({type(error).__name__}: {error})") from None


def _crop_square(picture: Image.Image, crop, source: str, notices: list[str]) -> Image.Image:
    """Apply ``crop`` (x, y, w, h) if given, then centre-crop to a square if still needed."""
    width, height = picture.size
    if crop is not None:
        x, y, w, h = crop
        if x + w > width or y + h > height:
            raise InputError(source, f"crop {x},{y},{w},{h} reaches outside the {width}x{height} image")
        picture = picture.crop((x, y, x + w, y + h))
        notices.append(f"cropped to {w}x{h} at ({x}, {y})")
        width, height = w, h
    if height != width:
        side = min(height, width)
        left, top = (width - side) // 2, (height - side) // 2
        picture = picture.crop((left, top, left + side, top + side))
        notices.append(f"{width}x{height} is not square: centre-cropped to {side}x{side} (choose with --crop x,y,w,h)")
    return picture


def _resize(x: torch.Tensor, side: int) -> torch.Tensor:
    """(1, 3, S, S) -> (1, 3, side, side), antialiased bicubic, clamped to [0, 1]."""
    return F.interpolate(x, size=(side, side), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
