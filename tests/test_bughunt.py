"""Issue 12: faults real users hit, each as the kind of input that caused it (../shared/bughunt/ cases).

Every input is made here from scratch (tiny random generators, synthetic pictures); the case number
in each test's name is the bughunt case it stands for.
"""
from __future__ import annotations

import io
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

from nvidia_lookalike import (FakePersistent, _easydict, fake_nvidia_modules, generator_init_kwargs, lookalike_pickle,
                              random_generator, stub_of)
from pulse_teach.checkpoints import detect_format, to_rosinality
from pulse_teach.models import ModelNotice, load_generator
from pulse_teach.nvidia_pickle import restricted_load

TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)


def _outputs(G, noise_mode: str = "const") -> torch.Tensor:
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return G(z, truncation_psi=0.7, noise_mode=noise_mode)


def _load_quietly(path):
    """load_generator, returning (generator, notices issued as ModelNotice warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        G = load_generator(path)
    notices = [str(w.message) for w in caught if issubclass(w.category, ModelNotice)]
    return G, notices


# ---- case 06: state a checkpoint may lack ------------------------------------------------------------------

def test_case06_rosinality_without_noise_buffers_loads_with_seeded_noise_and_a_notice(tmp_path):
    G = random_generator(TINY)
    payload = to_rosinality(G)
    payload["g_ema"] = {k: v for k, v in payload["g_ema"].items() if not k.startswith("noises.")}
    torch.save(payload, tmp_path / "old.pt")
    loaded, notices = _load_quietly(tmp_path / "old.pt")
    assert len(notices) == 1 and notices[0].startswith("old.pt: 5 of its fixed noise maps are missing")
    assert "seed 0" in notices[0]
    again, _ = _load_quietly(tmp_path / "old.pt")
    state, original = loaded.state_dict(), G.state_dict()
    for name, tensor in original.items():
        if name.endswith("noise_const"):  # drawn again: N(0, 1), seeded, the same on every load
            assert torch.equal(state[name], again.state_dict()[name]) and not torch.equal(state[name], tensor)
            assert state[name].shape == tensor.shape and 0.3 < float(state[name].std()) < 2
        else:
            assert torch.equal(state[name], tensor), name
    assert torch.equal(_outputs(loaded, "none"), _outputs(G, "none"))  # everything learned is the file's


def test_case06_other_missing_state_is_rebuilt_exactly_or_refused_in_one_line(tmp_path):
    G = random_generator(TINY)
    with fake_nvidia_modules():  # an NVIDIA pickle whose layers lack their (fixed, derived) resample filters
        root = stub_of(G, generator_init_kwargs(G))
        root.state["_modules"]["synthesis"].state["_modules"]["b8"].state["_buffers"].pop("resample_filter")
        buffer = io.BytesIO()
        pickle.dump({"G_ema": root}, buffer)
    (tmp_path / "nofilter.pkl").write_bytes(buffer.getvalue())
    loaded = load_generator(tmp_path / "nofilter.pkl")
    assert torch.equal(_outputs(loaded), _outputs(G))
    ros = to_rosinality(G)
    del ros["g_ema"]["convs.1.conv.weight"]  # a learned weight: nothing can rebuild it
    torch.save(ros, tmp_path / "cut.pt")
    with pytest.raises(ValueError) as caught:
        load_generator(tmp_path / "cut.pt")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'cut.pt'}: 1 of a StyleGAN2 generator's weights are missing "
                              "(e.g. synthesis.b8.conv1.weight)") and "\n" not in message
    ros = to_rosinality(G)
    ros["g_ema"]["convs.0.conv.blur.kernel"] = torch.ones(4, 4) / 4  # another blur kernel: not ours to guess
    torch.save(ros, tmp_path / "blur.pt")
    with pytest.raises(ValueError, match=r"blur\.pt: convs\.0\.conv\.blur\.kernel is not the \[1, 3, 3, 1\] filter"):
        load_generator(tmp_path / "blur.pt")


# ---- case 08a: the shapes generator files come in -----------------------------------------------------------

def test_case08_bare_and_wrapped_generator_state_dicts_load(tmp_path):
    G = random_generator(TINY)
    ros = to_rosinality(G)
    files = {
        "bare.pt": ros["g_ema"],                                                   # torch.save(g_ema.state_dict())
        "only_g.pt": {"g": ros["g_ema"], "d": {"final_linear.1.bias": torch.zeros(1)}},  # no EMA copy saved
        "psp.pt": {"state_dict": {**{f"decoder.{k}": v for k, v in ros["g_ema"].items()},
                                  "encoder.input_layer.0.weight": torch.zeros(2)},
                   "latent_avg": ros["latent_avg"].expand(6, -1).clone()},       # pixel2style2pixel's layout
        "ours.pt": G.state_dict(),                                                 # our Generator's own state dict
    }
    for name, payload in files.items():
        torch.save(payload, tmp_path / name)
        loaded, notices = _load_quietly(tmp_path / name)
        assert detect_format(tmp_path / name) == ("state-dict" if name == "ours.pt" else "rosinality")
        assert all(n.startswith(f"{name}: ") for n in notices)
        with torch.no_grad():  # every learned tensor is the file's
            z = torch.randn(2, 32, generator=torch.Generator().manual_seed(2))
            assert torch.equal(loaded(z, noise_mode="const"), G(z, noise_mode="const"))
        has_w_avg = name in ("psp.pt", "ours.pt")
        assert any("no average w" in n for n in notices) == (not has_w_avg)  # else computed, and said
        assert torch.equal(_outputs(loaded), _outputs(G)) == has_w_avg  # truncation uses w_avg
        assert any("training generator 'g'" in n for n in notices) == (name == "only_g.pt")


def test_case08_files_that_hold_no_generator_are_described_in_plain_words(tmp_path):
    torch.save({"final_linear.1.bias": torch.zeros(1), "convs.0.0.weight": torch.zeros(2)}, tmp_path / "d.pt")
    with pytest.raises(ValueError) as caught:
        load_generator(tmp_path / "d.pt")
    assert str(caught.value) == (f"{tmp_path / 'd.pt'}: no StyleGAN2 generator in this PyTorch checkpoint; it holds a "
                                 "dict with keys convs.0.0.weight, final_linear.1.bias (expected a rosinality "
                                 "checkpoint with 'g_ema', a bare generator state dict, or a pulse_teach export)")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt: .* it holds a list of 1 items"):
        load_generator(tmp_path / "list.pt")
    (tmp_path / "page.pkl").write_bytes(b"<!DOCTYPE html><html>Access denied</html>")
    with pytest.raises(ValueError, match=r"page\.pkl: not a generator file; .* a web page \(HTML\): a failed"):
        load_generator(tmp_path / "page.pkl")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.pt: empty file \(0 bytes\)"):
        load_generator(tmp_path / "empty.pt")
    for path in ("d.pt", "list.pt"):  # no internal class names in what the user reads
        with pytest.raises(ValueError) as caught:
            load_generator(tmp_path / path)
        assert "OrderedDict" not in str(caught.value) and "Stub" not in str(caught.value)


# ---- case 11: harmless numeric data loads through the restricted unpickler ---------------------------------

def _stylegan3_lookalike(arrays: bool) -> bytes:
    """A tiny StyleGAN3-shaped G_ema: like NVIDIA's, its layers keep sizes as numpy arrays, rates as numpy floats."""
    size = (lambda v: np.broadcast_to(np.asarray(v), [2])) if arrays else (lambda v: [v, v])

    def layer(name: str, channels: int, state: dict) -> FakePersistent:
        return FakePersistent(name, {"_parameters": OrderedDict(weight=torch.nn.Parameter(torch.randn(channels, 4))),
                                     "_buffers": OrderedDict(), "_modules": OrderedDict(), **state})

    with fake_nvidia_modules():
        synthesis = FakePersistent("SynthesisNetwork", {
            "_parameters": OrderedDict(), "_buffers": OrderedDict(), "img_resolution": 16, "num_ws": 4,
            "_modules": OrderedDict(input=layer("SynthesisInput", 8, dict(size=size(20), sampling_rate=np.float64(16))),
                                    L0_20_8=layer("SynthesisLayer", 8, dict(in_size=size(20), out_size=size(20))))})
        G = FakePersistent("Generator", {"_parameters": OrderedDict(), "_buffers": OrderedDict(), "num_ws": 4,
                                         "_modules": OrderedDict(synthesis=synthesis), "_init_kwargs": _easydict(z_dim=4)})
        return pickle.dumps({"G": G, "G_ema": G, "D": None}, protocol=4)


@pytest.mark.parametrize("arrays", [True, False])
def test_case11_stylegan3_pickle_gets_the_stylegan3_message_not_the_allow_list(tmp_path, arrays):
    path = tmp_path / "sg3.pkl"
    path.write_bytes(_stylegan3_lookalike(arrays))
    with pytest.raises(ValueError) as caught:
        load_generator(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: a StyleGAN3 generator") and "only StyleGAN2 networks are supported" in message
    assert "allow-list" not in message and "\n" not in message


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_case11_numeric_numpy_arrays_load_and_object_arrays_are_refused(protocol):
    data = {"size": np.broadcast_to(np.asarray(36), [2]), "grid": np.arange(12, dtype=np.float32).reshape(3, 4).T,
            "big": np.linspace(0, 1, 5000), "rate": np.float64(16.0), "flags": np.array([True, False])}
    loaded = restricted_load(io.BytesIO(pickle.dumps(data, protocol=protocol)))
    for key, value in data.items():
        assert np.array_equal(np.asarray(loaded[key]), value) and np.asarray(loaded[key]).dtype == value.dtype, key
    for bad in (np.array([print, 1], dtype=object), np.array([("a", 1)], dtype=[("n", "U1"), ("v", "i4")])):
        with pytest.raises(pickle.UnpicklingError, match="refused"):
            restricted_load(io.BytesIO(pickle.dumps({"x": bad}, protocol=protocol)))


# ---- case 21: a model's shape is checked when it is loaded -------------------------------------------------

def test_case21_greyscale_generator_is_accepted_at_load_and_other_channel_counts_are_refused(tmp_path):
    grey = random_generator({**TINY, "img_channels": 1})
    (tmp_path / "grey.pkl").write_bytes(lookalike_pickle(grey))
    loaded, notices = _load_quietly(tmp_path / "grey.pkl")
    assert loaded.img_channels == 1 and notices == [
        "grey.pkl: a greyscale generator (1 image channel): PULSE compares its grey faces with the input, so a "
        "colour input can rarely be matched within eps; give it greyscale inputs"]
    four = random_generator({**TINY, "img_channels": 4})
    torch.save(four.state_dict(), tmp_path / "rgba.pt")
    with pytest.raises(ValueError) as caught:
        load_generator(tmp_path / "rgba.pt")
    assert str(caught.value) == (f"{tmp_path / 'rgba.pt'}: the generator makes 4-channel images; PULSE works with "
                                 "colour (3 channels) or greyscale (1 channel) generators")
