"""Tests for NVIDIA-pickle and rosinality loading: exact tensors and outputs, and malicious files refused."""
from __future__ import annotations

import argparse
import io
import os
import pickle
import shutil
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from nvidia_lookalike import (
    FakePersistent,
    fake_nvidia_modules,
    generator_init_kwargs,
    layer_attrs,
    lookalike_pickle,
    random_generator,
    stub_of,
)
from pulse_teach.checkpoints import detect_format, to_rosinality
from pulse_teach.models import load_generator, save_generator
from pulse_teach.nvidia_pickle import generator_config, read_network_pickle
from pulse_teach.stylegan2 import FFHQ_256, FFHQ_512, FFHQ_1024, Generator

TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)


def _outputs(G: Generator) -> torch.Tensor:
    G = G.to(memory_format=torch.channels_last)  # as load_generator leaves it on a CPU: bit-equal outputs
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return G(z, truncation_psi=0.7, noise_mode="const")  # truncation uses mapping.w_avg too


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("conv_clamp, in_kwargs", [(None, True), (256.0, True), (256.0, False), (0.05, False)])
def test_lookalike_nvidia_pickle_loads_every_tensor_and_the_same_function(tmp_path, conv_clamp, in_kwargs):
    G = random_generator({**TINY, "conv_clamp": conv_clamp})
    path = _write(tmp_path, "net.pkl", lookalike_pickle(G, conv_clamp_in_kwargs=in_kwargs))
    assert detect_format(path) == "nvidia-pickle"
    loaded = load_generator(path)
    assert loaded.config == G.config  # conv_clamp read from layer attributes, not init_kwargs
    original, got = G.state_dict(), loaded.state_dict()
    assert list(got) == list(original)  # same names, same order
    assert all(torch.equal(got[k], original[k]) for k in original)  # G_ema's tensors, not G's
    assert torch.equal(_outputs(loaded), _outputs(G))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert not any(name.startswith(("torch_utils", "dnnlib", "_imported_module_")) for name in sys.modules)


@pytest.mark.parametrize("protocol", [3, 5])
def test_other_pickle_protocols_load(tmp_path, protocol):
    """Python 3.7 (NVIDIA's 2020-21 files) wrote protocol 3, where sets are pickled as builtins.set([...])."""
    G = random_generator(TINY)
    loaded = load_generator(_write(tmp_path, "net.pkl", lookalike_pickle(G, protocol=protocol)))
    assert torch.equal(_outputs(loaded), _outputs(G))


def test_active_conv_clamp_changes_the_output():
    """The clamp is part of the function: loading it from the layers matters."""
    G = random_generator({**TINY, "conv_clamp": 0.05})
    unclamped = random_generator(TINY)
    assert not torch.allclose(_outputs(G), _outputs(unclamped))


@pytest.mark.parametrize("preset, clamp, num_tensors", [(FFHQ_1024, None, 182), (FFHQ_512, 256.0, 163),
                                                        (FFHQ_256, 256.0, 144)])
def test_ffhq_configs_are_recognised_from_their_shapes(preset, clamp, num_tensors):
    with torch.device("meta"):
        G = Generator(**preset, conv_clamp=clamp)  # shapes only
    tensors = G.state_dict()
    assert len(tensors) == num_tensors  # 182 at 1024, as NVIDIA's G_ema (docs/stylegan2_checkpoints.md §4)
    info = {"classes": sorted({type(m).__name__ for m in G.modules()}), "num_ws": G.num_ws}
    assert generator_config(tensors, layer_attrs(G), info) == G.config


def test_reader_returns_layer_attributes_and_num_ws():
    G = random_generator({**TINY, "conv_clamp": 256.0})
    tensors, attrs, info = read_network_pickle(io.BytesIO(lookalike_pickle(G, conv_clamp_in_kwargs=False)))
    assert len(tensors) == len(G.state_dict()) and info["num_ws"] == G.num_ws == 6
    assert attrs["synthesis.b16.conv0"]["conv_clamp"] == 256.0 and attrs["synthesis.b16.conv0"]["up"] == 2
    assert attrs["synthesis.b16.torgb"]["class_name"] == "ToRGBLayer"
    assert "conv_clamp" not in info["init_kwargs"]["synthesis_kwargs"]
    assert isinstance(attrs["mapping.fc0"]["weight_gain"], float)  # numpy float64 -> Python float


def test_stylegan3_and_unknown_networks_get_a_clear_error(tmp_path):
    G = random_generator(TINY)
    with fake_nvidia_modules():
        synthesis = stub_of(G.synthesis)
        synthesis.state["_modules"] = OrderedDict(input=FakePersistent("SynthesisInput", {"_modules": {}}),
                                                  L0_36_512=stub_of(G.synthesis.b8.conv0))
        root = stub_of(G, generator_init_kwargs(G))
        root.state["_modules"]["synthesis"] = synthesis
        sg3 = pickle.dumps({"G_ema": root})
        odd = pickle.dumps({"G_ema": FakePersistent("Discriminator", {"_modules": {}})})
    with pytest.raises(ValueError, match="StyleGAN3"):
        load_generator(_write(tmp_path, "sg3.pkl", sg3))
    with pytest.raises(ValueError, match="Discriminator"):
        load_generator(_write(tmp_path, "d.pkl", odd))
    with pytest.raises(ValueError, match="G_ema.*found"):
        load_generator(_write(tmp_path, "plain.pkl", pickle.dumps({"weights": [1, 2]})))


def test_a_module_tree_with_a_cycle_is_refused(tmp_path):
    G = random_generator(TINY)
    with fake_nvidia_modules():
        root = stub_of(G, generator_init_kwargs(G))
        root.state["_modules"]["synthesis"].state["_modules"]["loop"] = root
        data = pickle.dumps({"G_ema": root})
    with pytest.raises(ValueError, match="cycle"):
        load_generator(_write(tmp_path, "loop.pkl", data))


def test_wrong_shapes_are_reported_with_the_tensor_name(tmp_path):
    G = random_generator(TINY)
    with fake_nvidia_modules():
        root = stub_of(G, generator_init_kwargs(G))
        layer = root.state["_modules"]["synthesis"].state["_modules"]["b8"].state["_modules"]["conv1"]
        layer.state["_parameters"]["bias"] = torch.nn.Parameter(torch.zeros(7), requires_grad=False)
        data = pickle.dumps({"G_ema": root})
    with pytest.raises(ValueError, match=r"synthesis\.b8\.conv1\.bias has shape \(7,\)"):
        load_generator(_write(tmp_path, "bad.pkl", data))


# ---- malicious files: each must be refused (or neutralised) with nothing executed -------------------------

class _Call:
    """Pickles as a call of ``func(*args)``; pickling never calls it, a plain pickle.load would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payload_in_lookalike(payload) -> bytes:
    """A real-looking network pickle with the payload hidden in a layer attribute."""
    return lookalike_pickle(random_generator(TINY), extra_state={"evil": payload})


def _storage_blob_payload(marker) -> bytes:
    """A storage blob (legacy torch.save) whose pickle calls os.system instead of holding a storage."""
    blob = io.BytesIO()
    torch.save(_Call(os.system, f"touch {marker}"), blob, _use_new_zipfile_serialization=False)
    return _payload_in_lookalike(_Call(torch.storage._load_from_bytes, blob.getvalue()))


MALICIOUS = {
    "os.system": lambda m: _payload_in_lookalike(_Call(os.system, f"touch {m}")),
    "builtins.eval": lambda m: pickle.dumps({"G_ema": _Call(eval, f"open({str(m)!r}, 'w').write('x')")}),
    "builtins.exec": lambda m: pickle.dumps(_Call(exec, f"open({str(m)!r}, 'w').write('x')")),
    "subprocess": lambda m: _payload_in_lookalike(_Call(subprocess.run, ["touch", str(m)])),
    "storage blob payload": _storage_blob_payload,
    "unlisted global": lambda m: _payload_in_lookalike(_Call(shutil.copyfile, __file__, str(m))),
    "object dtype": lambda m: _payload_in_lookalike(_Call(__import__("numpy").dtype, "O")),
    "unknown class with module_src": lambda m: lookalike_pickle(
        random_generator(TINY), module_src=f"open({str(m)!r}, 'w').write('x')",
        extra_state={"_modules": OrderedDict(evil=FakePersistent("Evil", {}, f"open({str(m)!r}, 'w')"))}),
}


@pytest.mark.parametrize("kind", list(MALICIOUS))
def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    with fake_nvidia_modules():
        data = MALICIOUS[kind](marker)
    path = _write(tmp_path, "evil.pkl", data)
    before = set(sys.modules)
    with pytest.raises((pickle.UnpicklingError, ValueError)):
        load_generator(path)
    assert not marker.exists()
    assert not [m for m in set(sys.modules) - before if m.startswith(("torch_utils", "dnnlib", "_imported_module_"))]


def test_the_payloads_are_live_under_a_plain_unpickler(tmp_path):
    """Control: the same bytes do run code under pickle.load, so the refusals above are meaningful."""
    marker = tmp_path / "pwned"
    pickle.loads(MALICIOUS["builtins.exec"](marker))
    assert marker.exists()


def test_file_writing_module_src_is_never_executed(tmp_path):
    """module_src of a legitimate-looking file is dropped unread: the network loads, the file is not written."""
    marker = tmp_path / "pwned"
    G = random_generator(TINY)
    source = f"open({str(marker)!r}, 'w').write('pwned')\nraise SystemExit\n"
    loaded = load_generator(_write(tmp_path, "src.pkl", lookalike_pickle(G, module_src=source)))
    assert not marker.exists()
    assert torch.equal(_outputs(loaded), _outputs(G))
    assert not hasattr(loaded, "module_src") and source not in repr(loaded.meta)


def test_tensorflow_pickles_are_named_as_such(tmp_path):
    data = b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81."
    with pytest.raises(pickle.UnpicklingError, match="TensorFlow"):
        load_generator(_write(tmp_path, "tf.pkl", data))


# ---- rosinality --------------------------------------------------------------------------------------------

def test_rosinality_round_trip_converted_checkpoint(tmp_path):
    G = random_generator(TINY)
    payload = to_rosinality(G)
    assert payload["g_ema"]["input.input"].shape == (1, 32, 4, 4)
    assert payload["g_ema"]["to_rgbs.1.bias"].shape == (1, 3, 1, 1)
    assert payload["g_ema"]["noises.noise_4"].shape == (1, 1, 16, 16)  # b16.conv1
    assert "convs.2.conv.blur.kernel" in payload["g_ema"]
    torch.save(payload, tmp_path / "ros.pt")
    assert detect_format(tmp_path / "ros.pt") == "rosinality"
    loaded = load_generator(tmp_path / "ros.pt")
    assert loaded.config == {**G.config, "conv_clamp": None}
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in G.state_dict().items())
    assert torch.equal(_outputs(loaded), _outputs(G))


def test_rosinality_trained_checkpoint_with_namespace_args(tmp_path):
    """Trained files hold argparse.Namespace args (refused by plain weights_only) and no latent_avg."""
    G = random_generator({**TINY, "resolution": 32, "channel_base": 512})
    ros = to_rosinality(G)
    payload = {"g": ros["g_ema"], "d": {}, "g_ema": ros["g_ema"], "g_optim": {"state": {}}, "d_optim": {},
               "args": argparse.Namespace(size=32, channel_multiplier=2, lr=0.002), "ada_aug_p": 0.1}
    torch.save(payload, tmp_path / "trained.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "trained.pt", weights_only=True)
    with pytest.warns(UserWarning, match=r"trained\.pt: it has no average w .* mean of mapping\(z\)"):
        loaded = load_generator(tmp_path / "trained.pt")
    assert loaded.meta["has_latent_avg"] is False  # w_avg is recomputed, not left at a zero placeholder
    with torch.no_grad():
        w = G.mapping(torch.randn(20000, 32, generator=torch.Generator().manual_seed(5)))[:, 0]
    assert torch.allclose(loaded.mapping.w_avg, w.mean(0), atol=0.03)
    with torch.no_grad():
        z = torch.randn(2, 32)
        assert torch.equal(loaded(z), G.to(memory_format=torch.channels_last)(z))  # without truncation it is unused


def test_our_exports_are_detected(tmp_path):
    path = save_generator(tmp_path / "g.pt", random_generator(TINY))
    assert detect_format(path) == "pulse_teach"
    with pytest.raises(ValueError, match=r"x.pkl: not a generator file; it is neither a PyTorch checkpoint"):
        detect_format(_write(tmp_path, "x.pkl", b"hello"))
