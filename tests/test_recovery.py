"""Tests for pulse_teach.recovery: diversity among solutions and agreement of attributes with the truth."""
from __future__ import annotations

import math

import pytest
import torch

from pulse_teach import faces
from pulse_teach.recovery import attribute_agreement, diversity, rms_distance


def test_diversity_of_known_images():
    black, white, grey = torch.zeros(3, 4, 4), torch.ones(3, 4, 4), torch.full((3, 4, 4), 0.5)
    d = diversity(torch.stack([black, white]), truth=grey)
    assert d == {"solutions": 2, "mean_pairwise": 1.0, "mean_to_truth": 0.5}
    assert rms_distance(black, grey) == pytest.approx(0.5)
    one = diversity(black[None], truth=grey)  # one solution: no pairs
    assert math.isnan(one["mean_pairwise"]) and one["mean_to_truth"] == 0.5
    assert math.isnan(diversity(torch.zeros(0, 3, 4, 4), truth=grey)["mean_to_truth"])


def test_attribute_agreement_counts_categories_and_groups():
    truth = faces.sample_attributes(1, 0, skin_tone=0.2, glasses="round")[0]
    same = dict(truth, skin_tone=0.45)  # still "light"
    other = dict(truth, skin_tone=0.8, glasses="none")
    agreement = attribute_agreement([same, other], truth)
    assert agreement["skin_tone"] == 0.5 and agreement["glasses"] == 0.5 and agreement["mouth"] == 1.0
