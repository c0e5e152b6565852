"""Generators by name: our own export format, and the registry of models the lessons use.

Names are bundled models (small, in the repository) or NVIDIA's FFHQ StyleGAN2 networks, downloaded once
from NVIDIA into the cache (never re-hosted; non-commercial licence). Any local file works too: an
NVIDIA ``.pkl``, a rosinality ``.pt`` or one of our exports (see ``checkpoints``).

An exported generator is one ``torch.save`` file holding plain data only (so it loads with
``torch.load(weights_only=True)``, which cannot run code from the file, unlike a pickle):

    {"format": "pulse_teach.generator/1", "config": Generator(**config) arguments,
     "state_dict": float16 tensors, "meta": JSON-like dict (training distribution, steps, wall time, ...)}

    save_generator("faces64.pt", G_ema, {"skin_tone": "balanced"})
    G = load_generator("faces64")            # a bundled name, "ffhq-1024", or a path to a generator file
    print(format_models(list_models()))      # name, kind, present, download size, description
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .bundled import REINSTALL, data_root
from .checkpoints import read_generator_file
from .downloads import NVIDIA_LICENCE_NOTE, fetch
from .latent import adopt_fit, fit_gaussian, fit_to_dict
from .nvidia_pickle import generator_from_network_pickle
from .runtime import resolve_device
from .storage import atomic_path, cache_dir
from .stylegan2 import Generator

FORMAT = "pulse_teach.generator/1"
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
    """The local file of a known model name (which may not exist yet)."""
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


def write_export(path: str | os.PathLike, fmt: str, module: torch.nn.Module, config: dict,
                 meta: dict | None = None) -> Path:
    """Write {format, config, float16 state_dict, meta} atomically: plain data that loads with weights_only=True.

    ``meta`` must be JSON-like (dicts, lists, strings, numbers, None): it is stored as such so the file
    keeps loading with ``weights_only=True``. Generators and the attribute probe share this format.
    """
    try:
        meta = json.loads(json.dumps(meta or {}))  # plain types only (tuples become lists)
    except TypeError as error:
        raise TypeError(f"meta must be JSON-serialisable, got {meta!r}") from error
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu().contiguous()
             for k, v in module.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": fmt, "config": dict(config), "state_dict": state, "meta": meta}, tmp)
    return path


def read_export(path: Path, fmt: str, payload: dict | None = None) -> tuple[dict, dict, dict]:
    """(config, float32 state_dict, meta) of a ``write_export`` file (or its already loaded ``payload``); no code runs."""
    if payload is None:
        payload = torch.load(path, map_location="cpu", weights_only=True)  # refuses code and arbitrary objects
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a pulse_teach export of format {fmt!r}, found {found!r}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    return payload["config"], state, payload.get("meta", {})


def save_generator(path: str | os.PathLike, generator: Generator, meta: dict | None = None,
                   gaussian_fit_samples: int | None = None) -> Path:
    """Write the generator's config and float16 weights (about 2 bytes per parameter), atomically.

    With ``gaussian_fit_samples`` the Gaussianised-W fit of the weights as stored (float16) ships in the
    file's meta, so PULSE's first step after ``load_generator`` does not wait for a fit.
    """
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a pulse_teach.stylegan2.Generator, got {type(generator).__name__}")
    meta = dict(meta or {})
    if gaussian_fit_samples:
        stored = Generator(**generator.config)  # the weights as a loader will see them: rounded to float16
        stored.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                                for k, v in generator.state_dict().items()})
        meta["gaussian_fit"] = fit_to_dict(fit_gaussian(stored.cpu(), gaussian_fit_samples, cache=False))
    return write_export(path, FORMAT, generator, generator.config, meta)


def load_generator(name_or_path: str | os.PathLike, device: str | torch.device | None = None,
                   download: bool = True, progress: bool = True) -> Generator:
    """A known model name (see ``list_models``) or a path to a generator file -> float32 Generator.

    NVIDIA names are downloaded on first use (``download=False`` refuses instead). Returned in eval
    mode with gradients off (PULSE differentiates w.r.t. latents, not weights); the file's meta is
    kept as ``generator.meta``. What loading had to rebuild (e.g. noise maps a file lacks) is in
    ``generator.meta["notices"]`` and issued as ``ModelNotice`` warnings. A ``device`` that is not
    available here raises a one-line ValueError.
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
    return generator.to(device).eval().requires_grad_(False)


class ModelNotice(UserWarning):
    """Something loading a generator had to rebuild or assume; the message names the file."""
