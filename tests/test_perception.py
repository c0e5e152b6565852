"""Tests for pulse_teach.perception: the perception-distortion plane of lesson 06."""
from __future__ import annotations

import pytest
import torch

from pulse_teach import faces, seed_plan
from pulse_teach.downscale import bicubic_downsample
from pulse_teach.perception import (
    Upsampler,
    UpsamplerConfig,
    average_points,
    bicubic_up,
    nearest_up,
    plane_figure,
    plane_points,
    posterior_mean,
    train_upsampler,
    training_pairs,
)
from pulse_teach.recovery import posterior_renders, posterior_seed
from pulse_teach.samples import held_out_samples


@pytest.fixture(scope="module")
def sample():
    return held_out_samples(1)[0]


def test_baselines_keep_the_input_and_upsampler_shapes():
    y = torch.rand(2, 3, 8, 8)
    assert torch.equal(nearest_up(y)[:, :, ::8, ::8], y)  # blocks of the input pixels
    assert bicubic_up(y).shape == (2, 3, 64, 64) and 0 <= bicubic_up(y).min() and bicubic_up(y).max() <= 1
    net = Upsampler(factor=16, channels=8)
    assert net(torch.rand(2, 3, 4, 4)).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="factor must divide 64"):
        UpsamplerConfig(factor=5)
    for field, value in (("factor", 8.0), ("factor", "8"), ("steps", True)):
        with pytest.raises(ValueError, match=f"{field} must be an integer"):
            UpsamplerConfig(**{field: value})
    with pytest.raises(ValueError, match="channels must be >= 1"):
        UpsamplerConfig(channels=0)
    with pytest.raises(ValueError, match="learning_rate must be a number > 0"):
        UpsamplerConfig(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="low_res must be a \\(N, 3, H, W\\) float tensor"):
        bicubic_up(torch.rand(3, 8, 8))


def test_training_draws_its_own_faces_and_lowers_the_error():
    low_res, truth = training_pairs(4, seed_plan.face_seeds("upsampler training").start, 8)
    assert low_res.shape == (4, 3, 8, 8) and truth.shape == (4, 3, 64, 64)
    assert torch.equal(low_res, (low_res * 255).round() / 255)  # 8-bit inputs, as PNG files are
    assert torch.allclose(low_res, bicubic_downsample(truth, 8).clamp(0, 1), atol=0.5 / 255 + 1e-6)
    seen = []
    model, history = train_upsampler(UpsamplerConfig(steps=200, batch=16, channels=48), callback=lambda step, loss: seen.append(step))
    assert seen == list(range(1, 201)) and len(history["mse"]) == len(history["bicubic"]) == 200 and not model.training
    low_res, truth = training_pairs(64, seed_plan.PLAN["upsampler training"].stop - 1, 8)  # faces it never saw
    with torch.no_grad():
        learned, bicubic = (model(low_res) - truth).square().mean(), (bicubic_up(low_res) - truth).square().mean()
    assert learned < 0.8 * bicubic  # it learns more than interpolation (measured: 0.0058 against 0.0088)
    assert train_upsampler(UpsamplerConfig(steps=3, batch=2, channels=4))[1] == \
        train_upsampler(UpsamplerConfig(steps=3, batch=2, channels=4))[1]  # seeded


def test_posterior_mean_is_the_least_squares_answer_and_a_posterior_sample_is_real(sample):
    mean = posterior_mean(sample.attributes, 64, posterior_seed(50))
    fresh = posterior_renders(sample.attributes, 8, posterior_seed(60))
    estimates = {"posterior mean": mean[None], "a posterior sample": fresh, "truth": sample.truth[None],
                 "flat grey": torch.full((1, 3, 64, 64), 0.5)}
    points = plane_points(estimates, sample.truth, sample.attributes)  # measured: gaps 1.58 and 0.93
    assert points["truth"]["mse"] == 0 and points["a posterior sample"]["count"] == 8
    # Blau & Michaeli: the posterior mean has less error than a sample, and is further from every valid face
    assert points["posterior mean"]["mse"] < points["a posterior sample"]["mse"]
    assert points["posterior mean"]["realism_gap"] > points["a posterior sample"]["realism_gap"]
    assert 0.3 < points["a posterior sample"]["realism_gap"] < 2 and points["flat grey"]["realism_gap"] > 3
    averaged = average_points([points, points])
    assert averaged["truth"] == {"mse": 0.0, "realism_gap": points["truth"]["realism_gap"]}
    fig = plane_figure({"x8": averaged, "again": averaged})
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == list(estimates)  # one legend, on the right
    assert [ax.get_title() for ax in fig.axes] == ["x8", "again"]
    with pytest.raises(ValueError, match="estimates\\['empty'\\] is empty"):
        plane_points({"empty": torch.zeros(0, 3, 64, 64)}, sample.truth, sample.attributes, bank=10)
    bad_calls = [(({"x": sample.truth[None].byte()}, sample.truth, sample.attributes), "float tensor in \\[0, 1\\], got torch.uint8"),
                 (({"x": sample.truth[None]}, sample.truth[None], sample.attributes), "truth must be one \\(3, 64, 64\\)"),
                 (({"x": sample.truth[None]}, sample.truth, {}), "coarse attributes"),
                 (({"x": sample.truth[None].numpy()}, sample.truth, sample.attributes), "got ndarray")]
    for args, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            plane_points(*args)
    with pytest.raises(ValueError, match="bank >= 2"):
        plane_points({"x": sample.truth[None]}, sample.truth, sample.attributes, bank=0)
    with pytest.raises(ValueError, match="n >= 1"):
        posterior_mean(sample.attributes, 0, 1)
    with pytest.raises(ValueError, match="no panels"):
        plane_figure({})
    assert faces.COARSE  # the posterior keeps these
