"""Tests for pulse_teach.samples: the bundled lesson faces are held out, re-renderable and consistent."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pulse_teach import faces
from pulse_teach.downscale import bicubic_downsample
from pulse_teach.probe import EVAL_SEED
from pulse_teach.quality import REFERENCE_SEED
from pulse_teach.samples import SAMPLES_SEED, held_out_samples, list_samples, load_sample, write_samples


def test_bundled_samples_cover_both_skin_groups_and_ambiguous_pairs():
    names = list_samples()
    groups = [faces.skin_group(load_sample(n).attributes["skin_tone"]) for n in names]
    assert len(names) == 12 and groups[:8].count("light") == groups[:8].count("dark") == 4
    for light, dark in (("face8", "face9"), ("face10", "face11")):  # light in shade, dark in the sun
        a, b = load_sample(light), load_sample(dark)
        assert {k for k in a.attributes if a.attributes[k] != b.attributes[k]} == {"skin_tone", "exposure"}
        assert faces.skin_group(a.attributes["skin_tone"]) == "light" != faces.skin_group(b.attributes["skin_tone"])
        assert (a.low_res[8] - b.low_res[8]).square().mean().sqrt() < 0.5 * (a.truth - b.truth).square().mean().sqrt()


@pytest.mark.parametrize("name", ["face0", "face5"])
def test_sample_is_its_render_and_its_downscales(name):
    sample = load_sample(name)
    truth = faces.render(sample.attributes)  # the renderer is deterministic: the PNG is exactly this face
    assert np.array_equal((sample.truth.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), truth)
    for side, low in sample.low_res.items():
        assert low.shape == (3, side, side)
        expected = bicubic_downsample(sample.truth[None], 64 // side)[0].clamp(0, 1)
        assert (low - expected).abs().max() <= 0.5 / 255 + 1e-6  # PNG rounding only


def test_sample_seeds_are_held_out():
    assert SAMPLES_SEED > max(EVAL_SEED, REFERENCE_SEED)  # training draws seeds below EVAL_SEED


def test_held_out_samples_are_made_like_the_lesson_samples():
    held = held_out_samples(3)
    assert [s.name for s in held] == ["held0", "held1", "held2"]
    assert [faces.skin_group(s.attributes["skin_tone"]) for s in held] == ["light", "light", "dark"]
    lesson = [load_sample(name).attributes for name in list_samples()]
    for sample in held:
        assert sample.attributes not in lesson
        assert np.array_equal((sample.truth.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
                              faces.render(sample.attributes))
        expected = bicubic_downsample(sample.truth[None], 8)[0].clamp(0, 1)  # (3, 8, 8)
        assert (sample.low_res[8] - expected).abs().max() <= 0.5 / 255 + 1e-6
        assert torch.equal(sample.low_res[8], (sample.low_res[8] * 255).round() / 255)  # 8 bits, as the PNG


def test_write_samples_reproduces_the_bundle(tmp_path):
    assert write_samples(tmp_path, per_group=1, pairs=1) == ["face0", "face1", "face2", "face3"]
    assert torch.equal(load_sample("face0", tmp_path).truth, load_sample("face0").truth)
    with pytest.raises(ValueError, match="unknown sample"):
        load_sample("face99", tmp_path)
