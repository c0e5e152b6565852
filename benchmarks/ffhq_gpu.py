"""PULSE at FFHQ scale on a GPU: ms per step, time for 100 steps and peak memory for 1, 4 and 8 seeds.

    python benchmarks/ffhq_gpu.py                         # CUDA, float32 and mixed precision, 1/4/8 seeds
    python benchmarks/ffhq_gpu.py --precision fp32 --seeds 1 --steps 100
    python benchmarks/ffhq_gpu.py --allow-cpu --seeds 1 --steps 2 --fit-samples 10000   # CPU smoke run

The generator has FFHQ-1024's shapes (StyleGAN2 config F, 18 latents, 17 noise maps) with random
weights: the time of a step does not depend on the values. Each measurement is a real PULSE search with
the official x64 settings (16x16 -> 1024x1024). For mixed precision the best downscaling MSE per seed
is compared with float32 from the same seeds (same starts). The paper: ~5 s for 100 steps on one V100.
Prints a table and writes JSON (default benchmarks/results/ffhq_gpu.json).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulse_teach.latent import fit_gaussian  # noqa: E402
from pulse_teach.pulse import PRESETS, PulseConfig, upsample  # noqa: E402
from pulse_teach.stylegan2 import FFHQ_1024, Generator  # noqa: E402


def measure(generator: Generator, seeds: int, steps: int, mixed: bool, fit_samples: int) -> dict:
    """One PULSE search: per-step times (from callbacks, synchronised), wall time, peak memory, best MSE."""
    device = next(generator.parameters()).device
    stamps = []

    def stamp(_event) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    config = PulseConfig.preset("x64", steps=steps, num_seeds=seeds, image_every=0, gaussian_fit_samples=fit_samples,
                                mixed_precision=mixed)
    target = torch.rand(3, PRESETS["x64"]["input_side"], PRESETS["x64"]["input_side"],
                        generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    result = upsample(generator, target, config, callbacks=stamp)
    wall = time.perf_counter() - start
    step_seconds = [b - a for a, b in zip(stamps, stamps[1:])] or [wall]
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"precision": "mixed" if mixed else "fp32", "seeds": seeds, "steps": steps,
            "ms_per_step": 1000 * statistics.median(step_seconds), "search_s": wall,
            "s_per_100_steps": wall * 100 / steps, "peak_gib": peak, "best_l2": result.l2.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--precision", nargs="+", default=["fp32", "mixed"], choices=["fp32", "mixed"])
    parser.add_argument("--fit-samples", type=int, default=1_000_000, help="z samples of the Gaussian fit")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--allow-cpu", action="store_true", help="run on CPU (slow: use --steps 1-2, --seeds 1)")
    parser.add_argument("--json", default="benchmarks/results/ffhq_gpu.json")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and not args.allow_cpu:
        print("No CUDA GPU found. This benchmark is about GPU speed; on a CPU one 1024x1024 step takes ~10 s.\n"
              "Run it on a GPU (e.g. Colab), or pass --allow-cpu --seeds 1 --steps 2 --fit-samples 10000 "
              "for a smoke run.")
        sys.exit(2)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    generator = Generator(**FFHQ_1024).to(device).eval().requires_grad_(False)
    start = time.perf_counter()
    fit_gaussian(generator, args.fit_samples, progress=None)  # one-time, cached per generator
    fit_s = time.perf_counter() - start
    print(f"Gaussian fit of the 512-d mapping ({args.fit_samples} samples): {fit_s:.1f} s (cached afterwards)")
    measure(generator, 1, max(args.warmup_steps, 1), False, args.fit_samples)  # kernels, cudnn autotuning

    rows = []
    for precision in args.precision:
        for seeds in args.seeds:
            try:
                row = measure(generator, seeds, args.steps, precision == "mixed", args.fit_samples)
            except torch.OutOfMemoryError:
                print(f"{precision} {seeds} seeds: out of memory")
                torch.cuda.empty_cache()
                continue
            rows.append(row)
            print(f"{precision} {seeds} seeds: {row['ms_per_step']:.1f} ms/step, {row['search_s']:.2f} s search",
                  flush=True)
    for row in rows:  # mixed precision's effect on the downscaling loss, same seeds and starts
        ref = next((r for r in rows if r["precision"] == "fp32" and r["seeds"] == row["seeds"]), None)
        if row["precision"] == "mixed" and ref:
            row["best_l2_rel_diff_vs_fp32"] = max(abs(a - b) / max(b, 1e-12) for a, b in zip(row["best_l2"], ref["best_l2"]))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"\ndevice: {name}, torch {torch.__version__}; FFHQ-1024-shaped G, x64 preset, {args.steps} steps")
    print(f"{'precision':>9} {'seeds':>5} {'ms/step':>9} {'s/100 steps':>11} {'s/100/seed':>10} {'peak GiB':>9} "
          f"{'mean best MSE':>13} {'MSE vs fp32':>11}")
    for r in rows:
        diff = r.get("best_l2_rel_diff_vs_fp32")
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(f"{r['precision']:>9} {r['seeds']:>5} {r['ms_per_step']:>9.1f} {r['s_per_100_steps']:>11.2f} "
              f"{r['s_per_100_steps'] / r['seeds']:>10.2f} {peak:>9} "
              f"{statistics.mean(r['best_l2']):>13.2e} {'' if diff is None else f'{diff:.1%}':>11}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": name, "torch": torch.__version__, "fit_samples": args.fit_samples,
                               "fit_s": fit_s, "steps": args.steps, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
