"""PULSE on the bundled lesson faces: how many seeds are accepted, and are the solutions different faces?

    python benchmarks/pulse_faces.py                        # faces64, x8 (8x8 -> 64x64), 16 seeds, 100 steps
    python benchmarks/pulse_faces.py --model faces64-skewed --side 16

For every bundled sample: acceptance within eps, the mean pairwise RMS distance among the accepted
solutions next to their mean RMS distance to the true face, and (with the probe) which attributes the
solutions share with the truth. For scale it also reports the mean pairwise distance between random
samples of the generator. Prints a table, writes JSON and a picture (truth, input, solutions per row).
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
from pulse_teach import (  # noqa: E402
    PulseConfig,
    faces,  # noqa: E402
    upsample,
)
from pulse_teach.images import enlarge, make_grid, save_image  # noqa: E402
from pulse_teach.models import load_generator  # noqa: E402
from pulse_teach.probe import load_probe  # noqa: E402
from pulse_teach.quality import generate  # noqa: E402
from pulse_teach.recovery import diversity, recovery_report  # noqa: E402
from pulse_teach.samples import list_samples, load_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces64")
    parser.add_argument("--side", type=int, default=8, choices=(8, 16), help="input side (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--samples", nargs="*", help="sample names (default: all bundled)")
    parser.add_argument("--json", default="benchmarks/results/pulse_faces.json")
    parser.add_argument("--figure", default="benchmarks/results/pulse_faces.png")
    args = parser.parse_args()

    start = time.perf_counter()
    generator = load_generator(args.model)
    load_seconds = time.perf_counter() - start
    probe = load_probe()
    config = PulseConfig(steps=args.steps, num_seeds=args.seeds, image_every=0)
    random_samples = generate(generator, 64, seed=123)
    reference = diversity(random_samples)["mean_pairwise"]
    rows, pictures = [], []
    print(f"{args.model} (loaded in {load_seconds:.2f} s), {args.side}x{args.side} -> 64x64, {args.seeds} seeds, "
          f"{args.steps} steps (random samples: mean pairwise RMS {reference:.3f})")
    print(f"{'sample':8} {'accepted':>9} {'pairwise':>9} {'to truth':>9} {'coarse':>7} {'fine':>6} {'s':>6}")
    for name in args.samples or list_samples():
        sample = load_sample(name)
        start = time.perf_counter()
        result = upsample(generator, sample.low_res[args.side], config)
        seconds = time.perf_counter() - start
        report = recovery_report(result, sample.truth, sample.attributes, probe)
        report.pop("predicted", None)
        report.update(sample=name, seconds=round(seconds, 2), mse=result.l2.tolist())
        rows.append(report)
        d = report["diversity"]
        print(f"{name:8} {report['accepted']:>4}/{report['seeds']:<4} {d['mean_pairwise']:9.3f} "
              f"{d['mean_to_truth']:9.3f} {report.get('coarse_agreement', float('nan')):7.2f} "
              f"{report.get('fine_agreement', float('nan')):6.2f} {seconds:6.1f}")
        low = enlarge(sample.low_res[args.side], 64)
        pictures.append(torch.cat([sample.truth[None], low[None], result.images.detach().clamp(0, 1).cpu()]))
    accepted = sum(r["accepted"] for r in rows) / sum(r["seeds"] for r in rows)
    # means over the samples with at least two accepted solutions (nan if none)
    pairwise = float(np.nanmean([r["diversity"]["mean_pairwise"] for r in rows] + [np.nan]))
    to_truth = float(np.nanmean([r["diversity"]["mean_to_truth"] for r in rows] + [np.nan]))
    agreement = {n: float(np.nanmean([r["agreement"][n] for r in rows if "agreement" in r] + [np.nan]))
                 for n in faces.ATTRIBUTE_BY_NAME}
    print(f"all: {accepted:.1%} accepted; mean pairwise {pairwise:.3f} vs to truth {to_truth:.3f} "
          f"(random samples {reference:.3f})")
    print("share of solutions matching the truth: " + ", ".join(f"{n} {v:.2f}" for n, v in agreement.items()))
    out = {"model": args.model, "load_seconds": load_seconds, "side": args.side, "seeds": args.seeds, "steps": args.steps,
           "accepted_share": accepted, "mean_pairwise": pairwise, "mean_to_truth": to_truth,
           "random_samples_pairwise": reference, "agreement": agreement, "per_sample": rows,
           "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
           "torch": torch.__version__}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    save_image(make_grid(torch.cat(pictures), ncol=args.seeds + 2), args.figure)
    print(f"wrote {args.json} and {args.figure}")


if __name__ == "__main__":
    main()
