"""Tests for pulse_teach.stylegan2: NVIDIA's names/shapes/order, and the forward pass re-derived independently.

Section numbers (§) refer to docs/stylegan2_checkpoints.md.
"""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from pulse_teach.stylegan2 import (
    FFHQ_256,
    FFHQ_512,
    FFHQ_1024,
    SMALL_64,
    Generator,
    SynthesisLayer,
    ToRGBLayer,
    modulated_conv2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)


def _meta_generator(**cfg) -> Generator:
    """Build on the meta device: names and shapes without allocating (fast even at 1024)."""
    with torch.device("meta"):
        return Generator(**cfg)


@pytest.fixture(scope="module")
def small() -> Generator:
    torch.manual_seed(0)
    return Generator(**SMALL_64).eval().requires_grad_(False)


def _z(n: int, dim: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- structure (§4 key set, §5.1)

@pytest.mark.parametrize("cfg, num_ws", [(SMALL_64, 10), (FFHQ_256, 14), (FFHQ_512, 16), (FFHQ_1024, 18)])
def test_num_ws_and_noise_shapes(cfg, num_ws):
    G = _meta_generator(**cfg)
    assert G.num_ws == G.synthesis.num_ws == G.mapping.num_ws == num_ws
    res = [4] + [r for k in range(3, int(math.log2(cfg["resolution"])) + 1) for r in (2 ** k, 2 ** k)]
    assert G.noise_shapes == [(r, r) for r in res]
    assert len(G.noise_shapes) == num_ws - 1


def _expected_keys(resolution: int, num_mapping_layers: int = 8) -> list[str]:
    """NVIDIA's state_dict order: synthesis then mapping; in a module its params, buffers, then children."""
    layer = ["weight", "noise_strength", "bias", "resample_filter", "noise_const", "affine.weight", "affine.bias"]
    torgb = ["weight", "bias", "affine.weight", "affine.bias"]
    keys = []
    for k in range(2, int(math.log2(resolution)) + 1):
        p = f"synthesis.b{2 ** k}."
        keys += [p + "const"] if k == 2 else []
        keys += [p + "resample_filter"]
        for conv in (["conv1"] if k == 2 else ["conv0", "conv1"]):
            keys += [f"{p}{conv}.{name}" for name in layer]
        keys += [f"{p}torgb.{name}" for name in torgb]
    keys += ["mapping.w_avg"]
    for i in range(num_mapping_layers):
        keys += [f"mapping.fc{i}.weight", f"mapping.fc{i}.bias"]
    return keys


def test_ffhq1024_state_dict_keys_order_and_shapes():
    sd = _meta_generator(**FFHQ_1024).state_dict()
    keys = list(sd)
    assert len(keys) == 182
    assert keys == _expected_keys(1024)
    assert sum(k.endswith("resample_filter") for k in keys) == 26
    assert sum(k.endswith("noise_const") for k in keys) == 17
    assert sum(k.endswith("noise_strength") for k in keys) == 17
    expected_shapes = {
        "synthesis.b4.const": (512, 4, 4),
        "synthesis.b4.resample_filter": (4, 4),
        "synthesis.b4.conv1.weight": (512, 512, 3, 3),
        "synthesis.b4.conv1.noise_strength": (),
        "synthesis.b4.conv1.noise_const": (4, 4),
        "synthesis.b4.torgb.weight": (3, 512, 1, 1),
        "synthesis.b128.conv0.weight": (256, 512, 3, 3),
        "synthesis.b128.conv0.affine.weight": (512, 512),
        "synthesis.b128.conv1.affine.weight": (256, 512),
        "synthesis.b512.conv1.noise_const": (512, 512),
        "synthesis.b1024.conv0.weight": (32, 64, 3, 3),
        "synthesis.b1024.conv0.affine.weight": (64, 512),
        "synthesis.b1024.conv0.affine.bias": (64,),
        "synthesis.b1024.conv0.bias": (32,),
        "synthesis.b1024.conv0.resample_filter": (4, 4),
        "synthesis.b1024.conv1.noise_const": (1024, 1024),
        "synthesis.b1024.torgb.weight": (3, 32, 1, 1),
        "synthesis.b1024.torgb.affine.weight": (32, 512),
        "synthesis.b1024.torgb.bias": (3,),
        "mapping.fc0.weight": (512, 512),
        "mapping.fc7.bias": (512,),
        "mapping.w_avg": (512,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(sd[key].shape) == shape, key


def test_channel_base_16384_at_256():
    sd = _meta_generator(**FFHQ_256).state_dict()
    expected = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64}
    for r, c in expected.items():
        assert sd[f"synthesis.b{r}.conv1.weight"].shape == (c, c, 3, 3)
        assert sd[f"synthesis.b{r}.torgb.weight"].shape == (3, c, 1, 1)
    assert sd["synthesis.b64.conv0.weight"].shape == (256, 512, 3, 3)
    assert len(sd) == 182 - 2 * 19  # two fewer blocks than 1024


def test_small_preset_size_and_config(small):
    n_params = sum(p.numel() for p in small.parameters())
    assert 0.5e6 <= n_params <= 1.5e6
    assert small.config["resolution"] == 64 and small.config["z_dim"] == 128
    assert list(small.state_dict()) == _expected_keys(64, num_mapping_layers=4)
    assert Generator(**small.config).num_ws == small.num_ws  # config rebuilds the same architecture


@pytest.mark.parametrize("bad", [0, 2, 48, 100, 64.0, "64"])
def test_bad_resolution_raises(bad):
    with pytest.raises(ValueError, match="power of two"):
        Generator(resolution=bad)


# ---------------------------------------------------------------- outputs and mapping

@pytest.mark.parametrize("n", [1, 3])
def test_small_output_shape_dtype_range(small, n):
    img = small(_z(n, 128))
    assert img.shape == (n, 3, 64, 64) and img.dtype == torch.float32
    assert torch.isfinite(img).all()
    assert 0.05 < img.std().item() < 10 and img.abs().max().item() < 50  # "a few units", not exploding


def test_mapping_shapes_and_broadcast(small):
    ws = small.mapping(_z(3, 128))
    assert ws.shape == (3, 10, 128)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))  # same w for every layer before truncation
    with pytest.raises(ValueError, match=r"\(N, 128\)"):
        small.mapping(torch.randn(3, 64))


def test_mapping_matches_formula(small):
    mapping = copy.deepcopy(small.mapping)
    for i in range(4):  # biases start at 0: give them values so the bias gain is tested too
        getattr(mapping, f"fc{i}").bias.normal_(0, 30)
    z = _z(2, 128)
    x = z / torch.sqrt((z ** 2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(4):
        fc = getattr(mapping, f"fc{i}")
        x = x @ (fc.weight * 0.01 / math.sqrt(128)).T + fc.bias * 0.01
        x = torch.where(x >= 0, x, 0.2 * x) * math.sqrt(2)
    torch.testing.assert_close(mapping(z)[:, 5], x, rtol=1e-5, atol=1e-5)


def test_truncation_and_w_avg_update(small):
    G = copy.deepcopy(small)
    z = _z(4, 128)
    w = G.mapping(z)[:, 0]
    G.mapping.update_w_avg(w, beta=0.9)
    torch.testing.assert_close(G.mapping.w_avg, 0.1 * w.mean(0))  # started at zero
    avg = G.mapping.w_avg
    assert torch.equal(G.mapping(z, truncation_psi=1.0), G.mapping(z))
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.0), avg.expand(4, 10, 128))
    half = G.mapping(z, truncation_psi=0.5, truncation_cutoff=4)
    torch.testing.assert_close(half[:, :4], avg + 0.5 * (w[:, None] - avg).expand(4, 4, 128))
    assert torch.equal(half[:, 4:], G.mapping(z)[:, 4:])


def test_w_index_per_layer(small):
    """§5.3: conv layers take w 0, 1, 2, ...; a block's ToRGB shares its w with the next block's conv0."""
    seen = {}

    def record(name):
        return lambda module, inputs, output: seen.__setitem__(name, inputs[0][0, 0].item())

    hooks = [m.affine.register_forward_hook(record(name)) for name, m in small.synthesis.named_modules()
             if isinstance(m, (SynthesisLayer, ToRGBLayer))]
    ws = torch.arange(10.0).reshape(1, 10, 1).expand(1, 10, 128)  # row i filled with i
    small.synthesis(ws)
    for h in hooks:
        h.remove()
    expected = {"b4.conv1": 0, "b4.torgb": 1}
    for k in range(3, 7):
        expected.update({f"b{2 ** k}.conv0": 2 * k - 5, f"b{2 ** k}.conv1": 2 * k - 4, f"b{2 ** k}.torgb": 2 * k - 3})
    assert seen == expected


# ---------------------------------------------------------------- independent re-computation (§5.4-5.6)

def _fir_reference(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """[1,3,3,1]/8 per axis with gain 2 per axis (= 4x4 filter, gain 4), as shifted-slice sums."""
    taps = [0.25, 0.75, 0.75, 0.25]
    x = F.pad(x, pad)
    h, w = x.shape[2] - 3, x.shape[3] - 3
    x = sum(t * x[:, :, i : i + h, :] for i, t in enumerate(taps))
    return sum(t * x[:, :, :, i : i + w] for i, t in enumerate(taps))


def _layer_reference(layer: SynthesisLayer, x, w, noise):
    """One sample at a time: explicit style, modulation, demodulation, plain conv, noise, bias, lrelu."""
    outs = []
    for n in range(x.shape[0]):
        style = layer.affine.weight @ w[n] / math.sqrt(w.shape[1]) + layer.affine.bias  # (I,)
        weight = layer.weight * style[None, :, None, None]  # (O, I, 3, 3)
        weight = weight / torch.sqrt(weight.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        if layer.up == 1:
            y = F.conv2d(x[n : n + 1], weight, padding=1)
        else:
            y = F.conv_transpose2d(x[n : n + 1], weight.transpose(0, 1), stride=2)  # (1, O, 2H+1, 2W+1)
            y = _fir_reference(y, (1, 1, 1, 1))
        y = y + layer.noise_strength * noise[n]
        y = F.leaky_relu(y + layer.bias[None, :, None, None], 0.2) * math.sqrt(2)
        outs.append(y)
    return torch.cat(outs)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("fused", [False, True])
def test_synthesis_layer_matches_reference(up, fused):
    torch.manual_seed(3)
    layer = SynthesisLayer(in_channels=6, out_channels=5, w_dim=16, resolution=16, up=up)
    with torch.no_grad():
        layer.noise_strength.fill_(0.7)
        layer.bias.normal_()
        layer.affine.bias.normal_()
    x = torch.randn(3, 6, 16 // up, 16 // up)
    w = torch.randn(3, 16)
    noise = torch.randn(3, 1, 16, 16)
    got = layer(x, w, noise=noise, fused_modconv=fused)
    assert got.shape == (3, 5, 16, 16)
    torch.testing.assert_close(got, _layer_reference(layer, x, w, noise), rtol=1e-5, atol=1e-5)
    const = layer(x, w, noise_mode="const", fused_modconv=fused)  # the buffer stands in for a missing map
    torch.testing.assert_close(const, _layer_reference(layer, x, w, layer.noise_const.expand(3, 1, 16, 16)),
                               rtol=1e-5, atol=1e-5)


def test_fused_and_unfused_modconv_agree(small):
    ws = small.mapping(_z(3, 128))
    a = small.synthesis(ws, fused_modconv=False)
    b = small.synthesis(ws, fused_modconv=True)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_torgb_matches_reference():
    torch.manual_seed(4)
    torgb = ToRGBLayer(in_channels=6, img_channels=3, w_dim=16)
    with torch.no_grad():
        torgb.bias.normal_()
        torgb.affine.bias.normal_()
    x, w = torch.randn(2, 6, 8, 8), torch.randn(2, 16)
    style = (w @ torgb.affine.weight.T / 4 + torgb.affine.bias) / math.sqrt(6)  # (N, I), no demodulation
    expected = torch.einsum("oi,ni,nihw->nohw", torgb.weight[:, :, 0, 0], style, x) + torgb.bias[None, :, None, None]
    torch.testing.assert_close(torgb(x, w), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torgb(x, w, fused_modconv=True), expected, rtol=1e-5, atol=1e-5)


def test_torgb_channels_last_keeps_layout_values_and_gradients():
    """The 1x1 product on channels-last activations: same image and gradients, and the gradient stays channels-last."""
    torch.manual_seed(5)
    torgb = ToRGBLayer(in_channels=6, img_channels=3, w_dim=16)
    x, w = torch.randn(2, 6, 8, 8), torch.randn(2, 16, requires_grad=True)
    grads = {}
    for layout in (torch.contiguous_format, torch.channels_last):
        xi = x.contiguous(memory_format=layout).requires_grad_(True)
        out = torgb(xi, w)
        (gx, gw) = torch.autograd.grad(out.square().sum(), (xi, w))
        grads[layout] = out, gx, gw
        assert gx.is_contiguous(memory_format=layout)  # a mixed-layout gradient made later backward ops 10-25x slower
    for a, b in zip(grads[torch.contiguous_format], grads[torch.channels_last]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_pixel_product_gradients_are_exact_twice():
    from pulse_teach.stylegan2 import _PixelProduct

    x = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)  # (N, P, I)
    weight = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)  # (N, O, I)
    assert torch.autograd.gradcheck(_PixelProduct.apply, (x, weight))
    assert torch.autograd.gradgradcheck(_PixelProduct.apply, (x, weight))  # R1-style double backward works


def test_upfirdn2d_hand_cases():
    f = setup_filter()
    assert torch.allclose(f, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)
    const = upsample2d(torch.full((1, 2, 6, 6), 2.0), f)
    assert const.shape == (1, 2, 12, 12)
    assert torch.allclose(const[:, :, 1:-1, 1:-1], torch.tensor(2.0))  # interior keeps the constant
    assert torch.allclose(const[0, 0, 0, 1:-1], torch.tensor(1.5))  # border row misses the 1/4 tap
    delta = torch.zeros(1, 1, 6, 6)
    delta[0, 0, 2, 3] = 1.0
    out = upsample2d(delta, f)[0, 0]
    per_axis = torch.tensor([1.0, 3, 3, 1]) / 8 * 2  # [1,3,3,1]/8 per axis, gain 2 per axis
    expected = torch.zeros(12, 12)
    expected[3:7, 5:9] = torch.outer(per_axis, per_axis)  # rows 2i-1..2i+2, cols 2j-1..2j+2
    assert torch.allclose(out, expected)
    assert out.sum().item() == pytest.approx(4.0)  # the gain
    x = torch.randn(2, 3, 9, 9)
    assert upfirdn2d(x, f, pad=(1, 1, 1, 1)).shape == (2, 3, 8, 8)  # 9 + 2 - 4 + 1
    assert upfirdn2d(x, f, down=2, pad=(1, 1, 1, 1)).shape == (2, 3, 4, 4)
    assert upfirdn2d(x, f, up=2, pad=(0, 0, 1, 2)).shape == (2, 3, 18, 15)  # (x0, x1, y0, y1)
    torch.testing.assert_close(upfirdn2d(x, f, up=2, pad=(2, 1, 2, 1), gain=4), _fir_reference(
        F.pad(x.reshape(2, 3, 9, 1, 9, 1), (0, 1, 0, 0, 0, 1)).reshape(2, 3, 18, 18), (2, 1, 2, 1)))


def test_up_conv_border_band():
    """§5.4: conv-transpose-then-FIR is a true convolution with W (kernel flipped vs conv2d); it equals
    upsample-then-conv only away from the border, so the order of the two steps matters."""
    torch.manual_seed(5)
    x, weight, styles = torch.randn(1, 4, 8, 8), torch.randn(3, 4, 3, 3), torch.ones(1, 4)
    ours = modulated_conv2d(x, weight, styles, demodulate=False, up=2, resample_filter=setup_filter())
    alt = F.conv2d(upsample2d(x, setup_filter()), weight.flip([2, 3]), padding=1)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], alt[..., 1:-1, 1:-1], rtol=1e-5, atol=1e-5)
    assert (ours - alt)[..., 0, :].abs().max() > 1e-2 and (ours - alt)[..., :, -1].abs().max() > 1e-2
    unflipped = F.conv2d(upsample2d(x, setup_filter()), weight, padding=1)
    assert (ours - unflipped)[..., 2:-2, 2:-2].abs().max() > 1e-2


# ---------------------------------------------------------------- noise, errors, clamp

def test_noise_modes(small):
    G = copy.deepcopy(small)
    ws = G.mapping(_z(2, 128))
    outs = {m: G.synthesis(ws, noise_mode=m) for m in ("const", "none", "random")}
    assert torch.equal(outs["const"], G.synthesis(ws, noise_mode="const"))
    assert torch.equal(outs["none"], G.synthesis(ws, noise_mode="none"))
    assert torch.equal(outs["random"], outs["none"])  # noise_strength is 0 at init
    for layer in G.synthesis.layers():
        layer.noise_strength.fill_(0.5)
    const, none = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="none")
    r1, r2 = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
    assert not torch.allclose(const, none) and not torch.allclose(r1, r2)
    assert torch.equal(G.synthesis(ws, noise=[None] * 9), const)
    zeros = [torch.zeros(1, 1, h, w) for h, w in G.noise_shapes]
    torch.testing.assert_close(G.synthesis(ws, noise=zeros), none)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="fixed")
    with pytest.raises(ValueError, match="9 entries"):
        G.synthesis(ws, noise=[None] * 8)
    with pytest.raises(ValueError, match=r"noise\[2\]"):
        G.synthesis(ws, noise=[None, None, torch.zeros(4, 4)] + [None] * 6)


def test_explicit_noise_overrides_buffer_and_gets_gradients(small):
    G = copy.deepcopy(small)
    for layer in G.synthesis.layers():
        layer.noise_strength.fill_(0.5)
    ws = G.mapping(_z(2, 128))
    maps = [torch.randn(1, 1, h, w, requires_grad=True) for h, w in G.noise_shapes[:3]]
    img = G.synthesis(ws, noise=maps + [None] * 6)
    assert not torch.allclose(img, G.synthesis(ws, noise_mode="const"))
    img.square().mean().backward()
    for m in maps:
        assert m.grad is not None and m.grad.abs().sum() > 0


def test_ws_gradients_and_shape_errors(small):
    ws = small.mapping(_z(2, 128)).requires_grad_(True)
    small.synthesis(ws).mean().backward()
    assert ws.grad is not None and torch.isfinite(ws.grad).all() and ws.grad.abs().sum() > 0
    for bad in (torch.zeros(2, 9, 128), torch.zeros(2, 10, 64), torch.zeros(10, 128)):
        with pytest.raises(ValueError, match=r"\(N, 10, 128\)"):
            small.synthesis(bad)


def test_conv_clamp(small):
    clamp = 0.0625  # exact in float32
    G = Generator(**{**SMALL_64, "conv_clamp": clamp}).eval()
    G.load_state_dict(small.state_dict())
    acts = []
    hooks = [layer.register_forward_hook(lambda m, i, out: acts.append(out.abs().max().item()))
             for layer in G.synthesis.layers()]
    z = _z(2, 128)
    img = G(z)
    for h in hooks:
        h.remove()
    assert max(acts) <= clamp and len(acts) == 9
    # each ToRGB is clamped and upsampling averages with positive weights: |img| <= blocks * clamp
    assert img.abs().max().item() <= 5 * clamp + 1e-6
    assert not torch.allclose(img, small(z))
    loose = Generator(**{**SMALL_64, "conv_clamp": 1e4})
    loose.load_state_dict(small.state_dict())
    assert torch.equal(loose(z), small(z))


# ---------------------------------------------------------------- determinism and loading

def test_determinism_float32():
    torch.manual_seed(11)
    g1 = Generator(**SMALL_64)
    torch.manual_seed(11)
    g2 = Generator(**SMALL_64)
    z = _z(2, 128)
    assert all(t.dtype == torch.float32 for t in g1.state_dict().values())
    assert torch.equal(g1(z), g2(z)) and torch.equal(g1(z), g1(z))
    assert g1(z).dtype == torch.float32


def test_load_state_dict_round_trip(small):
    torch.manual_seed(99)
    other = Generator(**SMALL_64)
    z = _z(2, 128)
    assert not torch.allclose(other(z), small(z))
    result = other.load_state_dict(small.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(other(z), small(z))
    for key, t in small.state_dict().items():
        assert torch.equal(other.state_dict()[key], t), key
