"""Generator files from elsewhere: which format a file is in, and rosinality's ``.pt`` layout.

Three formats build a ``pulse_teach.stylegan2.Generator``, none of them by running code from the file:

- ``nvidia-pickle``: an NVIDIA network pickle (``.pkl``, stylegan2-ada-pytorch / stylegan3), read by
  ``nvidia_pickle``'s restricted unpickler;
- ``rosinality``: a ``torch.save`` dict with ``g_ema`` (rosinality/stylegan2-pytorch), renamed and
  reshaped to NVIDIA's names (docs/stylegan2_checkpoints.md §6);
- ``pulse_teach``: our own export (``models.save_generator``).

    read_generator_file("stylegan2-ffhq-config-f.pt")       # format detected from the content
"""
from __future__ import annotations

import argparse
import math
import os
import re
import zipfile
from pathlib import Path

import torch

from .nvidia_pickle import build_generator, generator_from_network_pickle
from .stylegan2 import Generator, setup_filter

FORMATS = ("pulse_teach", "nvidia-pickle", "rosinality")
_SKIPPED_ROSINALITY = re.compile(r".*\.kernel$")  # blur / upsample filters: derived, never learned


_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save before torch 1.6


def detect_format(path: str | os.PathLike) -> str:
    """'pulse_teach', 'rosinality' or 'nvidia-pickle', from the file's content, not its name."""
    return _read(Path(path))[0]


def read_generator_file(path: str | os.PathLike) -> Generator:
    """Any supported generator file -> float32 Generator in eval mode (see ``FORMATS``)."""
    path = Path(path)
    fmt, payload = _read(path)
    if fmt == "nvidia-pickle":
        return generator_from_network_pickle(path)
    if fmt == "rosinality":
        return generator_from_rosinality(path, payload)
    from .models import FORMAT, read_export  # models imports this module: import here, not at the top

    config, state, meta = read_export(path, FORMAT, payload)  # loaded once, by _read
    generator = Generator(**config)
    generator.load_state_dict(state)
    generator.meta = meta
    return generator.eval().requires_grad_(False)


def _read(path: Path) -> tuple[str, object]:
    """(format, torch.save payload or None for NVIDIA pickles, which are read later by the restricted unpickler)."""
    with open(path, "rb") as file:
        head = file.read(len(_LEGACY_TORCH_MAGIC))
    if not zipfile.is_zipfile(path) and not head.startswith(_LEGACY_TORCH_MAGIC):
        if head[:1] == b"\x80":  # a pickle (protocol 2+): NVIDIA's network pickles are plain pickles
            return "nvidia-pickle", None
        raise ValueError(f"{path} is neither a torch.save file nor a pickle (starts with {head[:4]!r})")
    payload = _load_torch_safe(path)
    if isinstance(payload, dict) and str(payload.get("format", "")).startswith("pulse_teach."):
        return "pulse_teach", payload
    if isinstance(payload, dict) and "g_ema" in payload:
        return "rosinality", payload
    found = sorted(map(str, payload))[:10] if isinstance(payload, dict) else type(payload).__name__
    raise ValueError(f"{path} is a torch.save file but not a pulse_teach export nor a rosinality checkpoint "
                     f"(a dict with 'g_ema'); found {found}")


def _load_torch_safe(path: Path) -> object:
    """torch.load(weights_only=True), also allowing argparse.Namespace (the ``args`` of trained checkpoints)."""
    with torch.serialization.safe_globals([argparse.Namespace]):  # a plain attribute bag: builds no code
        return torch.load(path, map_location="cpu", weights_only=True)


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


def generator_from_rosinality(path: str | os.PathLike, payload: object = None) -> Generator:
    """Build a Generator from a rosinality ``.pt`` (converted from TF, or trained with its train.py)."""
    payload = _load_torch_safe(Path(path)) if payload is None else payload
    ros = payload["g_ema"]
    num_blocks = sum(1 for k in ros if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)) + 1
    tensors = {}
    for key, tensor in ros.items():
        mapped = _rosinality_to_nvidia_name(key, num_blocks)
        if mapped:
            tensors[mapped[0]] = _TRANSFORMS[mapped[1]](tensor)
    if "latent_avg" in payload:
        tensors["mapping.w_avg"] = payload["latent_avg"].reshape(-1)
    resolution = 2 ** (num_blocks + 1)
    for r in [2 ** k for k in range(2, num_blocks + 2)]:  # derived 4x4 filters, the same in every layer
        names = [f"synthesis.b{r}.resample_filter", f"synthesis.b{r}.conv1.resample_filter"]
        names += [f"synthesis.b{r}.conv0.resample_filter"] if r > 4 else []
        tensors.update({n: setup_filter() for n in names})
    if "mapping.w_avg" not in tensors:  # trained checkpoints carry no latent_avg: truncation would be wrong
        tensors["mapping.w_avg"] = torch.zeros(tensors["mapping.fc0.weight"].shape[0])
    channels = {r: tensors[f"synthesis.b{r}.conv1.weight"].shape[0] for r in [2 ** k for k in range(2, num_blocks + 2)]}
    channel_max = max(channels.values())
    below = [r for r in sorted(channels) if channels[r] < channel_max]
    num_mapping = sum(1 for k in tensors if re.fullmatch(r"mapping\.fc\d+\.weight", k))
    config = dict(resolution=resolution, z_dim=int(tensors["mapping.fc0.weight"].shape[1]),
                  w_dim=int(tensors["mapping.fc0.weight"].shape[0]), channel_max=int(channel_max),
                  channel_base=int(channels[below[0]] * below[0] if below else channel_max * resolution),
                  num_mapping_layers=num_mapping, mapping_lr_multiplier=0.01, conv_clamp=None,
                  img_channels=int(tensors[f"synthesis.b{resolution}.torgb.weight"].shape[0]))
    generator = build_generator(config, tensors, str(path))
    generator.meta = {"source": Path(path).name, "format": "rosinality", "has_latent_avg": "latent_avg" in payload}
    return generator


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
