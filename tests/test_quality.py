"""Tests for pulse_teach.quality: the Fréchet distance, attribute distributions and a generator's report."""
from __future__ import annotations

import pytest
import torch

from pulse_teach import faces
from pulse_teach.probe import AttributeProbe
from pulse_teach.quality import distribution, evaluate_generator, frechet_distance, generate
from pulse_teach.stylegan2 import SMALL_64, Generator


def test_frechet_distance_of_known_gaussians():
    a = torch.randn(4000, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = a - a.mean(0)  # centred, so scaling it leaves the mean at 0
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = torch.tensor([3.0, 0, 0, 0, 0, 4.0], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(25, abs=1e-6)  # same covariance: |mu_a - mu_b|^2
    # S_b = 4 S_a: tr(S_a + 4 S_a - 2 * 2 S_a) = tr(S_a)
    assert frechet_distance(a, 2 * a) == pytest.approx(float(torch.cov(a.T).trace()), rel=1e-6)


def test_frechet_distance_refuses_mismatched_features():
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(torch.randn(10, 3), torch.randn(10, 4))


def test_distribution_shares():
    dicts = faces.sample_attributes(400, 1, skin_tone={"light": 0.9, "dark": 0.1}, glasses="round")
    shares = distribution(dicts)
    assert shares["glasses"] == {"none": 0, "round": 1, "square": 0}
    assert shares["skin_tone"]["light"] == pytest.approx(0.9, abs=0.05)
    assert all(sum(v.values()) == pytest.approx(1) for v in shares.values())


def test_generator_report_has_every_figure():
    torch.manual_seed(0)
    G = Generator(**SMALL_64).eval().requires_grad_(False)
    assert torch.equal(generate(G, 4, seed=5), generate(G, 4, seed=5))  # same seed, same samples
    report = evaluate_generator(G, AttributeProbe().eval(), n=32)
    assert report["frechet_distance"] > 0 and report["n"] == 32
    assert 0 < report["frechet_renders"] < report["frechet_distance"]  # two render sets sit closer than G
    assert set(report["renders"]) == set(report["generated"]) == set(faces.ATTRIBUTE_BY_NAME)
