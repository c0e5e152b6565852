"""PULSE on held-out faces: how many seeds are accepted, and do the solutions look like the true posterior?

    python benchmarks/pulse_faces.py                        # faces64, x8 (8x8 -> 64x64), 16 seeds, 100 steps, 8 faces
    python benchmarks/pulse_faces.py --samples              # the bundled lesson faces (pulse_faces_samples.json)
    python benchmarks/pulse_faces.py --model faces64-skewed --side 16

The default inputs are ``--faces`` held-out faces (samples.held_out_samples: half light-, half
dark-skinned, drawn from seeds no model, probe or lesson uses). In this world the faces an 8x8 input
allows are known: its coarse attributes fixed, the fine ones drawn from the prior. So for every input,
next to acceptance within eps, the mean pairwise RMS distance among the accepted solutions and their
mean distance to the true face, it compares the solutions with renders of that posterior
(recovery.posterior_figures) and, with the probe, reads their attributes. Goals, over all inputs:

    accepted                  >= 90 % of seeds
    diversity ratio           >= 0.5   mean pairwise distance, solutions / posterior renders
    sharpness ratio           >= 0.8   high-frequency energy (x - up(down(x))), solutions / posterior renders
    nearest-valid ratio       <= 2     median distance to the nearest of n posterior renders, solutions / fresh renders
    fine attributes varied    most     mean count of fine attributes read with >= 2 values across one input's solutions
    coarse agreement          >= 90 %  (solution, coarse attribute) pairs read as the truth

The ratios are means over the inputs (with at least two accepted solutions for diversity). Prints a
table, writes JSON and a picture (per row: truth, input, every seed's solution, a few posterior renders).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulse_teach import PulseConfig, faces, upsample  # noqa: E402
from pulse_teach.images import enlarge, make_grid, save_image  # noqa: E402
from pulse_teach.models import load_generator  # noqa: E402
from pulse_teach.probe import load_probe  # noqa: E402
from pulse_teach.quality import generate  # noqa: E402
from pulse_teach.recovery import (  # noqa: E402
    diversity,
    posterior_figures,
    posterior_renders,
    posterior_seed,
    recovery_report,
)
from pulse_teach.samples import held_out_samples, list_samples, load_sample  # noqa: E402

# the goals: (figure, test, threshold)
GOALS = {"accepted": (">=", 0.9), "diversity_ratio": (">=", 0.5), "sharpness_ratio": (">=", 0.8),
         "nearest_valid_ratio": ("<=", 2.0), "fine_varied": (">", len(faces.FINE) / 2),
         "coarse_agreement": (">=", 0.9)}
POSTERIOR_SHOWN = 4  # posterior renders per row of the picture


def passes(name: str, value: float) -> bool:
    test, threshold = GOALS[name]
    return bool({">=": value >= threshold, "<=": value <= threshold, ">": value > threshold}[test])


def nanmean(values: list[float]) -> float:
    """Mean of the finite values (nan if none)."""
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces64")
    parser.add_argument("--side", type=int, default=8, choices=(8, 16), help="input side (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--faces", type=int, default=8,
                        help="held-out faces, half light, half dark (default: %(default)s)")
    parser.add_argument("--samples", nargs="*",
                        help="bundled lesson samples instead of held-out faces (none named: all)")
    parser.add_argument("--posterior", type=int, default=300, help="posterior renders per input (default: %(default)s)")
    parser.add_argument("--json", help="default: benchmarks/results/pulse_faces.json "
                                       "(with --samples: pulse_faces_samples.json)")
    parser.add_argument("--figure", help="default: the JSON's path ending in .png")
    args = parser.parse_args()
    args.json = args.json or f"benchmarks/results/pulse_faces{'' if args.samples is None else '_samples'}.json"
    args.figure = args.figure or str(Path(args.json).with_suffix(".png"))

    start = time.perf_counter()
    generator = load_generator(args.model)
    load_seconds = time.perf_counter() - start
    probe = load_probe()
    config = PulseConfig(steps=args.steps, num_seeds=args.seeds, image_every=0)
    random_samples = generate(generator, 64, seed=123)
    reference = diversity(random_samples)["mean_pairwise"]
    if args.samples is None:
        inputs, what = held_out_samples(args.faces), f"{args.faces} held-out faces"
    else:
        inputs, what = [load_sample(name) for name in args.samples or list_samples()], "lesson samples"
    rows, pictures = [], []
    print(f"{args.model} (loaded in {load_seconds:.2f} s), {what}, {args.side}x{args.side} -> 64x64, "
          f"{args.seeds} seeds, {args.steps} steps (random samples: mean pairwise RMS {reference:.3f})")
    print(f"{'input':8} {'skin':5} {'accepted':>9} {'pairwise':>9} {'to truth':>9} {'divers.':>8} {'sharp':>6} "
          f"{'nearest':>8} {'coarse':>7} {'fine':>6} {'varied':>7} {'s':>6}")
    for index, sample in enumerate(inputs):
        start = time.perf_counter()
        result = upsample(generator, sample.low_res[args.side], config)
        seconds = time.perf_counter() - start
        report = recovery_report(result, sample.truth, sample.attributes, probe)
        report.pop("predicted", None)
        seed = posterior_seed(index)
        if report["accepted"]:
            report["posterior"] = posterior_figures(result.accepted_images, sample.attributes, args.posterior, seed)
        report["fine_varied"] = sum(v >= 2 for v in report.get("fine_values_read", {}).values()) \
            if report["accepted"] else float("nan")
        skin = faces.skin_group(sample.attributes["skin_tone"])
        report.update(sample=sample.name, skin_group=skin, seconds=round(seconds, 2), mse=result.l2.tolist())
        rows.append(report)
        d, post = report["diversity"], report.get("posterior", {})
        print(f"{sample.name:8} {skin:5} {report['accepted']:>4}/{report['seeds']:<4} {d['mean_pairwise']:9.3f} "
              f"{d['mean_to_truth']:9.3f} {post.get('diversity_ratio', float('nan')):8.2f} "
              f"{post.get('sharpness_ratio', float('nan')):6.2f} {post.get('nearest_valid_ratio', float('nan')):8.2f} "
              f"{report.get('coarse_agreement', float('nan')):7.2f} {report.get('fine_agreement', float('nan')):6.2f} "
              f"{report['fine_varied']:>5}/{len(faces.FINE)} {seconds:6.1f}")
        low = enlarge(sample.low_res[args.side], 64)
        shown = posterior_renders(sample.attributes, POSTERIOR_SHOWN, seed)  # the first renders of the bank
        pictures.append(torch.cat([sample.truth[None], low[None], result.images.detach().clamp(0, 1).cpu(), shown]))
    accepted = sum(r["accepted"] for r in rows) / sum(r["seeds"] for r in rows)
    # means over the inputs with at least two accepted solutions (nan if none)
    pairwise = nanmean([r["diversity"]["mean_pairwise"] for r in rows])
    to_truth = nanmean([r["diversity"]["mean_to_truth"] for r in rows])
    agreement = {n: nanmean([r["agreement"][n] for r in rows if "agreement" in r]) for n in faces.ATTRIBUTE_BY_NAME}
    figures = {name: nanmean([r["posterior"][name] for r in rows if "posterior" in r])
               for name in ("diversity_ratio", "sharpness_ratio", "nearest_valid_ratio")}
    figures["accepted"] = accepted
    figures["fine_varied"] = nanmean([r["fine_varied"] for r in rows])
    solved = [r for r in rows if "coarse_agreement" in r]  # pooled over (solution, coarse attribute) pairs
    figures["coarse_agreement"] = (sum(r["coarse_agreement"] * r["accepted"] for r in solved)
                                   / sum(r["accepted"] for r in solved)) if solved else float("nan")
    goals = {name: {"value": figures[name], "goal": f"{test} {threshold:g}", "pass": passes(name, figures[name])}
             for name, (test, threshold) in GOALS.items()}
    print(f"all: {accepted:.1%} accepted; mean pairwise {pairwise:.3f} vs to truth {to_truth:.3f} "
          f"(random samples {reference:.3f})")
    print("share of solutions matching the truth: " + ", ".join(f"{n} {v:.2f}" for n, v in agreement.items()))
    print("goals: " + "; ".join(f"{name} {g['value']:.3g} ({g['goal']}: {'pass' if g['pass'] else 'FAIL'})"
                                for name, g in goals.items()))
    out = {"model": args.model, "load_seconds": load_seconds, "side": args.side, "seeds": args.seeds, "steps": args.steps,
           "inputs": what, "posterior_renders": args.posterior,
           "accepted_share": accepted, "mean_pairwise": pairwise, "mean_to_truth": to_truth,
           "random_samples_pairwise": reference, "agreement": agreement, "goals": goals, "per_sample": rows,
           "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
           "torch": torch.__version__}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    save_image(make_grid(torch.cat(pictures), ncol=args.seeds + 2 + POSTERIOR_SHOWN), args.figure)
    print(f"wrote {args.json} and {args.figure}")


if __name__ == "__main__":
    main()
