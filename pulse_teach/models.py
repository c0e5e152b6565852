"""Trained generators by name: our own export format and the registry of models the lessons use.

An exported generator is one ``torch.save`` file holding plain data only (so it loads with
``torch.load(weights_only=True)``, which cannot run code from the file, unlike a pickle):

    {"format": "pulse_teach.generator/1", "config": Generator(**config) arguments,
     "state_dict": float16 tensors, "meta": JSON-like dict (training distribution, steps, wall time, ...)}

    save_generator("faces64.pt", G_ema, {"skin_tone": "balanced"})
    G = load_generator("faces64")            # a bundled name, or a path to a file like the one above
    list_models()                            # {"faces64": True, "faces64-skewed": False}
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .storage import atomic_path
from .stylegan2 import Generator

FORMAT = "pulse_teach.generator/1"
MODELS_DIR = Path(__file__).resolve().parents[1] / "data" / "models"  # bundled weights, in the repository


@dataclass(frozen=True)
class ModelSource:
    """Where a named model comes from. Only "bundled" (a file in MODELS_DIR) exists so far."""

    kind: str  # "bundled"; downloads and NVIDIA pickles will add their own kinds
    file: str  # file name under MODELS_DIR
    description: str


KNOWN_MODELS: dict[str, ModelSource] = {
    "faces64": ModelSource("bundled", "faces64.pt",
                           "64x64 cartoon faces, skin tones balanced (50 % light, 50 % dark)"),
    "faces64-skewed": ModelSource("bundled", "faces64-skewed.pt",
                                  "64x64 cartoon faces trained on 90 % light / 10 % dark skin tones"),
}


def model_path(name: str) -> Path:
    """The local file of a known model name (which may not exist yet)."""
    source = KNOWN_MODELS[name]
    if source.kind != "bundled":
        raise NotImplementedError(f"model source kind {source.kind!r} is not supported yet")
    return MODELS_DIR / source.file


def list_models() -> dict[str, bool]:
    """Every known model name -> whether its weights are present on this machine."""
    return {name: model_path(name).is_file() for name in KNOWN_MODELS}


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


def read_export(path: Path, fmt: str) -> tuple[dict, dict, dict]:
    """(config, float32 state_dict, meta) of a ``write_export`` file, refusing any other format or code."""
    payload = torch.load(path, map_location="cpu", weights_only=True)  # refuses code and arbitrary objects
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a pulse_teach export of format {fmt!r}, found {found!r}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    return payload["config"], state, payload.get("meta", {})


def save_generator(path: str | os.PathLike, generator: Generator, meta: dict | None = None) -> Path:
    """Write the generator's config and float16 weights (about 2 bytes per parameter), atomically."""
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a pulse_teach.stylegan2.Generator, got {type(generator).__name__}")
    return write_export(path, FORMAT, generator, generator.config, meta)


def load_generator(name_or_path: str | os.PathLike, device: str | torch.device | None = None) -> Generator:
    """A known model name (see ``list_models``) or a path to a ``save_generator`` file -> float32 Generator.

    Returned in eval mode with gradients off (PULSE differentiates w.r.t. latents, not weights); the
    file's meta is kept as ``generator.meta``.
    """
    name = str(name_or_path)
    if name in KNOWN_MODELS:
        path = model_path(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"model {name!r} has not been trained and bundled yet (expected {path}); "
                f"train it with `python -m pulse_teach train` and export it there. Present: "
                f"{[n for n, ok in list_models().items() if ok] or 'none'}")
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ValueError(f"unknown model {name!r}: expected one of {list(KNOWN_MODELS)} "
                             f"or the path of a file written by save_generator")
    config, state, meta = read_export(path, FORMAT)
    generator = Generator(**config)
    generator.load_state_dict(state)
    generator.meta = meta
    return generator.to(device or "cpu").eval().requires_grad_(False)
