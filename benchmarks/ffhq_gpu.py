"""PULSE at FFHQ scale on a GPU: speed, peak memory, mixed precision and the seed planner, in one run.

    python benchmarks/ffhq_gpu.py                         # CUDA: fp32 and mixed, 1/4/8 seeds, plan_seeds
    python benchmarks/ffhq_gpu.py --precision fp32 --seeds 1 --steps 100
    python benchmarks/ffhq_gpu.py --allow-cpu --resolution 128 --channel-base 1024 --seeds 1 2 --steps 3 \
        --fit-samples 10000                                                          # a smoke run on a CPU

The generator has FFHQ-1024's shapes (StyleGAN2 config F, 18 latents, 17 noise maps) with random
weights: the time of a step does not depend on the values. Each measurement is a real PULSE search with
the official x64 settings (16x16 -> 1024x1024; the input side is resolution / 64). It measures:

1. ms per step, s per 100 steps and peak memory for each precision and batch of seeds;
2. mixed precision against float32 from the same seeds (same starts): the relative difference of each
   seed's best downscaling MSE and the RMS difference of the returned images (tolerance below);
3. ``plan_seeds``: its per-seed and fixed cost against the peaks measured in 1, and one search with the
   planned batch, which must not run out of memory.

The paper: ~5 s for 100 steps on one V100. Prints a table and writes JSON (default
benchmarks/results/ffhq_gpu.json), rewritten after every measurement so a cut-off run keeps what it did.
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
from pulse_teach.memory_plan import plan_seeds  # noqa: E402
from pulse_teach.pulse import PulseConfig, upsample  # noqa: E402
from pulse_teach.stylegan2 import Generator  # noqa: E402

# Mixed precision "gives the same solutions" when, seed by seed, the best MSE is within 25 % of float32's
# and the returned images are within this RMS (images in [0, 1]; 0.02 is about 5 grey levels of 255).
MIXED_MSE_REL_TOL, MIXED_IMAGE_RMS_TOL = 0.25, 0.02


def measure(generator: Generator, seeds: int, steps: int, mixed: bool, fit_samples: int) -> tuple[dict, torch.Tensor]:
    """One PULSE search: per-step times (synchronised callbacks), wall time, peak memory above the weights."""
    device = next(generator.parameters()).device
    stamps = []

    def stamp(_event) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    base = 0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    side = generator.resolution // 64
    config = PulseConfig.preset("x64", steps=steps, num_seeds=seeds, image_every=0, gaussian_fit_samples=fit_samples,
                                mixed_precision=mixed)
    target = torch.rand(3, side, side, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    result = upsample(generator, target, config, callbacks=stamp)
    wall = time.perf_counter() - start
    step_seconds = [b - a for a, b in zip(stamps, stamps[1:])] or [wall]
    peak = (torch.cuda.max_memory_allocated(device) - base) / 2**30 if device.type == "cuda" else None
    row = {"precision": "mixed" if mixed else "fp32", "seeds": seeds, "steps": steps,
           "ms_per_step": 1000 * statistics.median(step_seconds), "search_s": wall,
           "s_per_100_steps": wall * 100 / steps, "peak_gib": peak, "best_l2": result.l2.tolist(),
           "accepted": int(result.num_accepted)}
    return row, result.images.clamp(0, 1)


def compare_mixed(row: dict, ref: dict, images: torch.Tensor, ref_images: torch.Tensor) -> None:
    """Add mixed-vs-fp32 figures to ``row`` (same seeds, same starts)."""
    rel = [abs(a - b) / max(b, 1e-12) for a, b in zip(row["best_l2"], ref["best_l2"])]
    rms = (images - ref_images).pow(2).mean(dim=(1, 2, 3)).sqrt().tolist()  # per seed
    row.update(best_l2_rel_diff_vs_fp32=max(rel), image_rms_vs_fp32=max(rms),
               same_as_fp32=max(rel) <= MIXED_MSE_REL_TOL and max(rms) <= MIXED_IMAGE_RMS_TOL)


def check_plan(generator: Generator, rows: list[dict], mixed: bool, fit_samples: int, steps: int) -> dict:
    """plan_seeds' model of memory against measured peaks, then one search with the planned batch."""
    side = generator.resolution // 64
    plan = plan_seeds(generator, input_side=side, mixed_precision=mixed)
    out = {"precision": "mixed" if mixed else "fp32", "num_seeds": plan.num_seeds,
           "per_seed_gib": plan.bytes_per_seed / 2**30, "fixed_gib": plan.fixed_bytes / 2**30,
           "free_gib": plan.free_bytes / 2**30, "summary": plan.summary(), "predicted_vs_measured": []}
    for row in rows:
        if row["precision"] == out["precision"] and row["peak_gib"] is not None:
            predicted = out["fixed_gib"] + row["seeds"] * out["per_seed_gib"]
            out["predicted_vs_measured"].append({"seeds": row["seeds"], "predicted_gib": predicted,
                                                 "measured_gib": row["peak_gib"]})
    try:
        row, _ = measure(generator, plan.num_seeds, steps, mixed, fit_samples)
        out.update(planned_run_ok=True, planned_run_peak_gib=row["peak_gib"], planned_run_ms_per_step=row["ms_per_step"])
    except torch.OutOfMemoryError as error:
        out.update(planned_run_ok=False, planned_run_error=str(error).splitlines()[0])
        torch.cuda.empty_cache()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--precision", nargs="+", default=["fp32", "mixed"], choices=["fp32", "mixed"])
    parser.add_argument("--fit-samples", type=int, default=1_000_000, help="z samples of the Gaussian fit")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--plan-steps", type=int, default=5, help="steps of the search with plan_seeds' batch "
                        "(0: skip the planner check)")
    parser.add_argument("--resolution", type=int, default=1024, help="generator side (smaller: smoke runs only)")
    parser.add_argument("--channel-base", type=int, default=32768, help="generator width (smaller: smoke runs only)")
    parser.add_argument("--allow-cpu", action="store_true", help="run on CPU (slow: see the smoke run above)")
    parser.add_argument("--json", default="benchmarks/results/ffhq_gpu.json")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and not args.allow_cpu:
        print("No CUDA GPU found. This benchmark is about GPU speed; on a CPU one 1024x1024 step takes ~10 s.\n"
              "Run it on a GPU (e.g. Colab), or pass --allow-cpu --resolution 64 --steps 3 --fit-samples 10000 "
              "for a smoke run.")
        sys.exit(2)
    # cuDNN's autotuner off (PyTorch's default): on an H200 it made no step faster (ffhq_gpu_variants.py) and its
    # first call of each shape took up to 30 GiB of scratch memory, which would be counted as a seed's cost.
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(0)
    generator = Generator(resolution=args.resolution, channel_base=args.channel_base).to(device).eval().requires_grad_(False)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    report = {"device": name, "torch": torch.__version__, "resolution": args.resolution, "steps": args.steps,
              "fit_samples": args.fit_samples, "command": " ".join(sys.argv), "rows": [], "plans": [],
              "tolerance": {"best_mse_rel": MIXED_MSE_REL_TOL, "image_rms": MIXED_IMAGE_RMS_TOL}}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        out.write_text(json.dumps(report, indent=2))

    start = time.perf_counter()
    fit_gaussian(generator, args.fit_samples, progress=None)  # one-time, cached per generator
    report["fit_s"] = time.perf_counter() - start
    print(f"Gaussian fit of the 512-d mapping ({args.fit_samples} samples): {report['fit_s']:.1f} s", flush=True)
    measure(generator, 1, max(args.warmup_steps, 1), False, args.fit_samples)  # kernels, cudnn autotuning
    if "mixed" in args.precision:
        measure(generator, 1, max(args.warmup_steps, 1), True, args.fit_samples)

    rows, images = report["rows"], {}
    for precision in args.precision:
        for seeds in args.seeds:
            try:
                row, images[precision, seeds] = measure(generator, seeds, args.steps, precision == "mixed",
                                                        args.fit_samples)
            except torch.OutOfMemoryError:
                print(f"{precision} {seeds} seeds: out of memory", flush=True)
                torch.cuda.empty_cache()
                continue
            ref = next((r for r in rows if r["precision"] == "fp32" and r["seeds"] == seeds), None)
            if precision == "mixed" and ref is not None:
                compare_mixed(row, ref, images[precision, seeds], images["fp32", seeds])
            rows.append(row)
            save()
            print(f"{precision} {seeds} seeds: {row['ms_per_step']:.1f} ms/step, {row['search_s']:.2f} s search",
                  flush=True)
    if device.type == "cuda" and args.plan_steps:
        for precision in args.precision:
            report["plans"].append(check_plan(generator, rows, precision == "mixed", args.fit_samples, args.plan_steps))
            save()
            print(report["plans"][-1]["summary"], "| planned run ok:", report["plans"][-1]["planned_run_ok"], flush=True)

    print(f"\ndevice: {name}, torch {torch.__version__}; FFHQ-{args.resolution}-shaped G, x64 preset, "
          f"{args.steps} steps")
    print(f"{'precision':>9} {'seeds':>5} {'ms/step':>9} {'s/100 steps':>11} {'s/100/seed':>10} {'peak GiB':>9} "
          f"{'mean best MSE':>13} {'MSE vs fp32':>11} {'img RMS':>8}")
    for r in rows:
        diff = r.get("best_l2_rel_diff_vs_fp32")
        rms = r.get("image_rms_vs_fp32")
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(f"{r['precision']:>9} {r['seeds']:>5} {r['ms_per_step']:>9.1f} {r['s_per_100_steps']:>11.2f} "
              f"{r['s_per_100_steps'] / r['seeds']:>10.2f} {peak:>9} "
              f"{statistics.mean(r['best_l2']):>13.2e} {'' if diff is None else f'{diff:.1%}':>11} "
              f"{'' if rms is None else f'{rms:.4f}':>8}")
    for plan in report["plans"]:
        print(f"plan_seeds ({plan['precision']}): {plan['summary']}; planned run "
              f"{'ok' if plan['planned_run_ok'] else 'OUT OF MEMORY'}"
              + (f", peak {plan['planned_run_peak_gib']:.1f} GiB" if plan.get("planned_run_peak_gib") else ""))
        for p in plan["predicted_vs_measured"]:
            print(f"   {p['seeds']} seeds: predicted {p['predicted_gib']:.2f} GiB, measured {p['measured_gib']:.2f} GiB")
    save()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
