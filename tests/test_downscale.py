"""Tests for pulse_teach.downscale: PULSE's bicubic downsampler against the spec and a direct formula."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pulse_teach.downscale import (
    DOWNSCALE_METHODS,
    bicubic_downsample,
    bicubic_taps,
    downscale,
    downscale_matrix,
    null_space_part,
    project_consistent,
)


def _reference_taps(factor: int) -> np.ndarray:
    """Keys a = -0.5 taps written out independently with plain Python floats."""
    a = -0.5

    def k(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return (a + 2) * x**3 - (a + 3) * x**2 + 1
        if x < 2:
            return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
        return 0.0

    taps = np.array([k((i - 2 * factor + 0.5) / factor) for i in range(4 * factor)])
    return taps / taps.sum()


def _reference_downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Direct float64 evaluation: reflect-pad both axes, then each output = taps^T window taps."""
    n, c, h, w = images.shape
    taps = _reference_taps(factor)
    before, after = (3 * factor) // 2, 3 * factor - (3 * factor) // 2
    padded = np.pad(images.astype(np.float64), ((0, 0), (0, 0), (before, after), (before, after)), mode="reflect")
    out = np.zeros((n, c, h // factor, w // factor))
    for i in range(n):
        for j in range(c):
            for y in range(h // factor):
                for x in range(w // factor):
                    window = padded[i, j, y * factor : y * factor + 4 * factor, x * factor : x * factor + 4 * factor]
                    out[i, j, y, x] = taps @ window @ taps
    return out


# --- 1. taps against the table in docs/pulse_method.md §6 -----------------------------------

@pytest.mark.parametrize(
    "factor, n_negative, tap_min, tap_max",
    [(8, 16, -0.00923, 0.1238), (32, 64, -0.00231, 0.0312), (64, 128, -0.00116, 0.0156)],
)
def test_taps_match_spec_table(factor, n_negative, tap_min, tap_max):
    taps = bicubic_taps(factor)
    assert taps.shape == (4 * factor,) and taps.dtype == torch.float64
    assert int((taps < 0).sum()) == n_negative
    assert taps.min().item() == pytest.approx(tap_min, abs=5e-6)
    assert taps.max().item() == pytest.approx(tap_max, abs=5e-5)
    assert taps.sum().item() == pytest.approx(1.0, abs=1e-14)
    assert torch.equal(taps, taps.flip(0))
    np.testing.assert_allclose(taps.numpy(), _reference_taps(factor), rtol=0, atol=1e-15)


def test_taps_dtype_and_returned_copy_is_safe_to_mutate():
    taps = bicubic_taps(4, dtype=torch.float32)
    assert taps.dtype == torch.float32
    taps.zero_()
    assert bicubic_taps(4).sum().item() == pytest.approx(1.0)


# --- 2. against the direct formula ----------------------------------------------------------------

@pytest.mark.parametrize("factor, h, w", [(2, 10, 6), (3, 18, 12), (4, 24, 16), (8, 24, 32)])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_matches_direct_formula(factor, h, w, channels):
    gen = torch.Generator().manual_seed(factor * 10 + channels)
    images = torch.rand(2, channels, h, w, generator=gen, dtype=torch.float64)
    expected = _reference_downsample(images.numpy(), factor)
    got64 = bicubic_downsample(images, factor)
    assert got64.shape == (2, channels, h // factor, w // factor)
    np.testing.assert_allclose(got64.numpy(), expected, rtol=0, atol=1e-12)
    images32 = images.float()
    got32 = bicubic_downsample(images32, factor)
    assert got32.dtype == torch.float32
    expected32 = _reference_downsample(images32.double().numpy(), factor)
    np.testing.assert_allclose(got32.numpy(), expected32, rtol=0, atol=1e-5)


def test_non_contiguous_input():
    images = torch.rand(1, 8, 16, 3, dtype=torch.float64).permute(0, 3, 1, 2)  # (1, 3, 8, 16) view
    np.testing.assert_allclose(
        bicubic_downsample(images, 2).numpy(), _reference_downsample(images.numpy(), 2), atol=1e-12
    )


# --- 3. hand-computed cases -----------------------------------------------------------------------

@pytest.mark.parametrize("factor, channels", [(2, 1), (3, 4), (8, 3), (64, 2)])
def test_constant_image_stays_constant(factor, channels):
    images = torch.full((2, channels, 2 * factor, 3 * factor), 0.7, dtype=torch.float64)
    out = bicubic_downsample(images, factor)
    assert out.shape == (2, channels, 2, 3)
    torch.testing.assert_close(out, torch.full_like(out, 0.7), rtol=0, atol=1e-13)


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_linear_plane_is_sampled_at_kernel_centres_in_the_interior(factor):
    h, w = 10 * factor, 12 * factor
    ys = torch.arange(h, dtype=torch.float64)[:, None]
    xs = torch.arange(w, dtype=torch.float64)[None, :]
    plane = (0.3 + 0.01 * ys - 0.02 * xs)[None, None]  # (1, 1, H, W)
    out = bicubic_downsample(plane, factor)[0, 0]
    # Block centre is j*f + (f-1)/2; with floor(3f/2) padding odd f lands half a pixel after it.
    centre = (factor - 1) / 2 + (0.5 if factor % 2 else 0.0)
    cy = torch.arange(h // factor, dtype=torch.float64)[:, None] * factor + centre
    cx = torch.arange(w // factor, dtype=torch.float64)[None, :] * factor + centre
    expected = 0.3 + 0.01 * cy - 0.02 * cx
    interior = (slice(2, h // factor - 2), slice(2, w // factor - 2))  # windows that touch no padding
    torch.testing.assert_close(out[interior], expected[interior], rtol=0, atol=1e-12)
    assert not torch.allclose(out[0, 0], expected[0, 0], atol=1e-6)  # reflect padding bends the border


def test_factor_one_is_identity_copy():
    images = torch.rand(2, 3, 5, 7)
    out = bicubic_downsample(images, 1)
    assert torch.equal(out, images) and out.data_ptr() != images.data_ptr()


# --- 4. shape, dtype, device, gradients -----------------------------------------------------------

def test_gradcheck_float64():
    images = torch.rand(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: bicubic_downsample(x, 2), (images,))
    assert torch.autograd.gradcheck(lambda x: bicubic_downsample(x, 4), (images,))


def test_gradient_flows_in_float32_and_dtype_kept():
    images = torch.rand(3, 3, 64, 64, requires_grad=True)
    out = bicubic_downsample(images, 8)
    assert out.shape == (3, 3, 8, 8) and out.dtype == torch.float32 and out.device == images.device
    out.square().mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


@pytest.mark.parametrize("factor, dtype", [(5, torch.float64), (7, torch.float32)])
def test_taps_cached_in_inference_mode_still_allow_autograd(factor, dtype):
    size = 4 * factor  # factors used nowhere else, so inference mode fills the caches first
    with torch.inference_mode():
        bicubic_taps(factor)  # the public entry point fills the float64 cache too
        bicubic_downsample(torch.rand(1, 1, size, size, dtype=dtype), factor)
    images = torch.rand(1, 1, size, size, dtype=dtype, requires_grad=True)
    bicubic_downsample(images, factor).sum().backward()
    assert images.grad is not None


def test_device_agnostic_on_meta_device():
    images = torch.empty(2, 3, 32, 32, device="meta")
    out = bicubic_downsample(images, 4)
    assert out.device.type == "meta" and out.shape == (2, 3, 8, 8)


# --- 5. errors ------------------------------------------------------------------------------------

def test_errors():
    good = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="divisible"):
        bicubic_downsample(torch.rand(1, 3, 16, 12), 8)
    with pytest.raises(TypeError, match="floating-point"):
        bicubic_downsample(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), 2)
    with pytest.raises(ValueError, match=r"images\[None\]"):
        bicubic_downsample(torch.rand(3, 16, 16), 2)
    with pytest.raises(ValueError, match="4-D"):
        bicubic_downsample(torch.rand(1, 1, 3, 16, 16), 2)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="positive"):
            bicubic_downsample(good, bad)
    for bad in (2.0, True, "2"):
        with pytest.raises(TypeError, match="positive int"):
            bicubic_downsample(good, bad)
    with pytest.raises(TypeError):
        bicubic_taps(True)
    with pytest.raises(ValueError, match="too small"):
        bicubic_downsample(torch.rand(1, 3, 8, 16), 8)  # one LR row: reflect pad 12 >= 8
    with pytest.raises(TypeError):
        bicubic_downsample(np.zeros((1, 3, 16, 16), dtype=np.float32), 2)


# --- 6. downscale and the other methods -----------------------------------------------------------

def test_area_is_block_mean():
    images = torch.rand(2, 3, 12, 8, dtype=torch.float64)
    out = downscale(images, 4, "area")
    expected = images.reshape(2, 3, 3, 4, 2, 4).mean(dim=(3, 5))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_nearest_picks_pixel_at_offset_half_factor(factor):
    images = torch.rand(1, 2, 3 * factor, 2 * factor)
    out = downscale(images, factor, "nearest")
    for y in range(3):
        for x in range(2):
            assert torch.equal(out[0, :, y, x], images[0, :, y * factor + factor // 2, x * factor + factor // 2])


def test_pil_bicubic_matches_direct_pillow_call():
    images = torch.rand(2, 3, 24, 16, dtype=torch.float64)
    out = downscale(images, 4, "pil-bicubic")
    assert out.dtype == torch.float64 and out.shape == (2, 3, 6, 4)
    for i in range(2):
        for c in range(3):
            plane = Image.fromarray(images[i, c].numpy().astype(np.float32))
            expected = np.asarray(plane.resize((4, 6), Image.Resampling.BICUBIC), dtype=np.float64)
            np.testing.assert_array_equal(out[i, c].numpy(), expected)


def test_pil_bicubic_equals_pulse_bicubic_away_from_borders():
    # Pillow's BICUBIC is also antialiased Keys a = -0.5 with the same tap positions for even f;
    # only border handling differs (Pillow renormalises a truncated kernel, PULSE reflects).
    images = torch.rand(1, 3, 48, 64, dtype=torch.float64)
    ours = downscale(images, 4, "bicubic")[..., 2:-2, 2:-2]
    pil = downscale(images, 4, "pil-bicubic")[..., 2:-2, 2:-2]
    torch.testing.assert_close(pil, ours, rtol=0, atol=1e-5)
    border_gap = (downscale(images, 4, "bicubic") - downscale(images, 4, "pil-bicubic"))[..., 0, :]
    assert border_gap.abs().max() > 1e-4


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_all_methods_agree_on_constant_images(factor):
    images = torch.full((1, 3, 4 * factor, 6 * factor), 0.25)
    outs = [downscale(images, factor, m) for m in DOWNSCALE_METHODS]
    for out in outs:
        assert out.shape == (1, 3, 4, 6) and out.dtype == torch.float32
        torch.testing.assert_close(out, torch.full_like(out, 0.25), rtol=0, atol=1e-7)


def test_downscale_unknown_method_and_checks_input():
    images = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="pil-bicubic"):
        downscale(images, 2, "lanczos")
    assert DOWNSCALE_METHODS == ("bicubic", "area", "nearest", "pil-bicubic")
    with pytest.raises(ValueError, match="divisible"):
        downscale(images, 3, "area")
    torch.testing.assert_close(downscale(images, 2), bicubic_downsample(images, 2), rtol=0, atol=0)


# --- 7. the matrix of D, its pseudo-inverse and its null space ------------------------------------

@pytest.mark.parametrize("method", DOWNSCALE_METHODS)
@pytest.mark.parametrize("factor, h, w", [(8, 64, 64), (4, 24, 32), (3, 18, 12)])
def test_downscale_is_the_separable_matrix(method, factor, h, w):
    images = torch.rand(2, 3, h, w, dtype=torch.float64)
    a_h, a_w = downscale_matrix(h, factor, method), downscale_matrix(w, factor, method)
    assert a_h.shape == (h // factor, h) and a_h.dtype == torch.float64
    expected = downscale(images, factor, method)
    atol = 1e-6 if method == "pil-bicubic" else 1e-13  # Pillow computes in float32
    torch.testing.assert_close(a_h @ images @ a_w.T, expected, rtol=0, atol=atol)


def test_downscale_matrix_rows_and_errors():
    a = downscale_matrix(16, 4, "area")
    expected = torch.kron(torch.eye(4, dtype=torch.float64), torch.full((1, 4), 0.25))  # block means
    torch.testing.assert_close(a, expected, rtol=0, atol=1e-15)
    taps = bicubic_taps(4)
    torch.testing.assert_close(downscale_matrix(32, 4)[3, 4 * 3 - 6: 4 * 3 + 10], taps, rtol=0, atol=1e-15)  # interior row
    a.zero_()  # a copy: the cache is untouched
    assert downscale_matrix(16, 4, "area").sum().item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="divisible"):
        downscale_matrix(30, 4)
    with pytest.raises(ValueError, match="unknown method"):
        downscale_matrix(32, 4, "lanczos")
    with pytest.raises(TypeError, match="positive int"):
        downscale_matrix(32, 4.0)


@pytest.mark.parametrize("method", DOWNSCALE_METHODS)
def test_project_consistent_hits_the_target_and_is_a_projection(method):
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 64, 64, generator=gen, dtype=torch.float64)
    target = torch.rand(1, 3, 8, 8, generator=gen, dtype=torch.float64)
    projected = project_consistent(images, target, 8, method)
    assert projected.shape == images.shape and projected.dtype == torch.float64
    atol = 1e-6 if method == "pil-bicubic" else 1e-12
    torch.testing.assert_close(downscale(projected, 8, method), target.expand(3, -1, -1, -1), rtol=0, atol=atol)
    torch.testing.assert_close(project_consistent(projected, target, 8, method), projected, rtol=0, atol=atol)
    # orthogonal: the change is perpendicular to every null-space direction, so it is the smallest change
    change = (projected - images).flatten(1)
    other = null_space_part(torch.rand(3, 3, 64, 64, generator=gen, dtype=torch.float64), 8, method).flatten(1)
    assert (change * other).sum(1).abs().max() < 1e-9 * change.norm() * other.norm() + atol
    assert change.norm(dim=1).min() > 0.1  # random images really had to move


def test_null_space_part_is_invisible_and_large():
    gen = torch.Generator().manual_seed(2)
    noise = torch.randn(2, 3, 64, 64, generator=gen)  # float32
    hidden = null_space_part(noise, 8)
    assert hidden.dtype == torch.float32
    assert bicubic_downsample(hidden, 8).abs().max() < 1e-5  # D sees (almost) nothing
    # 64 of 4096 directions per channel are visible, so almost all of random noise is hidden
    assert hidden.norm() / noise.norm() == pytest.approx(np.sqrt(1 - 64 / 4096), abs=0.01)
    torch.testing.assert_close(null_space_part(hidden, 8), hidden, rtol=0, atol=1e-5)  # idempotent
    face, other = torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
    mixed = face + null_space_part(other - face, 8)  # other's detail, face's 8x8 image
    torch.testing.assert_close(bicubic_downsample(mixed, 8), bicubic_downsample(face, 8), rtol=0, atol=1e-6)
    torch.testing.assert_close(mixed, project_consistent(other, bicubic_downsample(face, 8), 8), rtol=0, atol=1e-6)


def test_project_consistent_errors_and_device():
    images = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"low_res must be a tensor shaped \(2 or 1, 3, 4, 4\)"):
        project_consistent(images, torch.rand(2, 3, 8, 8), 4)
    with pytest.raises(ValueError, match="low_res"):
        project_consistent(images, torch.rand(3, 4, 4), 4)
    with pytest.raises(ValueError, match="unknown method"):
        project_consistent(images, torch.rand(1, 3, 4, 4), 4, "lanczos")
    with pytest.raises(TypeError, match="low_res must be a torch.Tensor"):
        project_consistent(images, np.zeros((1, 3, 4, 4), dtype=np.float32), 4)
    with pytest.raises(ValueError, match="too small"):
        null_space_part(torch.rand(1, 3, 8, 8), 8)
    out = project_consistent(torch.empty(2, 3, 16, 16, device="meta"), torch.empty(1, 3, 4, 4, device="meta"), 4)
    assert out.device.type == "meta" and out.shape == (2, 3, 16, 16)
