"""PULSE at FFHQ scale: official presets, memory planning, mixed precision, and a 1024x1024 run on CPU.

The end-to-end test is the slow one (one step at 1024x1024: ~10 s on an idle 2-core CPU, more under load).
"""
from __future__ import annotations

import pytest
import torch

from pulse_teach.latent import GaussianFit
from pulse_teach.memory_plan import seeds_that_fit, step_peak_bytes
from pulse_teach.pulse import PRESETS, PulseConfig, _Search, upsample
from pulse_teach.stylegan2 import FFHQ_1024, Generator

TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)


@pytest.mark.parametrize("name, side", [("x64", 16), ("x32", 32)])
def test_presets_match_the_official_run_on_stylegan2_1024(name, side):
    config = PulseConfig.preset(name)
    assert PRESETS[name]["input_side"] == side and PRESETS[name]["resolution"] // side == int(name[1:])
    assert (config.steps, config.learning_rate, config.lr_schedule, config.optimizer) == (100, 0.4, "linear1cycledrop", "adam")
    assert (config.loss, config.eps, config.num_seeds, config.tile_latent) == ("100*L2+0.05*GEOCROSS", 2e-3, 1, False)
    assert config.sphere_radius == "initial" and config.gaussian_fit_samples == 1_000_000
    with torch.device("meta"):
        G = Generator(**FFHQ_1024)  # shapes only, no memory
    fit = GaussianFit(torch.zeros(512), torch.ones(512), 2)
    search = _Search(G, torch.zeros(1, 3, side, side), 1024 // side, fit, config, [], None)
    assert G.num_ws == 18 and len(search.noise_shapes) == 17  # 18 latents; StyleGAN2 has 17 noise maps
    assert search.trainable == [0, 1, 2, 3, 4] and search.zeroed == {16}  # first 5 searched, 1024 px zeroed
    assert [search.noise_shapes[i][0] for i in search.trainable] == [4, 8, 8, 16, 16]
    assert PulseConfig.preset(name, num_seeds=4).num_seeds == 4


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="x64"):
        PulseConfig.preset("x16")


def test_seed_plan_arithmetic():
    gib = 2**30
    assert seeds_that_fit(80 * gib, 2 * gib, 3 * gib, headroom=0.9) == 23  # (72 - 2) // 3
    assert seeds_that_fit(4 * gib, 2 * gib, 3 * gib) == 1  # always at least one seed
    assert seeds_that_fit(80 * gib, 0, gib // 100, max_seeds=64) == 64
    with pytest.raises(ValueError, match="headroom"):
        seeds_that_fit(gib, 0, gib, headroom=1.5)


def test_memory_plan_refuses_cpu_with_advice():
    with pytest.raises(ValueError, match="CUDA"):
        step_peak_bytes(Generator(**TINY), 4, 1)


def test_mixed_precision_changes_the_numbers_only_slightly():
    torch.manual_seed(0)
    G = Generator(**TINY).eval()
    target = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(1))
    runs = {mixed: upsample(G, target, PulseConfig(steps=3, num_seeds=2, gaussian_fit_samples=2_000,
                                                   mixed_precision=mixed))
            for mixed in (False, True)}
    full, half = runs[False].history["l2"], runs[True].history["l2"]  # (steps, seeds)
    assert runs[True].images.dtype == torch.float32
    assert not torch.equal(full, half)  # autocast was really on (bfloat16 on CPU)
    assert torch.allclose(full[0], half[0], rtol=0.05)  # same starts: the first MSE agrees to bfloat16 precision


def test_pulse_runs_end_to_end_at_1024_on_cpu():
    torch.manual_seed(0)
    G = Generator(**FFHQ_1024).eval()  # FFHQ-1024 shapes, random weights
    low_res = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    steps = []
    result = upsample(G, low_res, PulseConfig.preset("x64", steps=1, gaussian_fit_samples=2_000),
                      callbacks=steps.append)
    assert result.factor == 64 and result.images.shape == (1, 3, 1024, 1024) and result.ws.shape == (1, 18, 512)
    assert result.downscaled.shape == (1, 3, 16, 16) and torch.isfinite(result.images).all()
    assert len(steps) == 1 and torch.isfinite(result.l2).all() and result.steps_run == 1
