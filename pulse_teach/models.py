"""Generators by name: the registry of models the lessons use, and ``load_generator``.

Names are bundled models (small, inside the package: ``pulse_teach.bundled``) or NVIDIA's FFHQ StyleGAN2
networks, downloaded once from NVIDIA into the cache (never re-hosted; non-commercial licence). Any local
file works too: an NVIDIA ``.pkl``, a rosinality ``.pt`` or one of our exports. The file formats,
our export included (``save_generator``), live in ``checkpoints``.

    G = load_generator("faces64")            # a bundled name, "ffhq-1024", or a path to a generator file
    print(format_models(list_models()))      # name, kind, present, download size, description
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .bundled import REINSTALL, data_root
from .checkpoints import FORMAT as FORMAT  # re-exported: the format lives with the other file formats
from .checkpoints import read_generator_file
from .checkpoints import save_generator as save_generator
from .downloads import NVIDIA_LICENCE_NOTE, fetch
from .latent import adopt_fit
from .nvidia_pickle import generator_from_network_pickle
from .runtime import resolve_device
from .storage import cache_dir
from .stylegan2 import Generator

MODELS_DIR = data_root() / "models"  # bundled weights: data/models in the repository, pulse_teach/data/models installed
NVIDIA_CDN = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"


@dataclass(frozen=True)
class ModelSource:
    """Where a named model comes from: a file bundled in MODELS_DIR, or an NVIDIA download into the cache."""

    kind: str  # "bundled" | "nvidia"
    file: str  # file name under MODELS_DIR (bundled) or cache_dir()/checkpoints (nvidia)
    description: str
    url: str | None = None  # nvidia: where the file is downloaded from
    size_mb: float | None = None  # nvidia: estimated download size (docs/stylegan2_checkpoints.md §1)
    sha256: str | None = None  # known digest, if any; otherwise recorded on first download


KNOWN_MODELS: dict[str, ModelSource] = {
    "faces64": ModelSource("bundled", "faces64.pt",
                           "64x64 cartoon faces, skin tones balanced (50 % light, 50 % dark)"),
    "faces64-skewed": ModelSource("bundled", "faces64-skewed.pt",
                                  "64x64 cartoon faces trained on 90 % light / 10 % dark skin tones"),
    "ffhq-1024": ModelSource("nvidia", "ffhq.pkl", "NVIDIA StyleGAN2 config F, FFHQ 1024x1024 (PULSE's setting)",
                             NVIDIA_CDN + "ffhq.pkl", 381.6),
    "ffhq-512": ModelSource("nvidia", "ffhq-res512-mirror-stylegan2-noaug.pkl", "NVIDIA StyleGAN2, FFHQ 512x512",
                            NVIDIA_CDN + "transfer-learning-source-nets/ffhq-res512-mirror-stylegan2-noaug.pkl", 364.0),
    "ffhq-256": ModelSource("nvidia", "ffhq-res256-mirror-paper256-noaug.pkl",
                            "NVIDIA StyleGAN2 (paper256 config), FFHQ 256x256",
                            NVIDIA_CDN + "transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl", 296.0),
}


@dataclass(frozen=True)
class ModelInfo:
    """One row of ``list_models``."""

    name: str
    kind: str  # "bundled" | "nvidia"
    present: bool  # the weights are on this machine (bundled file, or downloaded into the cache)
    download_mb: float | None  # what a first use downloads (None: nothing to download)
    path: Path
    description: str


def model_path(name: str) -> Path:
    """The local file of a known model name (which may not exist yet).

    Raises KeyError for an unknown name, ValueError for an unknown source kind.
    """
    source = KNOWN_MODELS[name]
    if source.kind == "bundled":
        return MODELS_DIR / source.file
    if source.kind == "nvidia":
        return cache_dir() / "checkpoints" / source.file
    raise ValueError(f"unknown model source kind {source.kind!r} for {name!r}")


def list_models() -> list[ModelInfo]:
    """Every known model: whether its weights are present and, for downloads, the (estimated) size."""
    rows = []
    for name, source in KNOWN_MODELS.items():
        path = model_path(name)
        rows.append(ModelInfo(name, source.kind, path.is_file(), None if path.is_file() else source.size_mb,
                              path, source.description))
    return rows


def format_models(rows: list[ModelInfo]) -> str:
    """A text table of ``list_models()`` for the command line and notebooks."""
    lines = [f"{'name':<15} {'kind':<8} {'present':<8} {'download':>9}  description"]
    for r in rows:
        size = f"{r.download_mb:.0f} MB" if r.download_mb else "-"
        lines.append(f"{r.name:<15} {r.kind:<8} {'yes' if r.present else 'no':<8} {size:>9}  {r.description}")
    return "\n".join(lines)


def load_generator(name_or_path: str | os.PathLike, device: str | torch.device | None = None,
                   download: bool = True, progress: bool = True) -> Generator:
    """A known model name (see ``list_models``) or a path to a generator file -> float32 Generator.

    NVIDIA names are downloaded on first use (``download=False`` refuses instead). Returned in eval
    mode with gradients off (PULSE differentiates w.r.t. latents, not weights), channels-last on a CPU;
    the file's meta is kept as ``generator.meta``. What loading had to rebuild (e.g. noise maps a file lacks) is in
    ``generator.meta["notices"]`` and issued as ``ModelNotice`` warnings. A ``device`` that is not
    available here raises a one-line ValueError, and so does an unknown name that is not a file.
    Raises FileNotFoundError (saying how to get it) for a bundled model missing from this install, or an
    NVIDIA model not downloaded yet with ``download=False``.
    """
    device = resolve_device(device or "cpu")
    name = str(name_or_path)
    source = KNOWN_MODELS.get(name)
    if source is not None and source.kind == "nvidia":
        path = model_path(name)
        if not path.is_file() and not download:
            raise FileNotFoundError(f"{name!r} is not downloaded yet; download {source.url} to {path}, "
                                    "or allow the download (download=True; without --no-download)")
        fetch(source.url, path, source.sha256, progress=progress, licence_note=NVIDIA_LICENCE_NOTE)
        generator = generator_from_network_pickle(path)
        generator.meta.update(name=name, licence=NVIDIA_LICENCE_NOTE)
    elif source is not None:
        path = model_path(name)
        if not path.is_file():
            present = [row.name for row in list_models() if row.present]
            card = Path(source.file).with_suffix(".md").name
            raise FileNotFoundError(
                f"bundled model {name!r} is missing: no {source.file} in {path.parent} (present: {present or 'none'}). "
                f"To get it: {REINSTALL}; or train it yourself with the command in its model card "
                f"(data/models/{card} in the repository) and load the file you export")
        generator = read_generator_file(path)
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ValueError(f"unknown model {name!r}: expected one of {list(KNOWN_MODELS)} or the path of a "
                             "generator file (.pkl from NVIDIA, rosinality .pt, or a save_generator export)")
        generator = read_generator_file(path)
    if "gaussian_fit" in generator.meta:  # shipped with the weights: PULSE starts at once
        adopt_fit(generator, generator.meta["gaussian_fit"])
    for notice in generator.meta.get("notices", []):
        warnings.warn(f"{path.name}: {notice}", ModelNotice, stacklevel=2)
    if device.type == "cpu":  # NHWC weights: oneDNN's convolutions skip a layout reorder (faster 16-seed steps)
        generator = generator.to(memory_format=torch.channels_last)
    return generator.to(device).eval().requires_grad_(False)


class ModelNotice(UserWarning):
    """Something loading a generator had to rebuild or assume; the message names the file."""
