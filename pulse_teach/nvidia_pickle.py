"""Read NVIDIA's StyleGAN2 network pickles without running (or even importing) NVIDIA's code.

A plain ``pickle.load`` of an NVIDIA ``.pkl`` executes the Python source embedded in the file
(``module_src``) and needs NVIDIA's ``dnnlib``/``torch_utils`` packages. This module unpickles with an
explicit allow-list of globals instead: each persistent network object becomes an inert
``PersistentStub`` (class name + state; the source string is dropped unread), every tensor is rebuilt
from a storage that ``torch.load(weights_only=True)`` decoded, and any other global is refused.

    tensors, attrs, info = read_network_pickle("ffhq.pkl")     # G_ema's state_dict, per-layer attributes
    G = generator_from_network_pickle("ffhq.pkl")              # a pulse_teach.stylegan2.Generator

Format and forward pass: ../shared/docs/stylegan2_checkpoints.md §3-§5 (written from NVIDIA's docs,
no NVIDIA code here).
"""
from __future__ import annotations

import io
import math
import os
import pickle
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from .stylegan2 import Generator

PERSISTENCE_VERSION = 6
STYLEGAN2_CLASSES = {"Generator", "MappingNetwork", "FullyConnectedLayer", "SynthesisNetwork", "SynthesisBlock",
                     "SynthesisLayer", "ToRGBLayer"}
NUMERIC_DTYPE_KINDS = "biufc"  # bool, int, uint, float, complex: never object dtypes


class PersistentStub:
    """What NVIDIA's ``_reconstruct_persistent_obj(meta)`` becomes here: a class name and a state, no code."""

    __slots__ = ("class_name", "version", "state")

    def __init__(self, class_name: str, version: int, state: dict):
        self.class_name, self.version, self.state = class_name, version, state

    def __setstate__(self, state):  # a BUILD opcode aimed at a stub is not something NVIDIA writes
        raise pickle.UnpicklingError("refused: BUILD on a persistent object")

    def __repr__(self) -> str:
        return f"PersistentStub({self.class_name})"


class EasyDictStub(dict):
    """Stands in for ``dnnlib.util.EasyDict`` (a dict with attribute access): plain data only."""


def _reconstruct_persistent_obj(meta: Any) -> PersistentStub:
    """Replacement for NVIDIA's reconstructor: keeps class_name, version and state; never reads module_src."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError(f"persistent object meta must be a dict with type 'class', got "
                                     f"{type(meta).__name__} {meta.get('type') if isinstance(meta, dict) else ''!r}")
    version, class_name, state = meta.get("version"), meta.get("class_name"), meta.get("state")
    if version != PERSISTENCE_VERSION:
        raise pickle.UnpicklingError(f"unsupported persistence version {version!r} (expected {PERSISTENCE_VERSION})")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise pickle.UnpicklingError(f"persistent object needs a str class_name and a dict state, got "
                                     f"{type(class_name).__name__} and {type(state).__name__}")
    return PersistentStub(class_name, version, state)  # meta["module_src"] is dropped without being looked at


def _load_storage(blob: Any) -> torch.TypedStorage:
    """Replacement for ``torch.storage._load_from_bytes``: decode with torch's weights-only unpickler."""
    if not isinstance(blob, (bytes, bytearray)):
        raise pickle.UnpicklingError(f"storage blob must be bytes, got {type(blob).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TypedStorage deprecation notice
        try:
            storage = torch.load(io.BytesIO(bytes(blob)), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError) as error:  # keep only torch's reason, not its advice
            reason = next((line.strip() for line in str(error).splitlines() if "GLOBAL" in line), "not a storage")
            raise pickle.UnpicklingError(f"refused storage blob ({reason}); nothing from it was executed") from None
    if not isinstance(storage, torch.TypedStorage):
        raise pickle.UnpicklingError(f"storage blob must hold one storage, got {type(storage).__name__}")
    return storage


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any) -> torch.Tensor:
    """Replacement for ``torch._utils._rebuild_tensor_v2``; requires_grad, hooks and metadata are ignored."""
    if not isinstance(storage, torch.TypedStorage):
        raise pickle.UnpicklingError(f"tensor storage must come from a storage blob, got {type(storage).__name__}")
    if not (isinstance(offset, int) and isinstance(size, tuple) and isinstance(stride, tuple)
            and all(isinstance(v, int) for v in (*size, *stride))):
        raise pickle.UnpicklingError("tensor offset must be an integer, size and stride tuples of integers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        untyped, dtype = storage._untyped_storage, storage.dtype
    return torch.empty(0, dtype=dtype).set_(untyped, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, *_ignored: Any) -> torch.Tensor:
    """Replacement for ``torch._utils._rebuild_parameter[_with_state]``: the plain tensor."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError(f"parameter data must be a tensor, got {type(data).__name__}")
    return data


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """``numpy.dtype`` restricted to numeric type codes such as 'f8' (NVIDIA stores float64 gains)."""
    if not isinstance(spec, str) or np.dtype(spec).kind not in NUMERIC_DTYPE_KINDS:
        raise pickle.UnpicklingError(f"refused numpy dtype {spec!r}: only numeric dtypes are allowed")
    return np.dtype(spec)


def _numpy_scalar(dtype: Any, data: Any = None) -> int | float | complex | bool:
    """``numpy...multiarray.scalar``: a Python number from (dtype, raw bytes); object dtypes refused."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.kind not in NUMERIC_DTYPE_KINDS:
        raise pickle.UnpicklingError(f"refused numpy scalar of dtype {dtype!r}")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("numpy scalar needs exactly itemsize raw bytes")
    return np.frombuffer(data, dtype=dtype)[0].item()


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDictStub,
    ("dnnlib", "EasyDict"): EasyDictStub,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,  # protocol <= 3 (Python 3.7, NVIDIA's 2020-21 files) pickles sets as set([...])
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``ALLOWED_GLOBALS`` (to our inert replacements); refuses the rest."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            pass
        if module.startswith("dnnlib.tflib"):
            raise pickle.UnpicklingError(
                f"this is a TensorFlow StyleGAN pickle (it references {module}.{name}); it is not supported: "
                "use NVIDIA's PyTorch conversion (e.g. the ffhq-1024 model, stylegan2-ada-pytorch ffhq.pkl)")
        raise pickle.UnpicklingError(f"refused global {module}.{name}: not on the allow-list for NVIDIA network "
                                     "pickles (nothing from the file was executed)")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused persistent id: NVIDIA network pickles do not use them")


def restricted_load(file: BinaryIO) -> Any:
    """Unpickle an NVIDIA network pickle into plain data and ``PersistentStub`` objects; never runs its code."""
    return RestrictedUnpickler(file).load()


def walk_stub(root: PersistentStub) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """(state_dict in nn.Module order, {module path: {"class_name", public attributes}}) of a stub tree."""
    tensors: dict[str, torch.Tensor] = {}
    attrs: dict[str, dict] = {}
    seen: set[int] = set()

    def visit(stub: Any, prefix: str) -> None:
        if not isinstance(stub, PersistentStub):
            raise ValueError(f"{prefix or 'root'} is a {type(stub).__name__}, expected an NVIDIA network object")
        if id(stub) in seen or prefix.count(".") > 16:
            raise ValueError(f"{prefix}: the module tree has a cycle or is implausibly deep")
        seen.add(id(stub))
        state = stub.state
        for key in ("_parameters", "_buffers", "_modules"):
            if not isinstance(state.get(key) or {}, dict):
                raise ValueError(f"{prefix}{key} is a {type(state[key]).__name__}, expected a dict")
        skip = set(state.get("_non_persistent_buffers_set") or ())
        for key, group in (("_parameters", None), ("_buffers", skip)):
            for name, tensor in (state.get(key) or {}).items():
                if tensor is None or (group and name in group):
                    continue
                if not isinstance(tensor, torch.Tensor):
                    raise ValueError(f"{prefix}{name} is a {type(tensor).__name__}, expected a tensor")
                tensors[prefix + name] = tensor
        attrs[prefix.rstrip(".")] = {"class_name": stub.class_name, **{
            k: v for k, v in state.items() if not k.startswith("_") and k != "training"}}
        for name, child in (state.get("_modules") or {}).items():
            if child is not None:
                visit(child, f"{prefix}{name}.")

    visit(root, "")
    return tensors, attrs


def read_network_pickle(path_or_file: str | os.PathLike | BinaryIO, key: str = "G_ema"
                        ) -> tuple[dict[str, torch.Tensor], dict[str, dict], dict]:
    """(tensors, per-layer attributes, info) of network ``key`` in an NVIDIA pickle, without its code.

    info holds the root's ``num_ws``, ``init_kwargs`` (a hint only: defaults live in module_src) and
    the class names found, for error messages.
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as file:
            data = restricted_load(file)
    else:
        data = restricted_load(path_or_file)
    if not isinstance(data, dict) or key not in data:
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"expected an NVIDIA network pickle: a dict with {key!r}, found {found}")
    root = data[key]
    if not isinstance(root, PersistentStub):
        raise ValueError(f"{key} is a {type(root).__name__}, expected an NVIDIA network object")
    tensors, attrs = walk_stub(root)
    classes = sorted({a["class_name"] for a in attrs.values()})
    info = {"num_ws": attrs[""].get("num_ws"), "init_kwargs": dict(root.state.get("_init_kwargs") or {}),
            "classes": classes}
    return tensors, attrs, info


def generator_config(tensors: dict[str, torch.Tensor], attrs: dict[str, dict], info: dict) -> dict:
    """``Generator(**config)`` arguments that reproduce an NVIDIA StyleGAN2 G, read from its tensors and layers."""
    unknown = set(info["classes"]) - STYLEGAN2_CLASSES
    if "SynthesisInput" in unknown or any(k == "synthesis.input" or k.startswith("synthesis.L") for k in attrs):
        raise ValueError(f"this is a StyleGAN3 generator (classes {info['classes']}); only StyleGAN2 is supported")
    if unknown or attrs[""]["class_name"] != "Generator":
        raise ValueError(f"not a StyleGAN2 generator: root {attrs['']['class_name']!r}, "
                         f"unknown classes {sorted(unknown)} (found {info['classes']})")
    if "mapping.embed.weight" in tensors:
        raise ValueError("conditional generators (c_dim > 0, mapping.embed) are not supported")
    resolutions = sorted(int(k.split(".")[1][1:]) for k in attrs if k.count(".") == 1 and k.startswith("synthesis.b"))
    if not resolutions or resolutions[0] != 4:
        raise ValueError(f"no synthesis blocks b4 ... found in the generator (layers: {sorted(attrs)[:8]} ...)")
    resolution = resolutions[-1]
    channels = {r: tensors[f"synthesis.b{r}.conv1.weight"].shape[0] for r in resolutions}
    channel_max = max(channels.values())
    below = [r for r in resolutions if channels[r] < channel_max]
    channel_base = channels[below[0]] * below[0] if below else channel_max * resolution
    num_mapping = sum(1 for k in attrs if k.startswith("mapping.fc") and k.count(".") == 1)
    fc0 = attrs["mapping.fc0"]
    lr_multiplier = float(fc0.get("bias_gain", fc0.get("lr_multiplier", 0.01)))
    clamps = {k: a.get("conv_clamp") for k, a in attrs.items() if a["class_name"] in ("SynthesisLayer", "ToRGBLayer")}
    distinct = {None if c is None else float(c) for c in clamps.values()}
    if len(distinct) != 1:
        raise ValueError(f"layers disagree on conv_clamp ({sorted(map(str, distinct))}); one value is supported")
    z_dim, w_dim = tensors["mapping.fc0.weight"].shape[1], tensors[f"mapping.fc{num_mapping - 1}.weight"].shape[0]
    return dict(resolution=resolution, z_dim=int(z_dim), w_dim=int(w_dim), channel_base=int(channel_base),
                channel_max=int(channel_max), num_mapping_layers=num_mapping, mapping_lr_multiplier=lr_multiplier,
                conv_clamp=distinct.pop(), img_channels=int(tensors[f"synthesis.b{resolution}.torgb.weight"].shape[0]))


def build_generator(config: dict, tensors: dict[str, torch.Tensor], source: str,
                    num_ws: int | None = None) -> Generator:
    """Generator(**config) with exactly ``tensors`` loaded (names and shapes checked), in eval mode, no grads."""
    generator = Generator(**config)
    if num_ws is not None and int(num_ws) != generator.num_ws:
        raise ValueError(f"{source}: num_ws {num_ws} does not match {generator.num_ws} for resolution {config['resolution']}")
    expected = generator.state_dict()
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{source}: tensors do not match a StyleGAN2 generator {config}: "
                         f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                         f"unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(f"{source}: {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}")
    generator.load_state_dict({k: v.float() for k, v in tensors.items()})
    return generator.eval().requires_grad_(False)


def generator_from_network_pickle(path_or_file: str | os.PathLike | BinaryIO) -> Generator:
    """Build a float32 ``Generator`` from G_ema of an NVIDIA StyleGAN2 pickle (ADA-PyTorch or StyleGAN3 codebase)."""
    source = str(path_or_file) if isinstance(path_or_file, (str, os.PathLike)) else "network pickle"
    tensors, attrs, info = read_network_pickle(path_or_file)
    config = generator_config(tensors, attrs, info)
    generator = build_generator(config, tensors, source, info["num_ws"])
    generator.meta = {"source": Path(source).name, "format": "nvidia-network-pickle",
                      "nvidia_init_kwargs": _plain(info["init_kwargs"])}
    return generator


def _plain(value: Any) -> Any:
    """JSON-like copy of init_kwargs (EasyDict stubs become dicts; anything else becomes its repr)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return repr(value)
