"""Tests for the procedural face world: schema, seeded sampling, overrides, rendering, coarse/fine."""
from __future__ import annotations

import numpy as np
import pytest

from pulse_teach import faces
from pulse_teach.faces import ATTRIBUTES, COARSE, FINE, dataset, render, sample_attributes

PULSE_EPS_RMS = 0.045  # RMS of the MSE 2e-3 at which PULSE stops: differences below it are invisible


def down8(image: np.ndarray) -> np.ndarray:
    """Area-average a (64, 64, 3) uint8 image to (8, 8, 3) floats in [0, 1]."""
    return image.astype(float).reshape(8, 8, 8, 8, 3).mean(axis=(1, 3)) / 255


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def test_schema_partition_and_values():
    names = [a.name for a in ATTRIBUTES]
    assert len(names) == len(set(names))
    assert set(COARSE) == {"skin_tone", "hair_color", "hair_style", "head_shape", "background",
                           "shirt_color", "lighting", "exposure"}
    assert set(FINE) == {"iris_color", "freckles", "facial_hair", "glasses", "earrings",
                         "eyebrows", "mouth"}
    assert set(COARSE) | set(FINE) == set(names) and not set(COARSE) & set(FINE)
    for a in ATTRIBUTES:
        assert a.kind in ("categorical", "continuous") and a.description
        if a.kind == "categorical":
            assert len(a.values_or_range) >= 2 and all(isinstance(v, str) for v in a.values_or_range)
            assert a.weights is None or len(a.weights) == len(a.values_or_range)
        else:
            low, high = a.values_or_range
            assert low < high
    for face in sample_attributes(300, seed=1):
        assert list(face) == names
        for a in ATTRIBUTES:
            if a.kind == "categorical":
                assert face[a.name] in a.values_or_range
            else:
                assert a.values_or_range[0] <= face[a.name] <= a.values_or_range[1]
    # every category shows up under the default priors
    drawn = sample_attributes(300, seed=2)
    for a in ATTRIBUTES:
        if a.kind == "categorical":
            assert {f[a.name] for f in drawn} == set(a.values_or_range), a.name


def test_sampling_is_deterministic_per_seed():
    assert sample_attributes(50, seed=7) == sample_attributes(50, seed=7)
    assert sample_attributes(50, seed=7) != sample_attributes(50, seed=8)
    images, attrs = dataset(6, seed=3)
    images_again, attrs_again = dataset(6, seed=3)
    assert attrs == attrs_again and np.array_equal(images, images_again)
    other, _ = dataset(6, seed=4)
    assert not np.array_equal(images, other)


def test_overrides_fix_values_and_leave_other_attributes_alone():
    plain = sample_attributes(200, seed=5)
    fixed = sample_attributes(200, seed=5, glasses="none", hair_color="ginger", lighting=0.25)
    for p, f in zip(plain, fixed):
        assert f["glasses"] == "none" and f["hair_color"] == "ginger" and f["lighting"] == 0.25
        for name in ("skin_tone", "hair_style", "iris_color", "mouth"):
            assert p[name] == f[name]  # own random stream per attribute
    weighted = sample_attributes(400, seed=5, mouth={"smile": 1.0, "grin": 3.0})
    grins = sum(f["mouth"] == "grin" for f in weighted) / 400
    assert {f["mouth"] for f in weighted} == {"smile", "grin"} and 0.68 < grins < 0.82
    ranged = sample_attributes(200, seed=5, skin_tone=(0.2, 0.3))
    assert all(0.2 <= f["skin_tone"] <= 0.3 for f in ranged)
    assert all(faces.skin_group(f["skin_tone"]) == "dark"
               for f in sample_attributes(100, seed=5, skin_tone="dark"))


def test_skin_tone_distributions():
    skewed = sample_attributes(2000, seed=11, skin_tone={"light": 0.9, "dark": 0.1})
    light = np.mean([faces.skin_group(f["skin_tone"]) == "light" for f in skewed])
    assert abs(light - 0.9) < 0.025
    balanced = sample_attributes(2000, seed=11, skin_tone="balanced")
    tones = np.array([f["skin_tone"] for f in balanced])
    assert abs(np.mean(tones < faces.SKIN_THRESHOLD) - 0.5) < 0.04
    assert tones.min() < 0.02 and tones.max() > 0.98  # covers the whole ramp
    assert faces.skin_group(0.0) == "light" and faces.skin_group(1.0) == "dark"
    assert faces.skin_group(faces.SKIN_THRESHOLD) == "dark"
    assert sum(faces.skin_color(0.0)) > sum(faces.skin_color(0.5)) > sum(faces.skin_color(1.0))


@pytest.mark.parametrize("overrides", [
    {"glases": "none"}, {"glasses": "monocle"}, {"skin_tone": 1.5}, {"skin_tone": "medium"},
    {"skin_tone": {"light": 0.9, "pale": 0.1}}, {"mouth": {"smile": -1.0}}, {"lighting": "left-ish"},
])
def test_bad_overrides_raise_value_error(overrides):
    with pytest.raises(ValueError):
        sample_attributes(3, seed=0, **overrides)


def test_render_validates_attributes():
    face = sample_attributes(1, seed=0)[0]
    with pytest.raises(ValueError):
        render({**face, "glasses": "monocle"})
    with pytest.raises(ValueError):
        render({k: v for k, v in face.items() if k != "mouth"})
    with pytest.raises(ValueError):
        render({**face, "hat": "top"})


def test_render_shape_dtype_and_size():
    face = sample_attributes(1, seed=0)[0]
    small, large = render(face), render(face, size=128)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    assert large.shape == (128, 128, 3) and large.dtype == np.uint8
    assert small.std() > 30  # a picture, not a flat colour
    halved = large.astype(float).reshape(64, 2, 64, 2, 3).mean(axis=(1, 3))
    assert rms(halved / 255, small / 255) < 0.06  # the same face at both sizes
    images, _ = dataset(3, seed=0, size=32)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert dataset(0, seed=0)[0].shape == (0, 64, 64, 3)


def test_dataset_processes_match_serial():
    serial, _ = dataset(8, seed=9)
    parallel, _ = dataset(8, seed=9, processes=2)
    assert np.array_equal(serial, parallel)


def _changes(base: list[dict], name: str, value_pair) -> tuple[np.ndarray, ...]:
    """Per base face: RMS difference at 64x64, at 8x8 (area average), and visibly changed pixels."""
    r64, r8, visible = [], [], []
    for face in base:
        before, after = value_pair(face)
        a, b = render({**face, name: before}), render({**face, name: after})
        r64.append(rms(a / 255, b / 255))
        r8.append(rms(down8(a), down8(b)))
        visible.append((np.abs(a.astype(int) - b).max(axis=2) >= 24).sum())
    return np.array(r64), np.array(r8), np.array(visible)


def test_fine_attributes_vanish_at_8px_but_coarse_ones_do_not():
    """The claim the lessons rest on: at 8x8, fine changes fall inside PULSE's tolerance."""
    base = sample_attributes(16, seed=21, hair_style="short", glasses="none", earrings="none",
                             mouth="neutral", iris_color="brown", freckles="none",
                             facial_hair="none", eyebrows="straight", exposure=0.0)
    coarse = {
        "hair_color": lambda f: ("black", "blonde"),
        "skin_tone": lambda f: (f["skin_tone"], (f["skin_tone"] + 0.5) % 1.0),
        "lighting": lambda f: (-0.8, 0.8),
        "exposure": lambda f: (-0.8, 0.8),
        "hair_style": lambda f: ("short", "long"),
        "head_shape": lambda f: ("oval", "square"),
        "shirt_color": lambda f: ("blue", "orange"),
    }
    fine = {
        "glasses": lambda f: ("none", "square"),
        "iris_color": lambda f: ("brown", "blue"),
        "mouth": lambda f: ("neutral", "grin"),
        "earrings": lambda f: ("none", "hoops"),
        "freckles": lambda f: ("none", "freckles"),
        "facial_hair": lambda f: ("none", "stubble"),
        "eyebrows": lambda f: ("straight", "slanted"),
    }
    coarse_8 = {}
    for name, pair in coarse.items():
        _, r8, _ = _changes(base, name, pair)
        assert r8.mean() > 1.5 * PULSE_EPS_RMS, name  # PULSE must reproduce it: recoverable
        if name in ("hair_color", "skin_tone", "lighting"):  # the strong ones: on every face
            assert r8.min() > 1.2 * PULSE_EPS_RMS, name
        coarse_8[name] = r8.mean()
    for name, pair in fine.items():
        r64, r8, visible = _changes(base, name, pair)
        assert r64.min() > 0.005 and visible.min() >= 10, name  # salient at 64 px on every face
        assert r8.max() < PULSE_EPS_RMS, name  # inside PULSE's tolerance: only imagined
        assert r8.mean() < 0.3 * min(coarse_8.values()), name


def test_exposure_confounds_skin_tone_at_8px_only():
    """A light face in shade and a dark face in the sun share their 8x8 input, not their 64x64 picture."""
    for face in sample_attributes(8, seed=33):
        light_in_shade = render({**face, "skin_tone": 0.15, "exposure": -0.6})
        dark_in_sun = render({**face, "skin_tone": 0.8, "exposure": 0.8})
        assert rms(down8(light_in_shade), down8(dark_in_sun)) < 0.5 * PULSE_EPS_RMS  # ambiguous to PULSE
        assert rms(light_in_shade / 255, dark_in_sun / 255) > 0.02  # eye whites, teeth: not the same face
        normal = render({**face, "skin_tone": 0.8, "exposure": 0.0})
        assert rms(down8(normal), down8(dark_in_sun)) > PULSE_EPS_RMS  # exposure itself is coarse


def test_attributes_from_latent_follow_the_prior_and_are_deterministic():
    z = np.random.default_rng(0).standard_normal((4000, 40))
    a = faces.attributes_from_latent(z)
    assert a == faces.attributes_from_latent(z.copy()) and len(a) == 4000
    for name in ("hair_style", "glasses", "background"):  # shares match the prior within sampling error
        attribute = faces.ATTRIBUTE_BY_NAME[name]
        weights = np.array(attribute.weights or [1.0] * len(attribute.values_or_range))
        shares = np.array([sum(x[name] == v for x in a) for v in attribute.values_or_range]) / len(a)
        assert np.abs(shares - weights / weights.sum()).max() < 0.03, name
    skewed = faces.attributes_from_latent(z, skin_tone={"light": 0.9, "dark": 0.1})
    assert abs(np.mean([x["skin_tone"] < faces.SKIN_THRESHOLD for x in skewed]) - 0.9) < 0.02
    assert [x["glasses"] for x in skewed] == [x["glasses"] for x in a]  # other attributes unchanged
    moved = z.copy()
    moved[:, faces.LATENT_CODES:] += 5  # coordinates past the codes do not matter
    assert faces.attributes_from_latent(moved) == a
    with pytest.raises(ValueError, match="codes"):
        faces.attributes_from_latent(z[:, :10])


def test_latent_codes_spell_out_the_face_each_code_stands_for():
    import torch

    z = torch.randn(50, 40, generator=torch.Generator().manual_seed(3))
    codes = faces.LatentCodes(40, skin_tone={"light": 0.9, "dark": 0.1})
    features = codes(z)  # (50, 56 + 10)
    assert features.shape == (50, codes.num_features) and codes.num_features == 56 + 10
    assert torch.equal(features[:, 56:], z[:, 30:])  # the other coordinates pass through
    truth = faces.labels(faces.attributes_from_latent(z.double().numpy(), skin_tone={"light": 0.9, "dark": 0.1}))
    column = 0
    for a in ATTRIBUTES:
        if a.kind == "categorical":
            width = len(a.values_or_range)
            block = features[:, column:column + width]
            assert set(block.unique().tolist()) <= {-1.0, 1.0} and (block == 1).sum(1).eq(1).all()
            assert np.array_equal(block.argmax(1).numpy(), truth[a.name]), a.name
        else:
            width, (low, high) = 1, a.values_or_range
            back = (features[:, column] / 1.7 + 1) / 2 * (high - low) + low
            np.testing.assert_allclose(back.numpy(), truth[a.name], atol=1e-5)
        column += width
    with pytest.raises(ValueError, match="z_dim >= 30"):
        faces.LatentCodes(16)
    with pytest.raises(ValueError, match="skin_tone"):
        faces.LatentCodes(40, skin_tone="purple")
