"""How fast is one PULSE step, and how much does searching many seeds in one batch help?

    python benchmarks/pulse_speed.py                          # small 64x64 and FFHQ-1024 configs
    python benchmarks/pulse_speed.py --config small64 --batches 1 4 8 16 --steps 20

Weights are random: the time of a step does not depend on their values. Prints a table and writes
JSON (default benchmarks/results/pulse_speed.json).
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulse_teach import PulseConfig, upsample  # noqa: E402
from pulse_teach.runtime import resolve_device  # noqa: E402
from pulse_teach.stylegan2 import FFHQ_1024, SMALL_64, Generator  # noqa: E402

CONFIGS = {"small64": (SMALL_64, 8), "ffhq1024": (FFHQ_1024, 16)}  # generator kwargs, low-res side


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def time_steps(generator: Generator, low_side: int, batch: int, steps: int, warmup: int) -> list[float]:
    """Seconds per step of a real PULSE search (warm-up steps dropped)."""
    stamps = []

    def stamp(_event) -> None:
        if next(generator.parameters()).is_cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    config = PulseConfig(steps=warmup + steps + 1, num_seeds=batch, image_every=0, gaussian_fit_samples=10_000)
    target = torch.rand(3, low_side, low_side)
    upsample(generator, target, config, callbacks=stamp)
    return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8, 16])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-memory-gb", type=float, default=None,
                        help="skip batches whose estimated peak memory exceeds this (default: 70%% of RAM on CPU)")
    parser.add_argument("--json", default="benchmarks/results/pulse_speed.json")
    args = parser.parse_args()

    try:
        device = resolve_device(args.device)
    except ValueError as error:  # an unavailable --device: one line, exit status 2
        parser.error(str(error))
    if args.max_memory_gb is None and device.type == "cpu":
        import os
        args.max_memory_gb = 0.7 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rows = []
    for name in args.config:
        kwargs, low_side = CONFIGS[name]
        torch.manual_seed(0)
        generator = Generator(**kwargs).to(device).eval()
        base_memory = peak_memory_gb(device)
        per_seed_memory = None
        for batch in args.batches:
            if per_seed_memory and args.max_memory_gb and base_memory + per_seed_memory * batch > args.max_memory_gb:
                print(f"{name} batch {batch}: skipped, needs about {base_memory + per_seed_memory * batch:.0f} GB")
                continue
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds = time_steps(generator, low_side, batch, args.steps, args.warmup)
            ms = 1000 * statistics.median(seconds)
            peak = peak_memory_gb(device)
            if batch == 1 or per_seed_memory is None:
                per_seed_memory = max(peak - base_memory, 0.01)
            rows.append({"config": name, "resolution": generator.resolution, "batch": batch, "ms_per_step": ms,
                         "ms_per_step_per_seed": ms / batch, "seeds_per_s_100_steps": batch / (ms / 1000 * 100),
                         "s_per_100_steps": ms / 10, "peak_memory_gb": peak})
            print(f"{name} batch {batch}: {ms:.1f} ms/step", flush=True)

    print(f"\ndevice: {device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print(f"{'config':>9} {'batch':>5} {'ms/step':>9} {'ms/step/seed':>12} {'s/100 steps':>11} {'seeds/s':>8} {'peak GB':>8}")
    for r in rows:
        print(f"{r['config']:>9} {r['batch']:>5} {r['ms_per_step']:>9.1f} {r['ms_per_step_per_seed']:>12.1f} "
              f"{r['s_per_100_steps']:>11.2f} {r['seeds_per_s_100_steps']:>8.3f} {r['peak_memory_gb']:>8.2f}")
    speedups = {}
    for name in args.config:
        one = [r for r in rows if r["config"] == name and r["batch"] == 1]
        for r in rows:
            if one and r["config"] == name and r["batch"] > 1:
                speedups[f"{name}_batch{r['batch']}"] = r["seeds_per_s_100_steps"] / one[0]["seeds_per_s_100_steps"]
    for key, value in speedups.items():
        print(f"per-seed throughput {key} vs batch 1: {value:.2f}x")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
                               "machine": platform.processor() or platform.machine(), "rows": rows,
                               "throughput_vs_batch1": speedups}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
