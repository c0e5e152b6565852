"""Training steps per second at the bundled recipe (``TrainConfig()`` defaults): this checkout vs a git commit.

    python benchmarks/train_speed.py --against bdeb162          # side by side, alternating rounds
    python benchmarks/train_speed.py                            # this checkout only

Each measurement is a fresh process that trains a new run for warm-up + timed steps with the package's
default threads (what ``python -m pulse_teach train`` uses), in a temporary folder, and reports the median
seconds per step (a D step, lazy R1 every 16th, a G step, EMA and the face rendering that feeds them).
Prints a table and writes JSON (default benchmarks/results/train_speed.json).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE_ENV = "TRAIN_SPEED_TREE"  # set for a worker: the package tree it imports
sys.path.insert(0, os.environ.get(TREE_ENV) or str(ROOT))


def worker(steps: int, warmup: int) -> float:
    """Median seconds per training step of a new default run (this process's package)."""
    from pulse_teach.train import TrainConfig, Trainer

    stamps = []
    with tempfile.TemporaryDirectory() as run_dir:
        config = TrainConfig(max_steps=warmup + steps, max_minutes=None, sample_minutes=1e9, checkpoint_minutes=1e9)
        Trainer(config, run_dir).run(lambda event: stamps.append(time.perf_counter()) if event.kind == "step" else None)
    return statistics.median(b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:]))


def measure(tree: str, steps: int, warmup: int) -> float:
    cmd = [sys.executable, __file__, "--worker", "--steps", str(steps), "--warmup", str(warmup)]
    done = subprocess.run(cmd, env=dict(os.environ, **{TREE_ENV: tree}), check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["s_per_step"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="GITREF", help="also time that commit's package, alternating rounds")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default: 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default="benchmarks/results/train_speed.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps({"s_per_step": worker(args.steps, args.warmup)}))
        return
    from _old_tree import old_tree

    with old_tree(args.against) if args.against else contextlib.nullcontext() as tmp:
        trees = {"this checkout": str(ROOT)}
        if args.against:
            trees = {args.against: tmp, **trees}
        times: dict[str, list[float]] = {label: [] for label in trees}
        for r in range(args.rounds):
            for label, tree in trees.items():
                times[label].append(measure(tree, args.steps, args.warmup))
                print(f"round {r + 1}/{args.rounds} {label}: {times[label][-1]:.3f} s/step", flush=True)
    medians = {label: statistics.median(t) for label, t in times.items()}
    print(f"\n{'package':>14} {'s/step':>7} {'steps/s':>8} {'images/s':>9}")
    for label, s in medians.items():
        print(f"{label:>14} {s:>7.3f} {1 / s:>8.2f} {32 / s:>9.1f}")
    result = {"steps": args.steps, "rounds": times, "median_s_per_step": medians, "cpu_count": os.cpu_count(),
              "machine": platform.processor() or platform.machine()}
    if args.against:
        result["speedup"] = medians[args.against] / medians["this checkout"]
        print(f"speed-up: {result['speedup']:.2f}x")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
