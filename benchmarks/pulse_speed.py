"""How fast is one PULSE step, and how much does searching many seeds in one batch help?

    python benchmarks/pulse_speed.py                          # the bundled faces64 (as shipped) and FFHQ-1024
    python benchmarks/pulse_speed.py --config faces64 small64 --batches 1 4 8 16 --steps 20
    python benchmarks/pulse_speed.py --config faces64 --batches 16 --against bdeb162   # old code vs this checkout

faces64 is the bundled model the lessons run, loaded as shipped; small64 and ffhq1024 have random
weights (the time of a step does not depend on their values). Each row also gives the GFLOP of one
seed-step (convolutions and matrix products of the forward and backward pass, counted by
torch.utils.flop_counter), the GFLOP/s achieved, and its share of the CPU's matrix-product peak
measured in the same run with the same threads. Prints a table and writes JSON (default
benchmarks/results/pulse_speed.json). ``--against GITREF`` instead times the package as of that commit
and this checkout side by side: each in its own process with the package's default threads, in
alternating rounds, so both see the same machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TREE_ENV = "PULSE_SPEED_TREE"  # set by --against: the package tree a worker process imports
sys.path.insert(0, os.environ.get(TREE_ENV) or str(ROOT))
from pulse_teach import PulseConfig, load_generator, upsample  # noqa: E402
from pulse_teach.runtime import resolve_device  # noqa: E402
from pulse_teach.stylegan2 import FFHQ_1024, SMALL_64, Generator  # noqa: E402

CONFIGS = {  # a generator maker and the low-res side
    "faces64": (lambda: load_generator("faces64"), 8),
    "small64": (lambda: Generator(**SMALL_64), 8),
    "ffhq1024": (lambda: Generator(**FFHQ_1024), 16),
}


def matmul_peak_gflops(device: torch.device, side: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a large float32 matrix product with the current threads: what the machine can reach."""
    a, b = torch.randn(side, side, device=device), torch.randn(side, side, device=device)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 2 * side**3 * repeats / (time.perf_counter() - start) / 1e9


def gflop_per_seed_step(generator: Generator, low_side: int) -> float:
    """Convolution and matrix-product GFLOP of one PULSE step for one seed (forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    config = PulseConfig(steps=1, num_seeds=1, image_every=0, gaussian_fit_samples=10_000)
    upsample(generator, torch.rand(3, low_side, low_side), config)  # the fit, outside the count
    with FlopCounterMode(display=False) as counter:
        upsample(generator, torch.rand(3, low_side, low_side), config)
    return counter.get_total_flops() / 1e9


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


def against(ref: str, configs: list[str], batches: list[int], steps: int, warmup: int, rounds: int, out: Path) -> None:
    """Time GITREF's package and this checkout's alternately, each round in fresh processes; print and save."""
    from _old_tree import old_tree

    with old_tree(ref) as tmp:
        trees = {f"{ref}": tmp, "this checkout": str(ROOT)}
        times: dict[tuple[str, str, int], list[float]] = {}
        for r in range(rounds):
            for label, tree in trees.items():
                for name in configs:
                    for batch in batches:
                        cmd = [sys.executable, __file__, "--worker", "--config", name, "--batches", str(batch),
                               "--steps", str(steps), "--warmup", str(warmup)]
                        done = subprocess.run(cmd, env=dict(os.environ, **{TREE_ENV: tree}), check=True,
                                              capture_output=True, text=True)
                        ms = json.loads(done.stdout.strip().splitlines()[-1])["ms_per_step"]
                        times.setdefault((label, name, batch), []).append(ms)
                        print(f"round {r + 1}/{rounds} {label}: {name} batch {batch}: {ms:.1f} ms/step", flush=True)
    rows = []
    print(f"\n{'config':>9} {'batch':>5} {ref + ' ms/step':>16} {'now ms/step':>12} {'speed-up':>9}")
    for name in configs:
        for batch in batches:
            old, new = (statistics.median(times[(label, name, batch)]) for label in trees)
            rows.append({"config": name, "batch": batch, "previous_ms_per_step": old, "ms_per_step": new,
                         "speedup": old / new, "previous_rounds": times[(ref, name, batch)],
                         "rounds": times[("this checkout", name, batch)]})
            print(f"{name:>9} {batch:>5} {old:>16.1f} {new:>12.1f} {old / new:>8.2f}x")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"against": ref, "threads": "package default", "torch": torch.__version__,
                               "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", nargs="+", default=["faces64", "ffhq1024"], choices=list(CONFIGS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8, 16])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-memory-gb", type=float, default=None,
                        help="skip batches whose estimated peak memory exceeds this (default: 70%% of RAM on CPU)")
    parser.add_argument("--json", default="benchmarks/results/pulse_speed.json")
    parser.add_argument("--against", metavar="GITREF", help="time that commit's package and this checkout side by side")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --against (default: 3)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one timing, as JSON (--against)
    args = parser.parse_args()
    if args.against:
        return against(args.against, args.config, args.batches, args.steps, args.warmup, args.rounds,
                       Path(args.json).with_name(Path(args.json).stem + "_against.json"))
    if args.worker:
        make, low_side = CONFIGS[args.config[0]]
        torch.manual_seed(0)
        seconds = time_steps(make().eval(), low_side, args.batches[0], args.steps, args.warmup)
        print(json.dumps({"ms_per_step": 1000 * statistics.median(seconds)}))
        return None

    try:
        device = resolve_device(args.device)
    except ValueError as error:  # an unavailable --device: one line, exit status 2
        parser.error(str(error))
    if args.max_memory_gb is None and device.type == "cpu":
        import os
        args.max_memory_gb = 0.7 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rows = []
    peak_gflops = matmul_peak_gflops(device)
    print(f"matrix-product peak: {peak_gflops:.0f} GFLOP/s ({torch.get_num_threads()} threads)", flush=True)
    for name in args.config:
        make, low_side = CONFIGS[name]
        torch.manual_seed(0)
        generator = make().to(device).eval()
        gflop = gflop_per_seed_step(generator, low_side)
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
                         "s_per_100_steps": ms / 10, "peak_memory_gb": peak, "gflop_per_seed_step": gflop,
                         "gflops": gflop * batch / (ms / 1000), "share_of_peak": gflop * batch / (ms / 1000) / peak_gflops})
            print(f"{name} batch {batch}: {ms:.1f} ms/step", flush=True)

    print(f"\ndevice: {device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print(f"matrix-product peak {peak_gflops:.0f} GFLOP/s")
    print(f"{'config':>9} {'batch':>5} {'ms/step':>9} {'ms/step/seed':>12} {'s/100 steps':>11} {'seeds/s':>8} {'peak GB':>8} "
          f"{'GFLOP/seed-step':>15} {'GFLOP/s':>8} {'of peak':>7}")
    for r in rows:
        print(f"{r['config']:>9} {r['batch']:>5} {r['ms_per_step']:>9.1f} {r['ms_per_step_per_seed']:>12.1f} "
              f"{r['s_per_100_steps']:>11.2f} {r['seeds_per_s_100_steps']:>8.3f} {r['peak_memory_gb']:>8.2f} "
              f"{r['gflop_per_seed_step']:>15.3f} {r['gflops']:>8.1f} {r['share_of_peak']:>7.0%}")
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
                               "matmul_peak_gflops": peak_gflops,
                               "machine": platform.processor() or platform.machine(), "rows": rows,
                               "throughput_vs_batch1": speedups}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
