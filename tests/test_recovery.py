"""Tests for pulse_teach.recovery: diversity, agreement with the truth against chance, the posterior, the bias
experiment."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pulse_teach import PulseConfig, faces, load_generator, load_probe, load_sample
from pulse_teach.figures import bias_figure
from pulse_teach.images import from_uint8
from pulse_teach.recovery import (
    agreement_summary,
    attribute_agreement,
    bias_experiment,
    chance_agreement,
    diversity,
    fine_values_read,
    high_frequency_energy,
    mean_pairwise,
    posterior_attributes,
    posterior_figures,
    posterior_renders,
    rms_distance,
    rms_distances,
    skin_reading,
)


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


def test_chance_agreement_follows_the_schema_prior():
    truth = faces.sample_attributes(1, 0, skin_tone=0.8, lighting=0.0, glasses="none", mouth="grin",
                                    facial_hair="stubble")[0]
    chance = chance_agreement(truth)
    assert chance["skin_tone"] == 0.5 and chance["lighting"] == pytest.approx(1 / 3)
    assert chance["glasses"] == 0.5 and chance["facial_hair"] == 0.2 and chance["mouth"] == pytest.approx(1 / 3)
    for a in faces.ATTRIBUTES:  # over all categories of an attribute, the chances sum to one
        if a.kind == "categorical":
            total = sum(chance_agreement(dict(truth, **{a.name: v}))[a.name] for v in a.values_or_range)
            assert total == pytest.approx(1.0), a.name


def test_skin_reading_counts_the_dark_side():
    reading = skin_reading([{"skin_tone": 0.1}, {"skin_tone": 0.5}, {"skin_tone": 0.9}, {"skin_tone": 0.2}])
    assert reading == {"share_dark": 0.5, "mean_skin_tone": pytest.approx(0.425)}
    assert math.isnan(skin_reading([])["share_dark"])


def test_bias_experiment_reads_every_accepted_solution_and_reuses_runs():
    models = {name: load_generator(name) for name in ("faces64", "faces64-skewed")}
    samples = [load_sample("face4")]
    config = PulseConfig(eps=1.0, gaussian_fit_samples=2000)  # eps 1: every seed accepted after 2 steps
    calls, results = [], {}
    report = bias_experiment(models, samples, 2, 2, load_probe(), config=config, results=results,
                             callback=lambda m, s, r: calls.append((m, s)))
    assert calls == [("faces64", "face4"), ("faces64-skewed", "face4")]
    assert report["seeds"] == [0, 1] and report["steps"] == 2 and report["side"] == 8
    for name in models:
        total, row = report["models"][name], report["models"][name]["per_sample"]["face4"]
        assert row["accepted"] == row["seeds"] == total["accepted"] == total["seeds"] == 2
        assert row["share_dark"] in (0.0, 0.5, 1.0) and 0.0 <= row["mean_skin_tone"] <= 1.0
        assert row["truth_skin_tone"] == samples[0].attributes["skin_tone"] >= 0.5
        assert results[name, "face4"].images.shape == (2, 3, 64, 64)
        assert len(row["skin_tones"]) == 2 and row["mean_skin_tone"] == pytest.approx(sum(row["skin_tones"]) / 2, abs=1e-3)
    fig = bias_figure(report, results, samples)  # input and truth, then each model's solutions over their tones
    assert len(fig.axes) == 3 and fig.axes[1].get_title(loc="left").startswith("faces64: 2/2 accepted")
    tones = report["models"]["faces64-skewed"]["per_sample"]["face4"]["skin_tones"]
    assert [t.get_text() for t in fig.axes[2].texts] == [f"{t:.2f}" for t in tones]  # one reading per face
    first = dict(results)
    again = bias_experiment(models, samples, 2, 2, load_probe(), config=config, results=results)
    assert again["models"] == report["models"] and all(results[k] is first[k] for k in first)  # reused
    bias_experiment(models, samples, [0, 1], 3, load_probe(), config=config, results=results)
    assert results["faces64", "face4"] is not first["faces64", "face4"]  # other steps: searched again
    with pytest.raises(ValueError, match="at least one model"):
        bias_experiment({}, samples, 2, 2, load_probe())


def test_agreement_summary_averages_inputs_with_solutions():
    truths = faces.sample_attributes(2, 3, glasses="none")
    reports = [{"agreement": dict.fromkeys(faces.ATTRIBUTE_BY_NAME, 1.0)},
               {"agreement": dict.fromkeys(faces.ATTRIBUTE_BY_NAME, 0.0)}, {"accepted": 0}]
    summary = agreement_summary(reports, truths + truths[:1])
    assert summary["glasses"] == {"coarse": False, "inputs": 2, "agreement": 0.5, "chance": 0.5}
    assert summary["skin_tone"]["coarse"] and summary["skin_tone"]["chance"] == 0.5
    with pytest.raises(ValueError, match="one truth per report"):
        agreement_summary(reports, truths)


# ---------------------------------------------------------------- the posterior of this world
TRUTH = faces.sample_attributes(1, 11, skin_tone=0.37, lighting=-0.2, exposure=0.45)[0]


def test_posterior_keeps_the_coarse_attributes_and_draws_the_fine_ones_from_their_prior():
    drawn = posterior_attributes(TRUTH, 2000, seed=5)  # attribute dicts only: cheap
    assert all(d[name] == TRUTH[name] for d in drawn for name in faces.COARSE)  # continuous ones exactly too
    for name in faces.FINE:
        a = faces.ATTRIBUTE_BY_NAME[name]
        weights = torch.tensor(a.weights or [1.0] * len(a.values_or_range))
        shares = torch.tensor([sum(d[name] == v for d in drawn) / len(drawn) for v in a.values_or_range])
        assert (shares - weights / weights.sum()).abs().max() < 0.05, name  # the prior, not a uniform draw
    images = posterior_renders(TRUTH, 6, seed=5)  # (6, 3, 64, 64): renders of the first six dicts
    assert images.shape == (6, 3, 64, 64) and 0 <= images.min() and images.max() <= 1
    assert torch.equal(images[2], from_uint8(faces.render(drawn[2]))[0])
    assert len({tuple(d[name] for name in faces.FINE) for d in drawn[:6]}) > 1  # the fine ones vary
    assert mean_pairwise(images) > 0


def test_rms_distances_match_rms_distance_pair_by_pair():
    a, b = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0)), torch.rand(2, 3, 8, 8)
    d = rms_distances(a, b)
    assert d.shape == (3, 2) and d[2, 1] == pytest.approx(rms_distance(a[2], b[1]), abs=1e-6)
    assert mean_pairwise(torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])) == pytest.approx(1.0)
    assert math.isnan(mean_pairwise(a[:1]))


def test_high_frequency_energy_sees_only_the_finest_octave():
    y, x = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checkerboard = ((x + y) % 2).float().expand(1, 3, 16, 16)
    ramp = (x / 15).float().expand(1, 3, 16, 16)
    assert high_frequency_energy(torch.full((2, 3, 16, 16), 0.3)) == 0.0
    assert high_frequency_energy(checkerboard) == pytest.approx(0.25)  # all of its variance
    assert high_frequency_energy(ramp) < 0.01 * high_frequency_energy(checkerboard)
    with pytest.raises(ValueError, match="even H and W"):
        high_frequency_energy(torch.zeros(1, 3, 15, 16))


def test_posterior_figures_of_posterior_samples_are_near_one_and_of_blurred_ones_not():
    samples = posterior_renders(TRUTH, 16, seed=99)  # a perfect sampler's solutions, other seeds than the bank
    figures = posterior_figures(samples, TRUTH, n_posterior=60, seed=5, n_fresh=16)
    assert 0.8 <= figures["diversity_ratio"] <= 1.25
    assert 0.95 <= figures["sharpness_ratio"] <= 1.05
    assert 0.67 <= figures["nearest_valid_ratio"] <= 1.5
    blurred = F.avg_pool2d(F.pad(samples, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # (16, 3, 64, 64)
    assert posterior_figures(blurred, TRUTH, n_posterior=60, seed=5, n_fresh=16)["sharpness_ratio"] < 0.8
    other_face = posterior_renders(faces.sample_attributes(1, 12)[0], 16, seed=99)  # valid, but not for this input
    assert posterior_figures(other_face, TRUTH, n_posterior=60, seed=5, n_fresh=16)["nearest_valid_ratio"] > 2
    with pytest.raises(ValueError, match="solutions must be"):
        posterior_figures(samples[:, :, :32, :32], TRUTH)


def test_fine_values_read_counts_distinct_readings():
    base = faces.sample_attributes(1, 0, glasses="none", mouth="grin")[0]
    read = fine_values_read([base, dict(base, glasses="round"), dict(base, glasses="square", skin_tone=0.9)])
    assert read["glasses"] == 3 and read["mouth"] == 1 and set(read) == set(faces.FINE)


def test_readings_figure_marks_wrong_readings_red_and_guesses_grey():
    from pulse_teach.figures import readings_figure

    truth = {"glasses": "round", "mouth": "smile"}
    readings = [truth, {"glasses": "round", "mouth": "grin"}, {"glasses": "none", "mouth": "smile"}]
    confidences = [{"glasses": 0.9, "mouth": 0.95}, {"glasses": 0.4, "mouth": 0.99}]
    fig = readings_figure(torch.rand(3, 3, 64, 64), readings, ["glasses", "mouth"], "t", confidences)
    texts = {t.get_text(): t for t in fig.axes[0].texts}  # the table under the faces
    assert texts["grin 95%"].get_color() == "tab:red" and texts["round 90%"].get_color() == "black"
    assert texts["none 40%"].get_color() == "0.6" and texts["none 40%"].get_style() == "italic"
    assert "grey: the probe is unsure" in fig._suptitle.get_text()


def test_model_card_draft_fills_in_the_measurements_and_leaves_the_judgements():
    from pulse_teach.recovery import model_card_draft

    per_sample = {"face4": {"accepted": 15, "seeds": 16, "truth_skin_tone": 0.75, "share_dark": 0.4, "mean_skin_tone": 0.47},
                  "face6": {"accepted": 0, "seeds": 16, "truth_skin_tone": 0.55, "share_dark": float("nan"),
                            "mean_skin_tone": float("nan")}}
    bias = {"side": 8, "steps": 100, "seeds": list(range(16)), "samples": ["face4", "face6"],
            "models": {"faces64-skewed": {"per_sample": per_sample, "accepted": 15, "seeds": 32, "share_dark": 0.4,
                                          "mean_skin_tone": 0.47}}}
    meta = {"skin_tone": {"light": 0.9, "dark": 0.1}, "kimg": 66.0, "wall_time_s": 2246.0}
    card = model_card_draft("faces64-skewed", meta, {"share_dark": 0.08, "mean_skin_tone": 0.31}, bias)
    assert card.startswith("# Model card: `faces64-skewed`") and "37 minutes" in card and "90% light, 10% dark" in card
    assert "8% of its random faces read as dark" in card and "15/32 accepted, 40% of them read as dark" in card
    assert "| face4 | 0.75 | 15/16 | 40% | 0.47 |" in card and "| face6 | 0.55 | 0/16 | - | - |" in card
    assert card.count("_(your words") == 4  # intended use, out of scope, limitations, recommendations
    with pytest.raises(KeyError):
        model_card_draft("faces64", meta, {"share_dark": 0.5, "mean_skin_tone": 0.5}, bias)
    none = {**bias["models"]["faces64-skewed"], "accepted": 0, "share_dark": float("nan"), "mean_skin_tone": float("nan")}
    card = model_card_draft("faces64-skewed", meta, {"share_dark": 0.08, "mean_skin_tone": 0.31},
                            {**bias, "models": {"faces64-skewed": none}})
    assert "0/32 accepted." in card and "nan" not in card



def test_eps_sweep_trades_consistency_for_acceptance():
    from pulse_teach.figures import eps_figure
    from pulse_teach.recovery import eps_sweep

    config = PulseConfig(num_seeds=3, steps=15, gaussian_fit_samples=2000)
    seen = []
    rows = eps_sweep(load_generator("faces64"), load_sample("face0").low_res[8], (1e-3, 5e-2), config,
                     callback=lambda eps, result: seen.append((eps, result.config.eps)))
    assert seen == [(1e-3, 1e-3), (5e-2, 5e-2)]
    loose, tight = rows[1], rows[0]
    assert loose["accepted"] == 3 and loose["accepted"] >= tight["accepted"]
    for row in rows:  # accepted means MSE <= eps, i.e. PSNR >= -10 log10(eps)
        if row["accepted"]:
            assert row["psnr_db"] >= -10 * math.log10(row["eps"]) and 1 <= row["median_step"] <= 15
    assert loose["median_step"] <= 15 and loose["diversity"] > 0
    assert len(eps_figure(rows).axes) == 4  # three panels and the step axis
    with pytest.raises(ValueError, match="all > 0"):
        eps_sweep(load_generator("faces64"), load_sample("face0").low_res[8], (0.0,))


def test_identification_counts_solutions_nearest_to_the_truth_in_a_lineup():
    from pulse_teach.recovery import identification

    config = PulseConfig(num_seeds=2, steps=2, eps=1.0, gaussian_fit_samples=2000)  # eps 1: every seed accepted
    calls = []
    rows = identification(load_generator("faces64"), [load_sample("face0")], (16, 8), 3, config,
                          callback=lambda name, factor, result: calls.append((name, factor, result.target.shape[-1])))
    assert calls == [("face0", 16, 4), ("face0", 8, 8)]  # the truth shrunk by each factor, then searched
    assert [(r["factor"], r["input_side"], r["accepted"], r["chance"]) for r in rows] == [(16, 4, 2, 1 / 3), (8, 8, 2, 1 / 3)]
    assert all(0 <= r["identified"] <= r["accepted"] and r["rate"] == r["identified"] / 2 for r in rows)
    assert all(sum(r["votes"]["face0"]) == 2 and r["votes"]["face0"][0] == r["identified"] for r in rows)
    assert all(r["input_rate"] == 1.0 for r in rows)  # the noise-free input matches the person's own downscale
    with pytest.raises(ValueError, match="integer candidates >= 2"):
        identification(load_generator("faces64"), [load_sample("face0")], (8,), 1)
    with pytest.raises(ValueError, match="divide the faces' side 64"):
        identification(load_generator("faces64"), [load_sample("face0")], (5,), 3)


def test_lineup_holds_the_truth_first_and_look_alikes_or_strangers():
    from pulse_teach.figures import identification_figure, lineup_figure
    from pulse_teach.recovery import lineup, lineup_votes

    sample = load_sample("face0")
    alike, strangers = lineup(sample, 4, "lookalike"), lineup(sample, 4, "random")
    assert alike.shape == strangers.shape == (4, 3, 64, 64)
    assert torch.equal(alike[0], sample.truth) and torch.equal(strangers[0], sample.truth)
    assert not torch.equal(alike, lineup(sample, 4, "lookalike", index=1))  # each input its own line-up
    # look-alikes share the coarse attributes, so the same background corner; strangers mostly do not
    corner = lambda faces_: (faces_[1:, :, :4, :4] - faces_[:1, :, :4, :4]).abs().mean()  # noqa: E731
    assert corner(alike) < 0.02 < corner(strangers)
    assert lineup_votes(alike[[2, 2, 0]] + 0.01, alike) == [1, 0, 2, 0]
    assert lineup_votes(torch.zeros(0, 3, 64, 64), alike) == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="kind 'lookalike' or 'random'"):
        lineup(sample, 4, "twins")
    with pytest.raises(ValueError, match="integer candidates >= 2 .* got 2.5"):
        lineup(sample, 2.5)
    with pytest.raises(ValueError, match="sample must be a samples.Sample"):
        lineup("face0", 3)
    with pytest.raises(ValueError, match="solutions of its shape"):
        lineup_votes(torch.zeros(2, 3, 8, 8), alike)
    with pytest.raises(ValueError, match="at least one face"):
        lineup_votes(alike, alike[:0])
    rows = [{"factor": 8, "input_side": 8, "accepted": 4, "identified": 1, "rate": 0.25, "chance": 0.25, "input_rate": 1.0},
            {"factor": 2, "input_side": 32, "accepted": 0, "identified": 0, "rate": float("nan"), "chance": 0.25,
             "input_rate": 1.0}]
    assert "no answer\naccepted" in [t.get_text() for t in identification_figure(rows).axes[0].texts]
    fig = lineup_figure(sample.low_res[8], alike[:2], alike, [1, 0, 1, 0])
    assert [ax.get_title() for ax in fig.axes[4:8]] == ["1 vote (truth)", "0 votes", "1 vote", "0 votes"]
