"""The bias experiment: the same dark-skinned 8x8 faces through a balanced and a skewed generator.

    python benchmarks/bias.py                      # faces64 vs faces64-skewed, the dark faces, 16 seeds, 100 steps
    python benchmarks/bias.py --seeds 4 --steps 20 --json /tmp/bias.json --figure /tmp/bias.png   # a quick look

A controlled reproduction of the 2020 PULSE controversy (a downscaled photo of a Black man came back
white): here the truth is known, and the two generators differ only in the skin tones they were
trained on (50 % vs 10 % dark). For each model and input the probe reads every accepted solution:
the share read as dark skin and the mean skin tone (0 = lightest, 1 = darkest). Two of the inputs
(``BIAS_AMBIGUOUS``: dark skin in bright sun) have nearly the same 8x8 picture as a light face in
shade; on those the prior decides, and the last line gives the share of their solutions read as
light. Lesson 05 runs the same function (``recovery.bias_experiment``) with the same settings, so its
numbers equal these.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulse_teach.figures import bias_figure  # noqa: E402
from pulse_teach.models import load_generator  # noqa: E402
from pulse_teach.probe import load_probe  # noqa: E402
from pulse_teach.recovery import (  # noqa: E402
    BIAS_AMBIGUOUS,
    BIAS_MODELS,
    BIAS_SAMPLES,
    BIAS_SEEDS,
    BIAS_SIDE,
    BIAS_STEPS,
    bias_experiment,
)
from pulse_teach.samples import load_sample  # noqa: E402


def percent(share: float) -> str:
    """A share as a whole percentage; '-' when nothing was accepted (nan)."""
    return "-" if share != share else f"{share:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(BIAS_MODELS))
    parser.add_argument("--samples", nargs="+", default=list(BIAS_SAMPLES))
    parser.add_argument("--seeds", type=int, default=len(BIAS_SEEDS), help="seeds 0..n-1 (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=BIAS_STEPS)
    parser.add_argument("--side", type=int, default=BIAS_SIDE, choices=(8, 16))
    parser.add_argument("--json", default="benchmarks/results/bias.json")
    parser.add_argument("--figure", default="benchmarks/results/bias.png")
    args = parser.parse_args()

    models = {name: load_generator(name) for name in args.models}
    samples = [load_sample(name) for name in args.samples]
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def progress(model: str, sample: str, result) -> None:
        now = time.perf_counter()
        seconds[f"{model}/{sample}"] = round(now - clock[0], 2)
        clock[0] = now
        print(f"  {model:15} {sample}: {result.num_accepted}/{len(result.seeds)} accepted "
              f"({seconds[f'{model}/{sample}']:.1f} s)", flush=True)

    print(f"{', '.join(args.models)} on {', '.join(args.samples)} at {args.side}x{args.side}, "
          f"{args.seeds} seeds, {args.steps} steps")
    start = time.perf_counter()
    results: dict = {}
    report = bias_experiment(models, samples, args.seeds, args.steps, load_probe(), side=args.side,
                             results=results, callback=progress)
    total = time.perf_counter() - start

    print(f"\n{'model':15} {'sample':7} {'truth':>6} {'accepted':>9} {'read dark':>10} {'mean tone':>10}")
    for name, m in report["models"].items():
        for sample, row in m["per_sample"].items():
            print(f"{name:15} {sample:7} {row['truth_skin_tone']:6.2f} {row['accepted']:>4}/{row['seeds']:<4} "
                  f"{percent(row['share_dark']):>10} {row['mean_skin_tone']:10.2f}")
        print(f"{name:15} {'all':7} {'':6} {m['accepted']:>4}/{m['seeds']:<4} {percent(m['share_dark']):>10} "
              f"{m['mean_skin_tone']:10.2f}")
    print("\nambiguous inputs (dark skin in the sun): share of accepted solutions read as light skin")
    for name, m in report["models"].items():
        rows = [m["per_sample"][s] for s in BIAS_AMBIGUOUS if s in m["per_sample"]]
        accepted = sum(r["accepted"] for r in rows)
        light = sum(r["accepted"] * (1 - r["share_dark"]) for r in rows if r["accepted"])
        share = light / accepted if accepted else float("nan")
        m["ambiguous_share_light"] = share
        print(f"  {name:15} {percent(share)} of {accepted}")
    report.update(seconds=seconds, total_seconds=round(total, 1),
                  machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
                  torch=torch.__version__)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    bias_figure(report, results, samples).savefig(args.figure, dpi=100)
    print(f"{total:.0f} s in all; wrote {args.json} and {args.figure}")


if __name__ == "__main__":
    main()
