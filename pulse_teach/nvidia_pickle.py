"""Read NVIDIA's StyleGAN2 network pickles without running (or even importing) NVIDIA's code.

A plain ``pickle.load`` of an NVIDIA ``.pkl`` executes the Python source embedded in the file
(``module_src``) and needs NVIDIA's ``dnnlib``/``torch_utils`` packages. This module unpickles with an
explicit allow-list of globals instead: each persistent network object becomes an inert
``PersistentStub`` (class name + state; the source string is dropped unread), every tensor is rebuilt
from a storage that ``torch.load(weights_only=True)`` decoded, and any other global is refused.

    tensors, attrs, info = read_network_pickle("ffhq.pkl")     # G_ema's state_dict, per-layer attributes
    G = generator_from_network_pickle("ffhq.pkl")              # a pulse_teach.stylegan2.Generator

Format and forward pass: docs/stylegan2_checkpoints.md §3-§5 (written from NVIDIA's docs,
no NVIDIA code here).
"""
from __future__ import annotations

import io
import math
import os
import pickle
import re
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from .stylegan2 import Generator, setup_filter

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


class NumericArray(np.ndarray):
    """A numpy array rebuilt from a pickle: only numeric dtypes and raw bytes of the exact size are accepted."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("refused numpy array: unexpected pickled state")
        shape, dtype, _fortran, raw = state[-4:]
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise pickle.UnpicklingError("refused numpy array: its shape is not a tuple of sizes")
        if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.kind not in NUMERIC_DTYPE_KINDS:
            raise pickle.UnpicklingError(f"refused numpy array of dtype {dtype!r}: only numbers are allowed")
        if not isinstance(raw, bytes) or len(raw) != math.prod(shape) * dtype.itemsize:
            raise pickle.UnpicklingError("refused numpy array: its data is not raw bytes of the right size")
        super().__setstate__(state)


_NDARRAY = ("numpy", "ndarray")  # what the global numpy.ndarray resolves to: inert, not callable


def _numpy_reconstruct(cls: Any, shape: Any, code: Any) -> NumericArray:
    """``numpy...multiarray._reconstruct(ndarray, (0,), b'b')``: an empty array that BUILD fills (checked)."""
    if cls is not _NDARRAY or shape != (0,) or not isinstance(code, bytes):
        raise pickle.UnpicklingError("refused numpy reconstruction of anything but a plain ndarray")
    return NumericArray((0,), dtype=np.int8)


def _numpy_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """``numpy...numeric._frombuffer`` (pickle protocol 5): numeric dtypes, exact sizes, a copy."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.kind not in NUMERIC_DTYPE_KINDS:
        raise pickle.UnpicklingError(f"refused numpy array of dtype {dtype!r}: only numbers are allowed")
    if not (isinstance(buffer, (bytes, bytearray)) and isinstance(shape, tuple) and order in ("C", "F")
            and all(isinstance(n, int) and n >= 0 for n in shape)
            and len(buffer) == math.prod(shape) * dtype.itemsize):
        raise pickle.UnpicklingError("refused numpy array: its data is not raw bytes of the right size")
    return np.frombuffer(bytes(buffer), dtype=dtype).reshape(shape, order=order).copy()


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode(str, 'latin1')``: how pickle protocol 2 writes bytes (numpy array data); nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refused _codecs.encode: only latin1 text (pickled bytes) is allowed")
    return text.encode("latin1")


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
    ("numpy", "ndarray"): _NDARRAY,  # a marker for _reconstruct's first argument, not the class
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("_codecs", "encode"): _codecs_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``ALLOWED_GLOBALS`` (to our inert replacements); refuses the rest."""

    def find_class(self, module: str, name: str) -> Any:
        """Raises pickle.UnpicklingError for every global not on the allow-list (and names TensorFlow pickles)."""
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
        """Raises pickle.UnpicklingError always: NVIDIA network pickles use no persistent ids."""
        raise pickle.UnpicklingError("refused persistent id: NVIDIA network pickles do not use them")


def restricted_load(file: BinaryIO) -> Any:
    """Unpickle an NVIDIA network pickle into plain data and ``PersistentStub`` objects; never runs its code."""
    return RestrictedUnpickler(file).load()


def walk_stub(root: PersistentStub) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """(state_dict in nn.Module order, {module path: {"class_name", public attributes}}) of a stub tree.

    Raises ValueError (naming the layer) for anything that is not a network layer, or a cyclic tree.
    """
    tensors: dict[str, torch.Tensor] = {}
    attrs: dict[str, dict] = {}
    seen: set[int] = set()

    def visit(stub: Any, prefix: str) -> None:
        if not isinstance(stub, PersistentStub):
            raise ValueError(f"{prefix.rstrip('.') or 'the network'} is {describe(stub)}, expected an NVIDIA network layer")
        if id(stub) in seen or prefix.count(".") > 16:
            raise ValueError(f"{prefix}: the module tree has a cycle or is implausibly deep")
        seen.add(id(stub))
        state = stub.state
        for key in ("_parameters", "_buffers", "_modules"):
            if not isinstance(state.get(key) or {}, dict):
                raise ValueError(f"{prefix}{key} is {describe(state[key])}, expected a dict")
        skip = set(state.get("_non_persistent_buffers_set") or ())
        for key, group in (("_parameters", None), ("_buffers", skip)):
            for name, tensor in (state.get(key) or {}).items():
                if tensor is None or (group and name in group):
                    continue
                if not isinstance(tensor, torch.Tensor):
                    raise ValueError(f"{prefix}{name} is {describe(tensor)}, expected a tensor")
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

    info holds the root's ``num_ws``, ``init_kwargs`` (a hint only: defaults live in module_src), the
    class names found, for error messages, and ``notices``. A file holding one bare network, or a
    snapshot without "G_ema" but with "G" (the training copy, said in a notice), is read too. Raises ValueError
    for a file that is not an NVIDIA network pickle, pickle.UnpicklingError for one that holds code.
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as file:
            data = restricted_load(file)
    else:
        data = restricted_load(path_or_file)
    notices = []
    if isinstance(data, PersistentStub):  # pickle.dump(G_ema) on its own
        data = {key: data}
    if isinstance(data, dict) and key not in data and key == "G_ema" and isinstance(data.get("G"), PersistentStub):
        key = "G"
        notices.append("no EMA generator (G_ema) in the file: using the training generator 'G', whose pictures "
                       "are usually somewhat worse")
    if not isinstance(data, dict) or key not in data:
        raise ValueError(f"not an NVIDIA network pickle: expected a dict with {key!r}, found {describe(data)}")
    root = data[key]
    if not isinstance(root, PersistentStub):
        raise ValueError(f"not an NVIDIA network pickle: its {key!r} is {describe(root)}, not a network")
    tensors, attrs = walk_stub(root)
    classes = sorted({a["class_name"] for a in attrs.values()})
    info = {"num_ws": attrs[""].get("num_ws"), "init_kwargs": dict(root.state.get("_init_kwargs") or {}),
            "classes": classes, "notices": notices}
    return tensors, attrs, info


def generator_config(tensors: dict[str, torch.Tensor], attrs: dict[str, dict], info: dict) -> dict:
    """``Generator(**config)`` arguments that reproduce an NVIDIA StyleGAN2 G, read from its tensors and layers.

    Raises ValueError for a StyleGAN3 or other non-StyleGAN2 network, or layers that disagree on conv_clamp.
    """
    unknown = set(info["classes"]) - STYLEGAN2_CLASSES
    if "SynthesisInput" in unknown or any(k == "synthesis.input" or k.startswith("synthesis.L") for k in attrs):
        raise ValueError("a StyleGAN3 generator (it has StyleGAN3's SynthesisInput and L* layers); only StyleGAN2 "
                         "networks are supported: use a StyleGAN2 .pkl such as the ffhq-1024 model")
    if unknown or attrs[""]["class_name"] != "Generator":
        raise ValueError(f"not a StyleGAN2 generator: its network G_ema is a {attrs['']['class_name']!r} "
                         f"(layers found: {', '.join(info['classes'])})")
    clamps = {k: a.get("conv_clamp") for k, a in attrs.items() if a["class_name"] in ("SynthesisLayer", "ToRGBLayer")}
    distinct = {None if c is None else float(c) for c in clamps.values()}
    if len(distinct) != 1:
        raise ValueError(f"its layers disagree on conv_clamp ({sorted(map(str, distinct))}); one value is supported")
    fc0 = attrs.get("mapping.fc0", {})
    lr_multiplier = float(fc0.get("bias_gain", fc0.get("lr_multiplier", 0.01)))
    return config_from_tensors(tensors, mapping_lr_multiplier=lr_multiplier, conv_clamp=distinct.pop())


def config_from_tensors(tensors: dict[str, torch.Tensor], mapping_lr_multiplier: float = 0.01,
                        conv_clamp: float | None = None) -> dict:
    """``Generator(**config)`` arguments read off a StyleGAN2 state dict in NVIDIA's names; ValueError if it is none."""
    if "mapping.embed.weight" in tensors:
        raise ValueError("a conditional generator (class labels: c_dim > 0, mapping.embed); not supported")
    resolutions = sorted({int(m[1]) for k in tensors if (m := re.match(r"synthesis\.b(\d+)\.", k))})
    num_mapping = sum(1 for k in tensors if re.fullmatch(r"mapping\.fc\d+\.weight", k))
    if not resolutions or resolutions[0] != 4 or not num_mapping:
        raise ValueError("no StyleGAN2 synthesis blocks b4, b8, ... or mapping layers in it")
    expected = [2 ** k for k in range(2, int(math.log2(resolutions[-1])) + 1)]
    if resolutions != expected or f"synthesis.b{resolutions[-1]}.torgb.weight" not in tensors:
        raise ValueError(f"its synthesis blocks are {resolutions}, not a StyleGAN2 chain 4, 8, ... {resolutions[-1]} "
                         "with an RGB output layer")
    resolution = resolutions[-1]
    channels = {}
    for r in resolutions:  # a block's width: its conv1's outputs, or its torgb's inputs
        conv, torgb = tensors.get(f"synthesis.b{r}.conv1.weight"), tensors.get(f"synthesis.b{r}.torgb.weight")
        if conv is None and torgb is None:
            raise ValueError(f"its block b{r} has neither conv1 nor torgb weights")
        channels[r] = int(conv.shape[0] if conv is not None else torgb.shape[1])
    channel_max = max(channels.values())
    below = [r for r in resolutions if channels[r] < channel_max]
    channel_base = channels[below[0]] * below[0] if below else channel_max * resolution
    z_dim, w_dim = tensors["mapping.fc0.weight"].shape[1], tensors[f"mapping.fc{num_mapping - 1}.weight"].shape[0]
    return dict(resolution=resolution, z_dim=int(z_dim), w_dim=int(w_dim), channel_base=int(channel_base),
                channel_max=int(channel_max), num_mapping_layers=num_mapping, mapping_lr_multiplier=mapping_lr_multiplier,
                conv_clamp=conv_clamp, img_channels=int(tensors[f"synthesis.b{resolution}.torgb.weight"].shape[0]))


IMAGE_CHANNELS = {3: None, 1: "a greyscale generator (1 image channel): PULSE compares its grey faces with the "
                              "input, so a colour input can rarely be matched within eps; give it greyscale inputs"}
NOISE_SEED = 0  # fixed noise maps a file lacks are drawn again from N(0, 1) with this seed
W_AVG_SAMPLES = 10_000  # z samples for a w_avg a file lacks (the mean of mapping(z), as training tracks it)


def build_generator(config: dict, tensors: dict[str, torch.Tensor], source: str,
                    num_ws: int | None = None) -> Generator:
    """Generator(**config) with ``tensors`` loaded (names and shapes checked), in eval mode, no grads.

    State a file may lack is rebuilt and said in ``generator.meta["notices"]``: filters (fixed), noise
    maps (drawn again, seeded), ``mapping.w_avg`` (the mean of mapping(z)). Missing weights, unexpected
    tensors, wrong shapes and image channels other than 1 or 3 raise one-line ValueErrors naming ``source``.
    """
    name = Path(source).name
    if config.get("img_channels", 3) not in IMAGE_CHANNELS:
        raise ValueError(f"{source}: the generator makes {config['img_channels']}-channel images; PULSE works with "
                         "colour (3 channels) or greyscale (1 channel) generators")
    generator = Generator(**config)
    if num_ws is not None and int(num_ws) != generator.num_ws:
        raise ValueError(f"{source}: num_ws {num_ws} does not match {generator.num_ws} for resolution {config['resolution']}")
    expected = generator.state_dict()
    tensors, notices = dict(tensors), []
    if IMAGE_CHANNELS[config.get("img_channels", 3)]:
        notices.append(IMAGE_CHANNELS[config["img_channels"]])
    missing = [k for k in expected if k not in tensors]
    for key in [k for k in missing if k.endswith("resample_filter")]:  # fixed [1, 3, 3, 1] filters, never learned
        tensors[key] = setup_filter()
    noises = [k for k in missing if k.endswith("noise_const")]
    rng = torch.Generator().manual_seed(NOISE_SEED)
    for key in noises:
        tensors[key] = torch.randn(expected[key].shape, generator=rng)
    if noises:
        notices.append(f"{len(noises)} of its fixed noise maps are missing (older rosinality files keep none): drawn "
                       f"again from N(0, 1) with seed {NOISE_SEED}; only fine detail of noise_mode='const' images "
                       "changes, and PULSE searches or redraws noise anyway")
    rebuild_w_avg = "mapping.w_avg" in missing
    if rebuild_w_avg:
        tensors["mapping.w_avg"] = torch.zeros(expected["mapping.w_avg"].shape)
    lacking = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    if lacking or extra:
        what = (f"{len(lacking)} of a StyleGAN2 generator's weights are missing (e.g. {', '.join(lacking[:3])})"
                if lacking else f"it has {len(extra)} tensors a StyleGAN2 generator does not (e.g. {', '.join(extra[:3])})")
        raise ValueError(f"{source}: {what}; the file is incomplete or another architecture "
                         f"({config['resolution']}x{config['resolution']} px, {config['img_channels']} channels read "
                         "from its shapes)")
    for key, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(f"{source}: {key} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}")
    generator.load_state_dict({k: v.float() for k, v in tensors.items()})
    if rebuild_w_avg:
        with torch.no_grad():
            z = torch.randn(W_AVG_SAMPLES, generator.z_dim, generator=torch.Generator().manual_seed(NOISE_SEED))
            w = torch.cat([generator.mapping(chunk)[:, 0] for chunk in z.split(1000)])  # (n, w_dim)
            generator.mapping.w_avg.copy_(w.mean(dim=0))
        notices.append(f"it has no average w (w_avg, the truncation centre): computed as the mean of mapping(z) "
                       f"over {W_AVG_SAMPLES:,} z (seed {NOISE_SEED}), as training tracks it")
    generator.meta = {"source": name, "notices": notices}
    return generator.eval().requires_grad_(False)


def generator_from_network_pickle(path_or_file: str | os.PathLike | BinaryIO) -> Generator:
    """Build a float32 ``Generator`` from G_ema of an NVIDIA StyleGAN2 pickle (ADA-PyTorch or StyleGAN3 codebase).

    Every refusal names the file: ``pickle.UnpicklingError`` for content the restricted unpickler will not
    build (it runs nothing), ValueError for a network that is not a StyleGAN2 generator.
    """
    source = str(path_or_file) if isinstance(path_or_file, (str, os.PathLike)) else "network pickle"
    try:
        tensors, attrs, info = read_network_pickle(path_or_file)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(f"{source}: {error}") from None
    except (ValueError, EOFError) as error:
        raise ValueError(f"{source}: {error or 'the file ends early (truncated download?)'}") from None
    try:
        config = generator_config(tensors, attrs, info)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    generator = build_generator(config, tensors, source, info["num_ws"])
    generator.meta.update(format="nvidia-network-pickle", nvidia_init_kwargs=_plain(info["init_kwargs"]))
    generator.meta["notices"][:0] = info["notices"]
    return generator


def describe(value: Any) -> str:
    """What a loaded object is, in a user's words: 'a dict with keys a, b, ...', 'a list of 3 items', 'a tensor'."""
    if isinstance(value, dict):
        keys = sorted(map(str, value))
        return f"a dict with keys {', '.join(keys[:8])}{', ...' if len(keys) > 8 else ''}" if keys else "an empty dict"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, PersistentStub):
        return f"an NVIDIA {value.class_name} object"
    if value is None or isinstance(value, (str, int, float, bool, np.ndarray)):
        return f"a {type(value).__name__ if value is not None else 'None value'}"
    return "an object of another kind"


def _plain(value: Any) -> Any:
    """JSON-like copy of init_kwargs (EasyDict stubs become dicts; anything else becomes its repr)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return repr(value)
