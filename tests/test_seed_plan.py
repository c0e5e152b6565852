"""The face world's seed plan: every use has its own range, the ranges never overlap, one check guards them."""
import pytest

from pulse_teach import probe, quality, recovery, samples, seed_plan
from pulse_teach.probe import ProbeConfig, train_probe
from pulse_teach.seed_plan import PLAN, face_seeds


def test_the_ranges_are_disjoint_and_in_the_documented_order():
    ranges = list(PLAN.values())
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:]))
    assert [r.start for r in ranges] == [0, 10**6, 7 * 10**6, 8 * 10**6, 9 * 10**6, 10**7, 11 * 10**6, 12 * 10**6]


def test_every_user_takes_its_seeds_from_the_plan():
    assert probe.EVAL_SEED == PLAN["probe evaluation"].start
    assert quality.REFERENCE_SEED == PLAN["quality reference"].start
    assert samples.SAMPLES_SEED == PLAN["lesson samples"].start
    assert samples.HELD_OUT_SEED == PLAN["benchmark faces"].start
    assert recovery.POSTERIOR_SEED == recovery.posterior_seed(0) == PLAN["posterior renders"].start
    assert recovery.posterior_seed(3) == PLAN["posterior renders"].start + 6  # bank and fresh renders: two each
    assert face_seeds("GAN training", 0, 5) == range(10**6, 10**6 + 5)  # where the trainer starts
    assert face_seeds("GAN training", 5, 10, offset=7).start == 6 * 10**6 + 7  # a resumed run goes on
    assert face_seeds("upsampler training", 0, 3) == range(12 * 10**6, 12 * 10**6 + 3)  # perception.train_upsampler


@pytest.mark.parametrize("use, run_seed, count", [("GAN training", 6, 1), ("probe training", 1, 1),
                                                   ("probe training", 0, 10**6 + 1), ("GAN training", -1, 1)])
def test_a_run_that_would_leave_its_range_is_refused(use, run_seed, count):
    with pytest.raises(ValueError, match=f"{use} with seed {run_seed} would draw face-world seeds .* outside its range"):
        face_seeds(use, run_seed, count)


def test_training_the_probe_checks_the_plan_before_anything():
    with pytest.raises(ValueError, match="probe training with seed 1"):
        train_probe(ProbeConfig(seed=1, steps=1))
    with pytest.raises(KeyError, match="unknown use"):
        seed_plan.face_seeds("pretraining")
