"""Generator files from elsewhere: which format a file is in, and rosinality's ``.pt`` layout.

Four formats build a ``pulse_teach.stylegan2.Generator``, none of them by running code from the file:

- ``nvidia-pickle``: an NVIDIA network pickle (``.pkl``, stylegan2-ada-pytorch / stylegan3), read by
  ``nvidia_pickle``'s restricted unpickler;
- ``rosinality``: rosinality/stylegan2-pytorch weights, renamed and reshaped to NVIDIA's names
  (docs/stylegan2_checkpoints.md §6): a checkpoint with ``g_ema`` (converted or trained), one with only
  ``g``, a bare ``g_ema`` state dict, or one wrapped with a prefix (pixel2style2pixel's ``decoder.``);
- ``state-dict``: a bare generator state dict in NVIDIA's (and our ``Generator``'s) names;
- ``pulse_teach``: our own export (``save_generator``, below), one ``torch.save`` file of plain data only, so
  it loads with ``torch.load(weights_only=True)``, which cannot run code from the file:
  ``{"format": "pulse_teach.generator/1", "config": Generator(**config) arguments, "state_dict": float16
  tensors, "meta": JSON-like dict}``. The attribute probe uses the same layout (``write_export``).

State a file may lack (noise maps, w_avg, filters) is rebuilt and listed in ``generator.meta["notices"]``.

    read_generator_file("stylegan2-ffhq-config-f.pt")       # format detected from the content
    save_generator("faces64.pt", G_ema, {"skin_tone": "balanced"})
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import zipfile
from pathlib import Path

import torch

from .latent import fit_gaussian, fit_to_dict
from .nvidia_pickle import build_generator, config_from_tensors, describe, generator_from_network_pickle
from .storage import atomic_path
from .stylegan2 import Generator, setup_filter

FORMAT = "pulse_teach.generator/1"  # our export (save_generator)

FORMATS = ("pulse_teach", "nvidia-pickle", "rosinality", "state-dict")
_SKIPPED_ROSINALITY = re.compile(r".*\.kernel$")  # blur / upsample filters: derived, never learned


_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save before torch 1.6
# Where generator weights sit in the dicts people save, the EMA copy first (what StyleGAN2 samples with).
_EMA_KEYS, _TRAINING_KEYS = ("g_ema", "G_ema"), ("g", "G", "generator", "state_dict", "model")
# A key every StyleGAN2 generator has, per layout, and the prefix some wrappers add (psp's 'decoder.', DataParallel's 'module.').
_MARKERS = {"rosinality": re.compile(r"(.*?)style\.1\.weight"), "state-dict": re.compile(r"(.*?)mapping\.fc0\.weight")}
_OTHER_FILES = {b"\x89PNG": "a PNG picture", b"\xff\xd8\xff": "a JPEG picture", b"GIF8": "a GIF picture",
                b"<!DO": "a web page (HTML): a failed or blocked download?", b"<htm": "a web page (HTML): a failed or "
                "blocked download?", b"\x1f\x8b": "gzip-compressed: unpack it first", b"PK": "a zip archive"}


def detect_format(path: str | os.PathLike) -> str:
    """'pulse_teach', 'rosinality', 'state-dict' (a bare generator state dict in NVIDIA's names) or 'nvidia-pickle'."""
    return _read(Path(path))[0]


def read_generator_file(path: str | os.PathLike) -> Generator:
    """Any supported generator file -> float32 Generator in eval mode (see ``FORMATS``).

    Raises ValueError (or pickle.UnpicklingError for refused content) with one line naming the file and
    what was found in it. What had to be rebuilt is listed in ``generator.meta["notices"]``.
    """
    path = Path(path)
    fmt, payload = _read(path)
    if fmt == "nvidia-pickle":
        return generator_from_network_pickle(path)
    if fmt in ("rosinality", "state-dict"):
        return generator_from_state_dict(path, payload)
    config, state, meta = read_export(path, FORMAT, payload)  # loaded once, by _read
    generator = build_generator(config, state, str(path))
    notices = generator.meta["notices"]
    generator.meta = {**meta, **({"notices": notices} if notices else {})}  # our own meta, as it was saved
    return generator


def _read(path: Path) -> tuple[str, object]:
    """(format, payload): for state dicts a ``found_generator`` tuple; None for NVIDIA pickles (read later)."""
    with open(path, "rb") as file:
        head = file.read(len(_LEGACY_TORCH_MAGIC))
    if not head:
        raise ValueError(f"{path}: empty file (0 bytes), not a generator")
    if not zipfile.is_zipfile(path) and not head.startswith(_LEGACY_TORCH_MAGIC):
        if head[:1] == b"\x80":  # a pickle (protocol 2+): NVIDIA's network pickles are plain pickles
            return "nvidia-pickle", None
        what = next((kind for magic, kind in _OTHER_FILES.items() if head.startswith(magic)), "something else")
        raise ValueError(f"{path}: not a generator file; it is neither a PyTorch checkpoint (.pt, .pth) nor a "
                         f"network pickle (.pkl), but {what}")
    payload = _load_torch_safe(path)
    if isinstance(payload, dict) and str(payload.get("format", "")).startswith("pulse_teach."):
        return "pulse_teach", payload
    found = found_generator(payload)
    if found is None:
        raise ValueError(f"{path}: no StyleGAN2 generator in this PyTorch checkpoint; it holds {describe(payload)} "
                         "(expected a rosinality checkpoint with 'g_ema', a bare generator state dict, or a "
                         "pulse_teach export)")
    return found[0], found


def found_generator(payload: object) -> tuple[str, dict, str | None, object] | None:
    """Find generator weights in a loaded checkpoint: (layout, state dict, where, latent_avg) or None.

    Looks at the dict itself (a bare state dict) and under the keys people wrap it in, the EMA copy first;
    layout is 'rosinality' or 'state-dict' (NVIDIA's names, as ``Generator.state_dict()``); 'where' is the
    wrapper key (None when bare); a prefix such as 'decoder.' or 'module.' is removed.
    """
    if not isinstance(payload, dict):
        return None
    candidates = [(key, payload.get(key)) for key in _EMA_KEYS] + [(None, payload)]
    candidates += [(key, payload.get(key)) for key in _TRAINING_KEYS]
    for where, state in candidates:
        if not isinstance(state, dict):
            continue
        for layout, marker in _MARKERS.items():
            match = next((m for k in state if isinstance(k, str) and (m := marker.fullmatch(k))), None)
            if match is None:
                continue
            prefix = match[1]
            tensors = {k[len(prefix):]: v for k, v in state.items()
                       if isinstance(k, str) and k.startswith(prefix) and isinstance(v, torch.Tensor)}
            return layout, tensors, where, payload.get("latent_avg") if where is not None or prefix else None
    return None


def _load_torch_safe(path: Path) -> object:
    """torch.load(weights_only=True), also allowing argparse.Namespace (the ``args`` of trained checkpoints)."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):  # a plain attribute bag: builds no code
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # torch's refusal is a paragraph; keep the line naming what it refused
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "refused")
        raise pickle.UnpicklingError(f"{path}: holds Python objects a safe load will not build ({reason}); nothing "
                                     "from it was run") from None
    except (RuntimeError, EOFError) as error:
        raise ValueError(f"{path}: a damaged or truncated PyTorch checkpoint ({' '.join(str(error).split())[:160]})") \
            from None


def _rosinality_to_nvidia_name(key: str, num_blocks: int) -> tuple[str, str] | None:
    """rosinality key -> (NVIDIA key, transform) or None to skip. Raises on keys it does not know."""
    if _SKIPPED_ROSINALITY.match(key):
        return None
    if m := re.fullmatch(r"style\.(\d+)\.(weight|bias)", key):
        return f"mapping.fc{int(m[1]) - 1}.{m[2]}", "none"
    if key == "input.input":
        return "synthesis.b4.const", "squeeze0"
    if m := re.fullmatch(r"noises\.noise_(\d+)", key):
        return f"{_layer_name(int(m[1]))}.noise_const", "squeeze01"
    if m := re.fullmatch(r"(conv1|convs\.(\d+))\.(.+)", key):
        layer = _layer_name(0 if m[1] == "conv1" else int(m[2]) + 1)
        rest = {"conv.weight": ("weight", "squeeze0"), "conv.modulation.weight": ("affine.weight", "none"),
                "conv.modulation.bias": ("affine.bias", "none"), "noise.weight": ("noise_strength", "scalar"),
                "activate.bias": ("bias", "none")}.get(m[3])
        if rest:
            return f"{layer}.{rest[0]}", rest[1]
    if m := re.fullmatch(r"(to_rgb1|to_rgbs\.(\d+))\.(.+)", key):
        block = "synthesis.b4" if m[1] == "to_rgb1" else f"synthesis.b{2 ** (int(m[2]) + 3)}"
        rest = {"conv.weight": ("weight", "squeeze0"), "conv.modulation.weight": ("affine.weight", "none"),
                "conv.modulation.bias": ("affine.bias", "none"), "bias": ("bias", "flatten")}.get(m[3])
        if rest:
            return f"{block}.torgb.{rest[0]}", rest[1]
    raise ValueError(f"unknown key {key!r} in a rosinality generator (blocks: {num_blocks})")


def _layer_name(index: int) -> str:
    """Synthesis layer number (0 = b4.conv1, 1 = b8.conv0, 2 = b8.conv1, ...) -> NVIDIA module path."""
    if index == 0:
        return "synthesis.b4.conv1"
    j = (index - 1) // 2
    return f"synthesis.b{2 ** (j + 3)}.conv{(index - 1) % 2}"


_TRANSFORMS = {
    "none": lambda t: t,
    "squeeze0": lambda t: t.squeeze(0),           # (1, C, 4, 4) -> (C, 4, 4); (1, O, I, k, k) -> (O, I, k, k)
    "squeeze01": lambda t: t.reshape(t.shape[2:]),  # (1, 1, H, W) -> (H, W)
    "scalar": lambda t: t.reshape(()),            # (1,) -> ()
    "flatten": lambda t: t.reshape(-1),           # (1, 3, 1, 1) -> (3,)
}


def generator_from_state_dict(path: str | os.PathLike, found: tuple | None = None) -> Generator:
    """Build a Generator from a rosinality ``.pt`` (converted, trained, or a bare g_ema state dict) or a bare
    state dict in NVIDIA's names; ``found`` is ``found_generator``'s answer when the file was already read.

    Raises ValueError (naming the file) when it holds no StyleGAN2 generator or one that does not fit.
    """
    path = Path(path)
    if found is None:
        found = found_generator(_load_torch_safe(path))
        if found is None:
            raise ValueError(f"{path}: no StyleGAN2 generator in this PyTorch checkpoint")
    layout, state, where, latent_avg = found
    notices = []
    if where in _TRAINING_KEYS[:2]:
        notices.append(f"no EMA generator (g_ema) in the file: using the training generator {where!r}, whose "
                       "pictures are usually somewhat worse")
    if layout == "rosinality":
        tensors = _from_rosinality(state, path)
    else:
        tensors = dict(state)
        notices.append("a bare state dict does not record conv_clamp or the mapping's learning-rate multiplier: "
                       "assumed none and 0.01, StyleGAN2's defaults (conv_clamp only matters where activations "
                       "exceed it)")
    if latent_avg is not None:
        rows = torch.as_tensor(latent_avg).reshape(-1, tensors["mapping.fc0.weight"].shape[0])  # psp: one per w
        tensors["mapping.w_avg"] = rows[0] if torch.equal(rows, rows[:1].expand_as(rows)) else rows.mean(0)
    try:
        config = config_from_tensors(tensors)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    generator = build_generator(config, tensors, str(path))
    generator.meta.update(format="rosinality" if layout == "rosinality" else "state-dict",
                          has_latent_avg="mapping.w_avg" in tensors)
    generator.meta["notices"][:0] = notices
    return generator


def generator_from_rosinality(path: str | os.PathLike, payload: object = None) -> Generator:
    """Build a Generator from a rosinality ``.pt`` (kept for callers; see ``generator_from_state_dict``)."""
    return generator_from_state_dict(path, None if payload is None else found_generator(payload))


def _from_rosinality(ros: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """rosinality names and shapes -> NVIDIA's; its derived blur / upsample filters are checked, not loaded."""
    num_blocks = sum(1 for k in ros if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)) + 1
    up_kernel = setup_filter() * 4  # rosinality stores its x2 filters times factor**2
    tensors = {}
    for key, tensor in ros.items():
        if _SKIPPED_ROSINALITY.match(key):
            if tuple(tensor.shape) != (4, 4) or not torch.allclose(tensor.float(), up_kernel, atol=1e-6):
                raise ValueError(f"{path}: {key} is not the [1, 3, 3, 1] filter StyleGAN2 uses (shape "
                                 f"{tuple(tensor.shape)}); generators with other blur kernels are not supported")
            continue
        try:
            mapped = _rosinality_to_nvidia_name(key, num_blocks)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        tensors[mapped[0]] = _TRANSFORMS[mapped[1]](tensor)
    return tensors


_TORGB_TO_ROSINALITY = {
    "weight": ("conv.weight", lambda t: t.unsqueeze(0)),    # (3, I, 1, 1) -> (1, 3, I, 1, 1)
    "bias": ("bias", lambda t: t.reshape(1, -1, 1, 1)),    # (3,) -> (1, 3, 1, 1)
    "affine.weight": ("conv.modulation.weight", lambda t: t),
    "affine.bias": ("conv.modulation.bias", lambda t: t),
}
_LAYER_TO_ROSINALITY = {
    "weight": ("conv.weight", lambda t: t.unsqueeze(0)),    # (O, I, 3, 3) -> (1, O, I, 3, 3)
    "affine.weight": ("conv.modulation.weight", lambda t: t),
    "affine.bias": ("conv.modulation.bias", lambda t: t),
    "noise_strength": ("noise.weight", lambda t: t.reshape(1)),  # () -> (1,)
    "bias": ("activate.bias", lambda t: t),
}


def to_rosinality(generator: Generator) -> dict:
    """``{"g_ema": state_dict, "latent_avg": w_avg}`` in rosinality's layout (the inverse of the loader)."""
    out = {}
    up_kernel = setup_filter() * 4  # rosinality stores its up-sampling filters times factor**2
    for name, tensor in generator.state_dict().items():
        parts = name.split(".")
        if name.endswith("resample_filter") or name == "mapping.w_avg":
            continue
        if parts[0] == "mapping":
            out[f"style.{int(parts[1][2:]) + 1}.{parts[2]}"] = tensor
            continue
        res, layer, field = int(parts[1][1:]), parts[2], ".".join(parts[3:])
        k = int(math.log2(res))
        if layer == "const":
            out["input.input"] = tensor.unsqueeze(0)
            continue
        if layer == "torgb":
            base = "to_rgb1" if res == 4 else f"to_rgbs.{k - 3}"
            ros_name, transform = _TORGB_TO_ROSINALITY[field]
            out[f"{base}.{ros_name}"] = transform(tensor)
            if res > 4 and field == "weight":
                out[f"{base}.upsample.kernel"] = up_kernel
            continue
        index = 0 if res == 4 else 2 * (k - 3) + 1 + int(layer[-1])  # synthesis layer number
        if field == "noise_const":
            out[f"noises.noise_{index}"] = tensor.reshape(1, 1, *tensor.shape)  # (1, 1, H, W)
            continue
        base = "conv1" if index == 0 else f"convs.{index - 1}"
        ros_name, transform = _LAYER_TO_ROSINALITY[field]
        out[f"{base}.{ros_name}"] = transform(tensor)
        if layer == "conv0" and field == "weight":
            out[f"{base}.conv.blur.kernel"] = up_kernel
    return {"g_ema": {k: v.detach().clone() for k, v in out.items()},
            "latent_avg": generator.mapping.w_avg.detach().clone()}


def write_export(path: str | os.PathLike, fmt: str, module: torch.nn.Module, config: dict,
                 meta: dict | None = None) -> Path:
    """Write {format, config, float16 state_dict, meta} atomically: plain data that loads with weights_only=True.

    ``meta`` must be JSON-like (dicts, lists, strings, numbers, None): it is stored as such so the file
    keeps loading with ``weights_only=True``. Generators and the attribute probe share this format.

    Raises TypeError when ``meta`` is not JSON-serialisable.
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
    """(config, float32 state_dict, meta) of a ``write_export`` file (or its already loaded ``payload``); no code runs.

    Raises ValueError when the file is not a ``write_export`` file of format ``fmt``.
    """
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

    Raises TypeError for anything but a ``pulse_teach.stylegan2.Generator``.
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
