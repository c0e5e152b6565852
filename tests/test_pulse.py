import dataclasses
import math

import numpy as np
import pytest
import torch
from PIL import Image

from pulse_teach import PulseConfig, bicubic_downsample, lr_multiplier, upsample
from pulse_teach.images import to_pil
from pulse_teach.latent import fit_gaussian
from pulse_teach.pulse import _Search, infer_factor, parse_loss, restart_seed
from pulse_teach.sphere import sphere_norm
from pulse_teach.stylegan2 import SMALL_64, Generator

FIT = 20_000  # Gaussian-fit samples: enough for these tests, quick to compute


@pytest.fixture(scope="module")
def generator():
    """Random weights, ToRGB scaled by 0.3 so images have a real picture's contrast (not [-2.7, 2.7])."""
    torch.manual_seed(123)
    generator = Generator(**SMALL_64).eval()
    with torch.no_grad():
        for name, param in generator.named_parameters():
            if name.endswith("torgb.weight"):
                param.mul_(0.3)
    return generator


@pytest.fixture(scope="module")
def target(generator):
    """An 8x8 image that the generator itself can explain (so eps is reachable)."""
    with torch.no_grad():
        z = torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(7))
        return bicubic_downsample((generator(z) + 1) / 2, 8)[0]  # (3, 8, 8)


@pytest.mark.parametrize("step, lr", [(0, 0.04), (10, 0.12), (45, 0.4), (50, 0.36), (89, 0.048), (90, 0.04),
                                      (95, 0.0202), (99, 0.00436)])
def test_linear1cycledrop_values(step, lr):
    assert 0.4 * lr_multiplier("linear1cycledrop", step, 100) == pytest.approx(lr, abs=6e-5)


@pytest.mark.parametrize("step, lr", [(0, 0.04), (10, 0.112), (45, 0.364), (50, 0.4), (89, 0.1192), (99, 0.0472)])
def test_linear1cycle_values(step, lr):
    assert 0.4 * lr_multiplier("linear1cycle", step, 100) == pytest.approx(lr, abs=6e-5)


def test_fixed_schedule_and_unknown_schedule():
    assert lr_multiplier("fixed", 37, 100) == 1.0
    with pytest.raises(ValueError, match="schedule"):
        lr_multiplier("cosine", 0, 100)


def test_parse_loss():
    assert parse_loss("100*L2+0.05*GEOCROSS") == [(100.0, "L2"), (0.05, "GEOCROSS")]
    assert parse_loss("L1 + 2*L2") == [(1.0, "L1"), (2.0, "L2")]
    with pytest.raises(ValueError, match="unknown loss term"):
        parse_loss("100*L3")
    with pytest.raises(ValueError, match="bad weight"):
        parse_loss("x*L2")


@pytest.mark.parametrize("bad", [dict(steps=0), dict(lr_schedule="cosine"), dict(optimizer="lbfgs"), dict(eps=-1),
                                 dict(noise_type="pink"), dict(sphere_radius="unit"), dict(loss="L9"), dict(num_seeds=0)])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        PulseConfig(**bad)


def test_infer_factor():
    assert infer_factor(64, (8, 8)) == 8
    assert infer_factor(1024, (16, 16)) == 64
    with pytest.raises(ValueError, match="square"):
        infer_factor(64, (8, 16))
    with pytest.raises(ValueError, match="not an integer multiple"):
        infer_factor(64, (10, 10))
    with pytest.raises(ValueError, match=r"resize the input to one of \[2, 4, 8, 16, 32\]"):  # the sides inputs makes
        infer_factor(64, (48, 48))
    assert infer_factor(64, (64, 64)) == 1  # a full-size input: PULSE as a projection
    from pulse_teach import inputs, pulse
    assert pulse.infer_factor is inputs.infer_factor  # one factor rule


def test_every_seed_in_one_batch_reaches_eps(generator, target):
    config = PulseConfig(num_seeds=8, gaussian_fit_samples=FIT)
    result = upsample(generator, target, config)
    assert result.images.shape == (8, 3, 64, 64) and result.downscaled.shape == (8, 3, 8, 8)
    assert result.accepted.all(), result.summary()
    assert (result.l2 <= config.eps).all()
    # the returned images really do downscale to the input (recomputed independently of the search)
    recomputed = (bicubic_downsample(result.images, 8) - target).pow(2).mean(dim=(1, 2, 3))
    assert torch.allclose(recomputed, result.l2, rtol=1e-4, atol=1e-7)
    # the returned iterate is the best one: lowest total loss among the steps within eps
    hist = result.history
    for i in range(8):
        within = hist["l2"][:, i] <= config.eps
        assert int(result.best_step[i]) == int(torch.where(within, hist["total"][:, i], torch.inf).argmin())
    assert result.steps_run == 100 and not result.interrupted
    assert hist["l2"].shape == (100, 8) and hist["lr"].shape == (100,)


def test_same_seed_same_pictures_and_a_seed_does_not_depend_on_its_batch(generator, target):
    config = PulseConfig(steps=6, gaussian_fit_samples=FIT)
    a = upsample(generator, target, config, seeds=[0, 5, 9])
    b = upsample(generator, target, config, seeds=[0, 5, 9])
    assert torch.equal(a.images, b.images)
    alone = upsample(generator, target, config, seeds=[5])
    assert torch.allclose(alone.images[0], a.images[1], atol=1e-3)
    assert not torch.allclose(a.images[0], a.images[1], atol=1e-2)  # different seeds, different starts


def test_pil_input_and_tensor_input_agree(generator, target):
    config = PulseConfig(steps=3, gaussian_fit_samples=FIT)
    as_pil = to_pil(target)
    assert isinstance(as_pil, Image.Image)
    quantised = torch.from_numpy(np.array(as_pil)).permute(2, 0, 1).float() / 255
    a = upsample(generator, as_pil, config, seeds=[1])
    b = upsample(generator, quantised, config, seeds=[1])
    assert torch.equal(a.images, b.images)


def test_bad_input_size_gives_a_clear_error(generator):
    with pytest.raises(ValueError, match="integer multiple"):
        upsample(generator, torch.rand(3, 12, 12), PulseConfig(steps=1, gaussian_fit_samples=FIT))


def test_interrupt_returns_the_best_so_far(generator, target):
    def interrupt_at_step_5(event):
        if event.step == 5:
            raise KeyboardInterrupt

    result = upsample(generator, target, PulseConfig(num_seeds=2, gaussian_fit_samples=FIT), callbacks=interrupt_at_step_5)
    assert result.interrupted and result.steps_run == 6
    assert result.images.shape == (2, 3, 64, 64) and torch.isfinite(result.images).all()
    assert result.history["l2"].shape == (6, 2)
    assert (result.best_step <= 5).all()


def test_stop_flag_ends_the_search(generator, target):
    calls = []
    result = upsample(generator, target, PulseConfig(num_seeds=2, gaussian_fit_samples=FIT),
                      callbacks=calls.append, should_stop=lambda: len(calls) >= 3)
    assert result.interrupted and result.steps_run == 3 and len(calls) == 3


def test_callbacks_get_losses_every_step_and_images_on_a_cadence(generator, target):
    events = []
    upsample(generator, target, PulseConfig(steps=12, image_every=5, gaussian_fit_samples=FIT), seeds=3,
             callbacks=[events.append])
    assert [e.step for e in events] == list(range(12))
    assert [e.step for e in events if e.images is not None] == [0, 5, 10, 11]
    first = events[0]
    assert first.l2.shape == first.geocross.shape == first.total.shape == (3,)
    assert first.images.shape == (3, 3, 64, 64) and first.downscaled.shape == (3, 3, 8, 8)
    assert first.lr == pytest.approx(0.4 * lr_multiplier("linear1cycledrop", 0, 12))
    assert (events[-1].best_l2 <= events[0].l2 + 1e-12).all()


def test_restarts_retry_the_seeds_that_missed_eps(generator, target):
    config = PulseConfig(steps=4, eps=1e-12, restarts=2, gaussian_fit_samples=FIT)  # eps out of reach
    result = upsample(generator, target, config, seeds=[0, 1])
    assert not result.accepted.any()
    assert result.attempts.tolist() == [3, 3]
    assert len(result.restart_histories) == 2
    assert restart_seed(0, 1) not in (0, 1) and restart_seed(0, 1) != restart_seed(0, 2)


def test_tiled_latent_gives_one_w_for_all_layers(generator, target):
    result = upsample(generator, target, PulseConfig(steps=3, tile_latent=True, gaussian_fit_samples=FIT), seeds=2)
    assert torch.allclose(result.ws, result.ws[:, :1].expand_as(result.ws))
    assert (result.geocross < 1e-6).all()


def test_noise_layers_follow_the_config(generator, target):
    search = _Search(generator, target[None], 8, None, PulseConfig(), [], None)
    latent, noise = search.initial_state([0, 1])
    assert latent.shape == (2, generator.num_ws, generator.w_dim)
    assert len(noise) == generator.num_ws - 1
    assert [n.requires_grad for n in noise] == [True] * 5 + [False] * (len(noise) - 5)
    assert noise[-1].abs().sum() == 0 and noise[-2].abs().sum() > 0
    fixed = _Search(generator, target[None], 8, None, PulseConfig(noise_type="fixed"), [], None)
    assert not any(n.requires_grad for n in fixed.initial_state([0])[1])


def test_without_sphere_projection_the_latent_norms_drift(generator, target):
    """Same starts, same Adam: projected latents stay at norm sqrt(d), free ones drift off the sphere."""
    config = PulseConfig(steps=10, num_seeds=2, lr_schedule="fixed", loss="100*L2", eps=0.0, noise_type="zero",
                         gaussian_fit_samples=FIT)
    fit = fit_gaussian(generator, FIT)
    norms = {}
    for projected in (True, False):
        result = upsample(generator, target, dataclasses.replace(config, sphere_projection=projected))
        norms[projected] = sphere_norm(fit.from_w(result.ws), 2).flatten() / math.sqrt(generator.w_dim)  # (S * num_ws,)
    assert torch.allclose(norms[True], torch.ones_like(norms[True]), atol=1e-3)
    assert (norms[False] > 1.2).all()  # a random start's norm is 1 +- 0.06 sqrt(d) at d = 128


def test_upsample_never_moves_the_callers_generator(generator, target, monkeypatch):
    from pulse_teach import runtime

    config = PulseConfig(num_seeds=1, steps=1, gaussian_fit_samples=FIT)
    assert upsample(generator, target, config, device="cpu").images.device.type == "cpu"  # where it is: fine
    monkeypatch.setattr(runtime, "available_devices", lambda: ["cuda", "cpu"])  # as on a machine with a GPU
    with pytest.raises(ValueError, match=r"the model is on cpu, not cuda: move it there first"):
        upsample(generator, target, config, device="cuda")
    assert next(generator.parameters()).device.type == "cpu"  # still where the caller put it
    with pytest.raises(ValueError, match="not available here"):
        upsample(generator, target, config, device="xpu")
