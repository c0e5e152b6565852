"""What did PULSE recover, and what did it imagine? Measured against the known true face.

PULSE returns many faces that all downscale to the input. In the face world the true face and its
attributes are known, so three questions get numbers:

- diversity: are the accepted solutions different faces (mean pairwise distance among them) or one
  face found many times? Compare it with their mean distance to the truth;
- attributes: for each attribute, the share of solutions whose probe reading matches the truth.
  Coarse attributes (visible at 8x8) should be recovered; fine ones are guessed from the prior
  (``chance_agreement`` gives the score of such a guess);
- bias: ``bias_experiment`` runs the same inputs through several generators and reads the skin
  tone of every accepted solution (lesson 05 and benchmarks/bias.py share it and its settings);
- identification: does the answer pick the person out of a line-up of look-alikes, and at which
  factor does that stop (``identification``); ``eps_sweep`` measures what the tolerance trades;
- the posterior: in this world the faces an 8x8 input allows are known exactly (its coarse attributes
  fixed, the fine ones drawn from the prior), so ``posterior_figures`` compares the solutions with
  renders of them: as diverse? as sharp? each close to some valid face?

    report = recovery_report(result, truth=sample.truth, truth_attributes=sample.attributes, probe=load_probe())
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import faces, seed_plan
from .downscale import bicubic_downsample
from .images import from_uint8
from .probe import AttributeProbe
from .pulse import PulseConfig, PulseResult, upsample
from .samples import low_res_input

POSTERIOR_SEED = seed_plan.POSTERIOR_RENDERS  # posterior_figures' renders: seed (bank) and seed + 1 (fresh)


def posterior_seed(index: int) -> int:
    """The ``posterior_figures`` seed for input ``index`` of a benchmark: two seeds per input, from the plan."""
    return seed_plan.face_seeds("posterior renders", count=2, offset=2 * index).start


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square pixel difference of two (3, H, W) images in [0, 1]."""
    return float((a - b).square().mean().sqrt())


def diversity(solutions: torch.Tensor, truth: torch.Tensor | None = None) -> dict[str, float]:
    """Mean pairwise RMS distance among (S, 3, R, R) solutions, and (with truth) their mean distance to it."""
    pairs = list(itertools.combinations(range(len(solutions)), 2))
    out = {"solutions": len(solutions),
           "mean_pairwise": float(np.mean([rms_distance(solutions[i], solutions[j]) for i, j in pairs]))
           if pairs else float("nan")}
    if truth is not None:
        out["mean_to_truth"] = (float(np.mean([rms_distance(s, truth) for s in solutions]))
                                if len(solutions) else float("nan"))
    return out


def attribute_agreement(predicted: list[dict], truth_attributes: dict) -> dict[str, float]:
    """Per attribute, the share of predictions equal to the truth (continuous: in the same named group)."""
    out = {}
    for a in faces.ATTRIBUTES:
        truth = truth_attributes[a.name]
        if a.kind == "continuous":
            same = [faces.group_of(a.name, p[a.name]) == faces.group_of(a.name, truth) for p in predicted]
        else:
            same = [p[a.name] == truth for p in predicted]
        out[a.name] = float(np.mean(same)) if same else float("nan")
    return out


def recovery_report(result: PulseResult, truth: torch.Tensor, truth_attributes: dict | None = None,
                    probe: AttributeProbe | None = None) -> dict:
    """Acceptance, diversity of the accepted solutions, the truth's attributes when given, and (with a probe)
    the solutions' attributes as read and their agreement with the truth."""
    accepted = result.accepted_images  # (A, 3, R, R)
    report = {"accepted": int(result.accepted.sum()), "seeds": len(result.seeds),
              "diversity": diversity(accepted, truth.cpu())}
    if probe is not None and truth_attributes is not None and len(accepted):
        predicted = probe.predict(accepted)
        report["agreement"] = attribute_agreement(predicted, truth_attributes)
        report["coarse_agreement"] = float(np.mean([report["agreement"][n] for n in faces.COARSE]))
        report["fine_agreement"] = float(np.mean([report["agreement"][n] for n in faces.FINE]))
        report["fine_values_read"] = fine_values_read(predicted)
        report["predicted"] = predicted
    if truth_attributes is not None:
        report["truth_attributes"] = truth_attributes  # what the probe's readings are compared with
    return report


def fine_values_read(predicted: list[dict]) -> dict[str, int]:
    """Per fine attribute, how many different values the probe read across the solutions (continuous: groups).

    One value everywhere means every seed imagined the same detail; the prior would give several.
    """
    out = {}
    for name in faces.FINE:
        values = [p[name] for p in predicted]
        if faces.ATTRIBUTE_BY_NAME[name].kind == "continuous":
            values = [faces.group_of(name, v) for v in values]
        out[name] = len(set(values))
    return out


# ---------------------------------------------------------------- the posterior of this world
def posterior_attributes(truth_attributes: dict, n: int, seed: int) -> list[dict]:
    """n faces the truth's 8x8 input allows: every coarse attribute copied exactly, the fine ones drawn afresh.

    The fine ones come from their prior (``faces.sample_attributes`` with the coarse values as overrides),
    which is exactly the posterior of this world given the coarse attributes, since the world draws its
    attributes independently. Raises ValueError for what ``faces.sample_attributes`` refuses.
    """
    return faces.sample_attributes(n, seed, **{name: truth_attributes[name] for name in faces.COARSE})


def posterior_renders(truth_attributes: dict, n: int, seed: int) -> torch.Tensor:
    """(n, 3, 64, 64) renders in [0, 1] of ``posterior_attributes(truth_attributes, n, seed)``."""
    images = [faces.render(a) for a in posterior_attributes(truth_attributes, n, seed)]
    return from_uint8(np.stack(images)) if images else torch.zeros(0, 3, 64, 64)


def rms_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(A, B) float64 RMS pixel distances between (A, 3, H, W) and (B, 3, H, W) images: rms_distance of every pair."""
    a, b = a.flatten(1).double(), b.flatten(1).double()  # (A, D), (B, D)
    return torch.cdist(a, b) / a.shape[1] ** 0.5


def mean_pairwise(images: torch.Tensor) -> float:
    """Mean RMS distance over the pairs of (N, 3, H, W) images (nan for fewer than two)."""
    i, j = torch.triu_indices(len(images), len(images), offset=1)
    return float(rms_distances(images, images)[i, j].mean()) if len(images) > 1 else float("nan")


def high_frequency_energy(images: torch.Tensor) -> float:
    """Energy in the finest octave of (N, 3, H, W) images (H, W even): mean of (x - up(down(x)))^2.

    down is a 2x2 area average, up bilinear (align_corners=False). Bilinear rather than nearest so that
    smooth shading (a linear ramp) is reproduced by up(down(x)) and scores almost nothing; only detail
    finer than two pixels (edges, dots, texture) remains. In [0, 1] pixel units squared: 0 for a constant
    image, 1/4 (its whole variance) for a checkerboard of 0 and 1 pixels. Raises ValueError for another shape.
    """
    if images.ndim != 4 or images.shape[-1] % 2 or images.shape[-2] % 2:
        raise ValueError(f"expected (N, C, H, W) images with even H and W, got {tuple(images.shape)}")
    x = images.double()
    smooth = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)  # (N, 3, H, W)
    return float((x - smooth).square().mean())


def posterior_figures(solutions: torch.Tensor, truth_attributes: dict, n_posterior: int = 300,
                      seed: int = POSTERIOR_SEED, n_fresh: int = 32) -> dict[str, float]:
    """PULSE's solutions next to the true posterior of this world, for one input.

    solutions: (S, 3, 64, 64) in [0, 1], S >= 1 (the accepted ones). The posterior is a bank of
    ``n_posterior`` renders of ``posterior_attributes(truth, n, seed)``; ``n_fresh`` more (seed + 1) give
    the scores of a perfect sampler. Distances are RMS in [0, 1] pixels. Returns the ratios
    - diversity_ratio: mean pairwise distance among the solutions / among the posterior renders
      (nan for one solution);
    - sharpness_ratio: ``high_frequency_energy`` of the solutions / of the posterior renders;
    - nearest_valid_ratio: median over the solutions of the distance to the nearest posterior render /
      the same median for the fresh renders (1: as close to some valid face as a true sample is);
    and the raw figures they divide. Raises ValueError for solutions that are not (S, 3, 64, 64) with S >= 1,
    and for n_posterior < 2 or n_fresh < 1.
    """
    if solutions.ndim != 4 or solutions.shape[1:] != (3, 64, 64) or not len(solutions):
        raise ValueError(f"solutions must be (S, 3, 64, 64) with S >= 1, got {tuple(solutions.shape)}")
    if n_posterior < 2 or n_fresh < 1:
        raise ValueError(f"need n_posterior >= 2 and n_fresh >= 1, got {n_posterior} and {n_fresh}")
    solutions = solutions.detach().float().cpu()
    bank = posterior_renders(truth_attributes, n_posterior, seed)  # (P, 3, 64, 64)
    fresh = posterior_renders(truth_attributes, n_fresh, seed + 1)  # (F, 3, 64, 64)
    out = {"solutions": len(solutions), "n_posterior": n_posterior, "n_fresh": n_fresh, "seed": seed,
           "solutions_pairwise": mean_pairwise(solutions), "posterior_pairwise": mean_pairwise(bank),
           "solutions_hf_energy": high_frequency_energy(solutions), "posterior_hf_energy": high_frequency_energy(bank),
           "solutions_to_nearest": float(np.median(rms_distances(solutions, bank).min(1).values)),
           "fresh_to_nearest": float(np.median(rms_distances(fresh, bank).min(1).values))}
    out["diversity_ratio"] = out["solutions_pairwise"] / out["posterior_pairwise"]
    out["sharpness_ratio"] = out["solutions_hf_energy"] / out["posterior_hf_energy"]
    out["nearest_valid_ratio"] = out["solutions_to_nearest"] / out["fresh_to_nearest"]
    return out


# ---------------------------------------------------------------- chance and bias
def chance_agreement(truth_attributes: dict) -> dict[str, float]:
    """Per attribute, the agreement a guess drawn from the balanced training prior would score for this truth.

    A categorical scores its prior weight of the true category (uniform unless the schema says
    otherwise); a continuous one the share of its range taken by the true value's group. Averaged over
    many faces, an attribute the input does not show should match the truth about this often.
    """
    out = {}
    for a in faces.ATTRIBUTES:
        truth = truth_attributes[a.name]
        if a.kind == "continuous":
            low, high = a.values_or_range
            _, g_low, g_high = next(g for g in a.groups if g[0] == faces.group_of(a.name, truth))
            out[a.name] = (g_high - g_low) / (high - low)
        else:
            weights = np.array(a.weights or [1.0] * len(a.values_or_range), dtype=float)
            out[a.name] = float(weights[a.values_or_range.index(truth)] / weights.sum())
    return out


# The bias experiment of lesson 05 and benchmarks/bias.py: dark-skinned faces at 8x8, 16 seeds, 100 steps.
BIAS_MODELS = ("faces64", "faces64-skewed")
BIAS_SAMPLES = ("face4", "face5", "face6", "face7", "face9", "face11")  # the dark-skinned lesson faces
BIAS_AMBIGUOUS = ("face9", "face11")  # dark skin in the sun: the same 8x8 input as a light face in shade
BIAS_SIDE = 8
BIAS_SEEDS = tuple(range(16))
BIAS_STEPS = 100


def skin_reading(predicted: list[dict]) -> dict[str, float]:
    """Share of probe readings on the dark side of SKIN_THRESHOLD, and the mean skin tone (nan for none)."""
    tones = np.array([p["skin_tone"] for p in predicted], dtype=float)
    if not len(tones):
        return {"share_dark": float("nan"), "mean_skin_tone": float("nan")}
    return {"share_dark": float(np.mean(tones >= faces.SKIN_THRESHOLD)), "mean_skin_tone": float(tones.mean())}


def bias_experiment(models: dict[str, torch.nn.Module], samples: list, seeds: Sequence[int] | int, steps: int,
                    probe: AttributeProbe, *, side: int = BIAS_SIDE, config: PulseConfig | None = None,
                    results: dict[tuple[str, str], PulseResult] | None = None,
                    callback: Callable[[str, str, PulseResult], None] | None = None) -> dict:
    """The same low-res inputs through each generator; how dark does the probe read the accepted solutions?

    models: name -> generator; samples: ``samples.Sample`` objects; seeds: a list, or n for 0..n-1.
    ``config`` supplies the other PULSE settings (default: PulseConfig's). ``results`` maps
    (model, sample) to runs already made with the same settings and seeds (reused, not searched
    again) and receives the new ones; ``callback(model, sample, result)`` is called after each pair, for progress.
    Per model and sample: accepted count, the skin tone the probe reads on each accepted solution
    (``skin_tones``, 0 = lightest, 1 = darkest), the share read as dark and their mean; per model the
    same counts over all accepted solutions.

    Raises ValueError without at least one model and one sample.
    """
    if not models or not samples:
        raise ValueError(f"need at least one model and one sample, got {len(models)} and {len(samples)}")
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    config = dataclasses.replace(config or PulseConfig(image_every=0), steps=steps, num_seeds=len(seeds))
    results = {} if results is None else results
    out = {"side": side, "steps": steps, "seeds": seeds, "samples": [s.name for s in samples], "models": {}}
    for model_name, generator in models.items():
        per_sample, predicted_all, accepted_all = {}, [], 0
        for sample in samples:
            result = results.get((model_name, sample.name))
            same = result is not None and result.seeds == seeds and result.target.shape[-1] == side \
                and not result.interrupted and dataclasses.replace(result.config, image_every=0) == \
                dataclasses.replace(config, image_every=0)
            if not same:
                result = upsample(generator, sample.low_res[side], config, seeds=seeds)
                results[model_name, sample.name] = result
            accepted = result.accepted_images  # (A, 3, R, R)
            predicted = probe.predict(accepted) if len(accepted) else []
            per_sample[sample.name] = {"accepted": len(accepted), "seeds": len(seeds),
                                       "truth_skin_tone": float(sample.attributes["skin_tone"]),
                                       "skin_tones": [round(float(p["skin_tone"]), 3) for p in predicted],
                                       **skin_reading(predicted)}
            predicted_all += predicted
            accepted_all += len(accepted)
            if callback:
                callback(model_name, sample.name, result)
        out["models"][model_name] = {"per_sample": per_sample, "accepted": accepted_all,
                                     "seeds": len(seeds) * len(samples), **skin_reading(predicted_all)}
    return out


def lineup(sample, candidates: int = 10, kind: str = "lookalike", index: int = 0) -> torch.Tensor:
    """(candidates, 3, R, R): the sample's truth first, then ``candidates - 1`` other faces: look-alikes that
    share all its coarse attributes ("lookalike": ``posterior_renders``) or random faces of the world
    ("random"), drawn with posterior seed ``posterior_seed(100 + index)``. Raises ValueError for fewer than
    2 candidates or another kind."""
    if not isinstance(candidates, int) or candidates < 2 or kind not in ("lookalike", "random"):
        raise ValueError(f"need an integer candidates >= 2 and kind 'lookalike' or 'random', got {candidates!r} and {kind!r}")
    if not hasattr(sample, "attributes") or not hasattr(sample, "truth"):
        raise ValueError(f"sample must be a samples.Sample (load_sample or held_out_samples), got {type(sample).__name__}")
    seed = posterior_seed(100 + index)
    others = (posterior_renders(sample.attributes, candidates - 1, seed) if kind == "lookalike" else
              from_uint8(faces.dataset(candidates - 1, seed)[0]))
    return torch.cat([sample.truth[None].cpu(), others])


def lineup_votes(solutions: torch.Tensor, faces_: torch.Tensor) -> list[int]:
    """For a (M, 3, R, R) line-up: how many of the (A, 3, R, R) solutions are nearest (RMS) to each face.
    Raises ValueError for an empty line-up or images of another shape than the line-up's."""
    if not len(faces_) or (len(solutions) and solutions.shape[1:] != faces_.shape[1:]):
        raise ValueError(f"need a line-up of at least one face and solutions of its shape {tuple(faces_.shape[1:])}, "
                         f"got {tuple(faces_.shape)} and {tuple(solutions.shape)}")
    picked = rms_distances(solutions, faces_).argmin(1) if len(solutions) else torch.zeros(0, dtype=torch.long)
    return torch.bincount(picked, minlength=len(faces_)).tolist()


def identification(generator: torch.nn.Module, samples: list, factors: Sequence[int], candidates: int = 10,
                   config: PulseConfig | None = None, callback: Callable[[str, int, PulseResult], None] | None = None,
                   kind: str = "lookalike") -> list[dict]:
    """Can PULSE's answer pick the person out of a line-up? For each factor and sample, the truth is
    shrunk by that factor with PULSE's downscaler and searched; each accepted solution then "identifies"
    the nearest (RMS) face of the sample's ``lineup`` (truth first). Inputs are rounded to 8 bits, as a
    PNG is. Per factor: ``rate``, the share of
    accepted solutions that pick the truth, against ``chance`` 1 / candidates; ``votes``, per sample the
    number of solutions that picked each candidate; and ``input_rate``, the share of samples whose input
    is nearest to the truth's own downscale among the line-up's downscales (matching the low-res picture
    directly, no PULSE). samples: ``samples.Sample`` objects with 64x64 truths.
    Raises ValueError for a factor that does not divide the side, and what ``lineup`` raises.
    """
    side = samples[0].truth.shape[-1] if samples else 0
    if any(f < 1 or side % f for f in factors):
        raise ValueError(f"factors must divide the faces' side {side}, got {list(factors)}")
    config = config or PulseConfig()
    lineups = [lineup(s, candidates, kind, k) for k, s in enumerate(samples)]  # each (candidates, 3, R, R)
    rows = []
    for factor in factors:
        hits = accepted = matched = 0
        votes = {}
        for sample, faces_ in zip(samples, lineups):
            low_res = low_res_input(sample.truth[None].float(), factor)[0]  # (3, R/f, R/f), 8-bit
            small = bicubic_downsample(faces_, factor)  # (candidates, 3, R/f, R/f)
            matched += int(rms_distances(low_res[None], small).argmin() == 0)
            result = upsample(generator, low_res, config)
            found = result.accepted_images  # (A, 3, R, R)
            votes[sample.name] = lineup_votes(found, faces_)
            hits, accepted = hits + votes[sample.name][0], accepted + len(found)
            if callback:
                callback(sample.name, factor, result)
        rows.append({"factor": factor, "input_side": side // factor, "accepted": accepted, "identified": hits,
                     "rate": hits / accepted if accepted else float("nan"), "chance": 1 / candidates,
                     "input_rate": matched / len(samples), "votes": votes})
    return rows


def eps_sweep(generator: torch.nn.Module, low_res: torch.Tensor, eps_values: Sequence[float],
              config: PulseConfig | None = None, callback: Callable[[float, PulseResult], None] | None = None) -> list[dict]:
    """``eps`` as a knob: the same input and seeds searched once per eps. Per eps: accepted count, the
    median step at which accepted seeds first came within eps, the low-res PSNR of the accepted
    solutions (dB, images in [0, 1]: 10 log10(1 / MSE); NTIRE 2021's super-resolution challenge asked
    for at least 45), and their mean pairwise RMS distance (``diversity``). low_res: (3, h, w) in [0, 1].
    Raises ValueError for no eps or an eps <= 0."""
    if not eps_values or min(eps_values) <= 0:
        raise ValueError(f"need at least one eps, all > 0, got {list(eps_values)}")
    config = config or PulseConfig()
    rows = []
    for eps in eps_values:
        result = upsample(generator, low_res, dataclasses.replace(config, eps=float(eps)))
        ok = result.accepted.cpu()
        l2 = result.history["l2"].cpu()  # (T, S)
        first = torch.where((l2 <= eps).any(0), (l2 <= eps).float().argmax(0), -1)  # (S,) first step within eps
        psnr = (10 * torch.log10(1 / result.l2.cpu()[ok].clamp_min(1e-12))).mean().item() if ok.any() else float("nan")
        rows.append({"eps": float(eps), "accepted": int(ok.sum()), "seeds": len(ok), "psnr_db": psnr,
                     "median_step": float(first[ok].float().median()) + 1 if ok.any() else float("nan"),
                     "diversity": diversity(result.accepted_images)["mean_pairwise"]})  # nan below 2 accepted
        if callback:
            callback(float(eps), result)
    return rows


def model_card_draft(name: str, meta: dict, prior: dict, bias: dict) -> str:
    """A model card for generator ``name`` as Markdown, with this run's measurements filled in and the
    judgements left to the student ("_(your words)_"). Lesson 05's exercise; the sections follow Mitchell
    et al. 2019, "Model Cards for Model Reporting".

    meta: the generator's ``meta`` (skin_tone, kimg, wall_time_s); prior: ``skin_reading`` of its random
    samples; bias: ``bias_experiment``'s report, which must include ``name``. Raises KeyError otherwise.
    """
    row = bias["models"][name]
    tones = meta.get("skin_tone")
    tones = ", ".join(f"{share:.0%} {group}" for group, share in tones.items()) if isinstance(tones, dict) else tones
    inputs = len(bias["samples"])
    lines = [f"# Model card: `{name}` (draft)", "",
             "**Model.** A 64x64 StyleGAN2 generator of cartoon faces, trained by pulse_teach on a CPU "
             f"({meta.get('kimg', float('nan')):.0f} thousand images, {meta.get('wall_time_s', 0) / 60:.0f} minutes).", "",
             f"**Training data.** Rendered cartoon faces; skin tones: {tones}.", "",
             "**Intended use.** _(your words: who should use it, for what)_", "",
             "**Out of scope.** _(your words; think of identifying people, \"enhancing\" photos of real people, "
             "evidence)_", "",
             "## Measured (this notebook, probe readings; 0 = lightest tone, 1 = darkest)", "",
             f"- With no input: {prior['share_dark']:.0%} of its random faces read as dark skin "
             f"(mean tone {prior['mean_skin_tone']:.2f}).",
             f"- PULSE on {inputs} dark-skinned {bias['side']}x{bias['side']} input{'s' if inputs > 1 else ''}, "
             f"{len(bias['seeds'])} seeds, {bias['steps']} steps: {row['accepted']}/{row['seeds']} accepted"
             + ("." if not row["accepted"] else
                f", {row['share_dark']:.0%} of them read as dark (mean tone {row['mean_skin_tone']:.2f})."), ""]
    lines += ["| input | true tone | accepted | read as dark | mean tone |", "|---|---|---|---|---|"]
    for sample, r in row["per_sample"].items():
        share = "-" if r["share_dark"] != r["share_dark"] else f"{r['share_dark']:.0%}"
        tone = "-" if r["mean_skin_tone"] != r["mean_skin_tone"] else f"{r['mean_skin_tone']:.2f}"
        lines.append(f"| {sample} | {r['truth_skin_tone']:.2f} | {r['accepted']}/{r['seeds']} | {share} | {tone} |")
    lines += ["", "**Limitations and biases.** _(your words, from the numbers above)_", "",
              "**Recommendations.** _(your words: what should a user do or never do?)_"]
    return "\n".join(lines)


def agreement_summary(reports: list[dict], truths: list[dict]) -> dict[str, dict]:
    """Per attribute over several inputs: mean agreement of the solutions with the truth, and chance for those inputs.

    reports: ``recovery_report`` results (with a probe); truths: the matching true attribute dicts.
    Inputs with no accepted solution are left out of both means (``inputs`` counts the rest).

    Raises ValueError unless there is one truth per report.
    """
    if len(reports) != len(truths):
        raise ValueError(f"need one truth per report, got {len(reports)} reports and {len(truths)} truths")
    kept = [(r["agreement"], chance_agreement(t)) for r, t in zip(reports, truths) if "agreement" in r]
    return {a.name: {"coarse": a.coarse, "inputs": len(kept),
                     "agreement": float(np.mean([k[0][a.name] for k in kept])) if kept else float("nan"),
                     "chance": float(np.mean([k[1][a.name] for k in kept])) if kept else float("nan")}
            for a in faces.ATTRIBUTES}
