"""Test helper: write look-alike NVIDIA network pickles without NVIDIA's code.

Fake ``torch_utils.persistence`` and ``dnnlib.util`` modules are put in ``sys.modules`` only while
pickling, so the file references exactly the globals NVIDIA's files do (docs/stylegan2_checkpoints.md
§3): ``_reconstruct_persistent_obj(meta)`` with meta = {type, version, module_src, class_name, state},
``EasyDict`` for init kwargs, plain-pickled tensors and numpy float64 attributes. The state of each
object mimics an ``nn.Module.__dict__`` built from one of our generators (whose names equal NVIDIA's).
"""
from __future__ import annotations

import contextlib
import copy
import io
import pickle
import sys
import types
from collections import OrderedDict
from typing import Iterator

import numpy as np
import torch

from pulse_teach.stylegan2 import Generator

PLACEHOLDER_SRC = "# placeholder for NVIDIA's training/networks.py (never executed by the loader)\n"
HOOK_DICTS = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
              "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
              "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
              "_load_state_dict_post_hooks")


@contextlib.contextmanager
def fake_nvidia_modules() -> Iterator[types.ModuleType]:
    """Register fake torch_utils.persistence and dnnlib.util while pickling; yield the persistence module."""

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("NVIDIA's reconstructor must never be called by the loader")

    class EasyDict(dict):
        pass

    _reconstruct_persistent_obj.__module__, _reconstruct_persistent_obj.__qualname__ = (
        "torch_utils.persistence", "_reconstruct_persistent_obj")
    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    modules = {name: types.ModuleType(name) for name in ("torch_utils", "torch_utils.persistence", "dnnlib",
                                                          "dnnlib.util")}
    modules["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    modules["dnnlib.util"].EasyDict = EasyDict
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield modules["torch_utils.persistence"]
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class FakePersistent:
    """Pickles exactly as NVIDIA's persistent objects do: a call of _reconstruct_persistent_obj(meta)."""

    def __init__(self, class_name: str, state: dict, module_src: str = PLACEHOLDER_SRC):
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name,
                    state=self.state)
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))


def _easydict(**kwargs):
    return sys.modules["dnnlib.util"].EasyDict(**kwargs)


def _public_attrs(module: torch.nn.Module, class_name: str) -> dict:
    """The plain attributes NVIDIA's __init__ sets (numpy float64 where NVIDIA computes with numpy)."""
    m = module
    if class_name == "Generator":
        return dict(z_dim=m.z_dim, c_dim=0, w_dim=m.w_dim, img_resolution=m.resolution,
                    img_channels=m.img_channels, num_ws=m.num_ws)
    if class_name == "MappingNetwork":
        return dict(z_dim=m.z_dim, c_dim=0, w_dim=m.w_dim, num_ws=m.num_ws, num_layers=m.num_layers,
                    w_avg_beta=0.995)
    if class_name == "FullyConnectedLayer":
        return dict(activation=m.activation, weight_gain=np.float64(m.weight_gain), bias_gain=m.bias_gain)
    if class_name == "SynthesisNetwork":
        return dict(w_dim=m.w_dim, img_resolution=m.resolution, img_channels=m.img_channels,
                    block_resolutions=list(m.block_resolutions), num_ws=m.num_ws, num_fp16_res=0)
    if class_name == "SynthesisBlock":
        return dict(in_channels=m.in_channels, resolution=m.resolution, architecture="skip", use_fp16=False,
                    channels_last=False, num_conv=m.num_conv, num_torgb=1)
    if class_name == "SynthesisLayer":
        return dict(resolution=m.resolution, up=m.up, use_noise=True, activation="lrelu", padding=1,
                    act_gain=np.float64(np.sqrt(2)), conv_clamp=m.conv_clamp)
    if class_name == "ToRGBLayer":
        return dict(conv_clamp=m.conv_clamp, weight_gain=np.float64(m.weight_gain))
    raise ValueError(class_name)


def stub_of(module: torch.nn.Module, init_kwargs: dict | None = None, module_src: str = PLACEHOLDER_SRC,
            class_name: str | None = None) -> FakePersistent:
    """A FakePersistent whose state looks like NVIDIA's module __dict__ (children converted recursively)."""
    class_name = class_name or type(module).__name__
    params = OrderedDict((k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False))
                         for k, v in module._parameters.items())
    state = {"training": False, "_parameters": params,
             "_buffers": OrderedDict((k, v.detach().clone()) for k, v in module._buffers.items()),
             "_non_persistent_buffers_set": set(),
             **{k: OrderedDict() for k in HOOK_DICTS},
             "_is_full_backward_hook": None,
             "_modules": OrderedDict((k, stub_of(v, module_src=module_src)) for k, v in module._modules.items()),
             "_init_args": (), "_init_kwargs": _easydict(**(init_kwargs or {})),
             **_public_attrs(module, class_name)}
    return FakePersistent(class_name, state, module_src)


def generator_init_kwargs(G: Generator, conv_clamp_in_kwargs: bool = True) -> dict:
    """ADA-style init kwargs; without conv_clamp (as the StyleGAN3 codebase writes them) when asked."""
    c = G.config
    synthesis = dict(channel_base=c["channel_base"], channel_max=c["channel_max"], num_fp16_res=0)
    if conv_clamp_in_kwargs:
        synthesis["conv_clamp"] = c["conv_clamp"]
    return dict(z_dim=c["z_dim"], c_dim=0, w_dim=c["w_dim"], img_resolution=c["resolution"],
                img_channels=c["img_channels"], mapping_kwargs=_easydict(num_layers=c["num_mapping_layers"]),
                synthesis_kwargs=_easydict(**synthesis))


def lookalike_pickle(G_ema: Generator, conv_clamp_in_kwargs: bool = True, module_src: str = PLACEHOLDER_SRC,
                     extra_state: dict | None = None, protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    """Bytes of a file shaped like NVIDIA's training snapshots: {G, D, G_ema, augment_pipe, training_set_kwargs}."""
    G_train = copy.deepcopy(G_ema)
    with torch.no_grad():
        for p in G_train.parameters():
            p.add_(1.0)  # G differs from G_ema: the loader must pick G_ema
    with fake_nvidia_modules():
        ema = stub_of(G_ema, generator_init_kwargs(G_ema, conv_clamp_in_kwargs), module_src)
        ema.state.update(extra_state or {})
        D = FakePersistent("Discriminator", {"_parameters": OrderedDict(w=torch.nn.Parameter(torch.randn(4, 4))),
                                             "_buffers": OrderedDict(), "_modules": OrderedDict()}, module_src)
        data = {"G": stub_of(G_train, generator_init_kwargs(G_train), module_src), "D": D, "G_ema": ema,
                "augment_pipe": None, "training_set_kwargs": _easydict(resolution=G_ema.resolution)}
        buffer = io.BytesIO()
        pickle.dump(data, buffer, protocol=protocol)  # NVIDIA: the default, 3 on Python 3.7, 4 on 3.8+
    return buffer.getvalue()


def random_generator(config: dict, seed: int = 0) -> Generator:
    """A Generator with random weights away from their init (noise strengths, biases, w_avg non-zero)."""
    torch.manual_seed(seed)
    G = Generator(**config)
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        for name, p in G.named_parameters():
            p.add_(0.1 * torch.randn_like(p))
    return G.eval()


def layer_attrs(G: Generator) -> dict[str, dict]:
    """What ``nvidia_pickle.walk_stub`` returns as attributes for a look-alike of G, without pickling."""
    return {name: {"class_name": type(m).__name__, **_public_attrs(m, type(m).__name__)}
            for name, m in G.named_modules()}
