"""Tests for pulse_teach.inverse2d: the 2-D inverse problem of lesson 02, section 3.1."""
from __future__ import annotations

import pytest
import torch

from pulse_teach.gan2d import Gan2D, Gan2DConfig, mode_centres
from pulse_teach.inverse2d import inverse_figure, observe, posterior_mean, posterior_samples, search_latent


@pytest.fixture(scope="module")
def ring_lab():
    lab = Gan2D(Gan2DConfig(data="ring"))
    lab.run(1200)  # ~4 s: most of the ring's 8 blobs
    return lab


def test_posterior_lies_on_the_line_and_its_mean_off_the_data(ring_lab):
    samples = posterior_samples(ring_lab, 0.0, tolerance=0.05)
    assert len(samples) > 100 and (observe(samples).abs() <= 0.05).all()
    assert samples[:, 1].abs().min() > 1.0  # only the top and bottom blobs cross x = 0
    mean = posterior_mean(ring_lab, 0.0)
    centres = torch.as_tensor(mode_centres(ring_lab.config), dtype=torch.float32)  # (8, 2)
    assert mean.norm() < 0.2 and (centres - mean).norm(dim=1).min() > 1.0  # consistent, yet on no data
    with pytest.raises(ValueError, match="no data crosses the line x = 1.9"):
        posterior_mean(ring_lab, 1.9)


def test_search_finds_points_on_the_line_and_on_the_data(ring_lab):
    solutions, accepted = search_latent(ring_lab, 0.0, seeds=12)
    assert solutions.shape == (12, 2) and accepted.shape == (12,) and accepted.sum() >= 3
    found = solutions[accepted]
    assert (observe(found).abs() <= 0.05).all()
    centres = torch.as_tensor(mode_centres(ring_lab.config), dtype=torch.float32)
    assert ((found[:, None] - centres[None]).norm(dim=2).min(dim=1).values < 0.35).all()  # each on a blob
    weights = [p.clone() for p in ring_lab.G.parameters()]
    search_latent(ring_lab, 0.5, seeds=2, steps=5)
    assert all(torch.equal(a, b) for a, b in zip(weights, ring_lab.G.parameters()))  # G is not trained
    fig = inverse_figure(ring_lab, 0.0, solutions, accepted)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]  # one legend, right of the plane
    assert f"searched in G's latent: {int(accepted.sum())} within eps" in labels
    assert "posterior mean (least squared error)" in labels
