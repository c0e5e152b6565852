import math

import numpy as np
import pytest
import torch

from pulse_teach.sphere import SphericalOptimizer, geocross, geodesic_distance, project_to_sphere, sphere_norm


def reference_geocross(ws: np.ndarray) -> np.ndarray:
    """An independent float64 loop over the pairs, straight from the formula."""
    n, num_layers, d = ws.shape
    out = np.zeros(n)
    for b in range(n):
        acc = 0.0
        for i in range(num_layers):
            for j in range(num_layers):
                diff = math.sqrt(float(((ws[b, i] - ws[b, j]) ** 2).sum()) + 1e-9)
                summ = math.sqrt(float(((ws[b, i] + ws[b, j]) ** 2).sum()) + 1e-9)
                acc += (2 * math.atan2(diff, summ)) ** 2
        out[b] = d / 8 * acc / num_layers**2
    return out


def test_projection_puts_every_vector_on_the_sphere_of_radius_sqrt_d():
    x = torch.randn(4, 10, 128) * 3
    y = project_to_sphere(x, start_dim=2)
    norms = y.norm(dim=-1)
    assert torch.allclose(norms, torch.full_like(norms, math.sqrt(128)), atol=1e-4)
    # directions are unchanged
    assert torch.allclose(y / norms[..., None], x / x.norm(dim=-1, keepdim=True), atol=1e-6)


def test_projection_with_per_vector_radius_and_multi_dim_vectors():
    x = torch.randn(3, 1, 8, 8)  # noise maps: one 64-vector per (sample, channel)
    y = project_to_sphere(x, start_dim=2)
    assert torch.allclose(y.flatten(2).norm(dim=-1), torch.full((3, 1), 8.0), atol=1e-4)
    radius = torch.tensor([1.0, 2.0, 5.0]).view(3, 1, 1, 1)
    z = project_to_sphere(x, radius, start_dim=2)
    assert torch.allclose(z.flatten(1).norm(dim=-1), torch.tensor([1.0, 2.0, 5.0]), atol=1e-5)


def test_sphere_norm_rejects_bad_start_dim():
    with pytest.raises(ValueError, match="start_dim"):
        sphere_norm(torch.randn(3, 4), start_dim=2)


def test_geodesic_distance_is_the_angle():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 3.0], [-1.0, 0.0], [1.0, 1.0]])
    assert torch.allclose(geodesic_distance(a, b), torch.tensor([math.pi / 2, math.pi, math.pi / 4]), atol=1e-5)


def test_geocross_matches_an_independent_computation():
    torch.manual_seed(0)
    ws = torch.randn(3, 6, 16, dtype=torch.float64) + 0.5
    assert torch.allclose(geocross(ws), torch.from_numpy(reference_geocross(ws.numpy())), rtol=1e-10)


def test_geocross_is_per_sample_and_official_at_512():
    torch.manual_seed(1)
    ws = torch.randn(2, 18, 512)
    per_sample = geocross(ws)
    assert per_sample.shape == (2,)
    # d = 512: the official constant 64 * mean(theta^2); the official value sums over the batch
    assert torch.allclose(per_sample, torch.from_numpy(reference_geocross(ws.double().numpy())).float(), rtol=1e-4)
    assert torch.allclose(geocross(ws[:1]), per_sample[:1])


def test_geocross_is_zero_for_identical_rows():
    w = torch.randn(1, 1, 64)
    ws = w.expand(2, 10, 64).contiguous()
    value = geocross(ws)
    # only the 1e-9 stabiliser remains: theta = 2*atan2(sqrt(1e-9), ~2|w|)
    assert value.abs().max() < 1e-9 * 64


def test_geocross_rejects_2d_input():
    with pytest.raises(ValueError, match=r"\(N, L, d\)"):
        geocross(torch.randn(4, 8))


@pytest.mark.parametrize("radius", ["sqrt_d", "initial"])
def test_spherical_optimizer_projects_after_every_step(radius):
    torch.manual_seed(0)
    latent = (torch.randn(2, 5, 32) * 1.3).requires_grad_(True)
    initial_norms = latent.detach().norm(dim=-1).clone()
    opt = SphericalOptimizer(torch.optim.Adam([latent], lr=0.3), radius=radius)
    target = torch.randn(2, 5, 32)
    for _ in range(5):
        opt.zero_grad()
        (latent - target).pow(2).sum().backward()
        opt.step()
        norms = latent.detach().norm(dim=-1)
        expected = torch.full_like(norms, math.sqrt(32)) if radius == "sqrt_d" else initial_norms
        assert torch.allclose(norms, expected, atol=1e-4)
    assert not torch.allclose(latent.detach().norm(dim=-1), torch.full((2, 5), 1.3 * math.sqrt(32)))


def test_spherical_optimizer_rejects_unknown_radius():
    with pytest.raises(ValueError, match="radius"):
        SphericalOptimizer(torch.optim.SGD([torch.zeros(1, 1, 2, requires_grad=True)], lr=1), radius="unit")
