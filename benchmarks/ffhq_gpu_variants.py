"""Which way of running the FFHQ-1024 generator makes a PULSE step fastest on this GPU?

    python benchmarks/ffhq_gpu_variants.py                 # CUDA only; ~2 minutes on an H200

Times the same PULSE search (x64 preset, random FFHQ-shaped weights, the same seeds) under each
combination below, for 1 and 8 seeds: the median ms per step over ``--steps`` steps after 3 warm-up
steps of that very shape (so cuDNN's autotuning is not timed), and the peak memory of the timed steps.

- precision: float32 (cuDNN convolutions use TF32, PyTorch's default) or mixed (float16 autocast)
- memory format: NCHW, or channels-last (NHWC, what tensor cores read without a transpose)
- modulated convolution: unfused (scale activations, one shared conv) or fused (grouped conv, groups=N)
- cudnn.benchmark: off (cuDNN's heuristics) or on (autotune each new shape once)

Then a torch.profiler table of the default variant at 8 seeds. Prints tables, writes JSON
(default benchmarks/results/ffhq_gpu_variants.json).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulse_teach.latent import fit_gaussian  # noqa: E402
from pulse_teach.pulse import PulseConfig, upsample  # noqa: E402
from pulse_teach.stylegan2 import Generator  # noqa: E402

VARIANTS = [  # (precision, channels_last, fused, cudnn_benchmark)
    ("fp32", False, False, False), ("fp32", False, False, True), ("fp32", True, False, False),
    ("fp32", True, False, True), ("fp32", False, True, False), ("fp32", True, True, True),
    ("mixed", False, False, False), ("mixed", True, False, False), ("mixed", True, False, True),
    ("mixed", True, True, True),
]


def time_search(generator: Generator, seeds: int, steps: int, mixed: bool) -> dict:
    """Warm up this shape for 3 steps, then time ``steps`` steps; peak memory of the timed search only."""
    device = next(generator.parameters()).device
    side = generator.resolution // 64
    target = torch.rand(3, side, side, generator=torch.Generator().manual_seed(0))
    make = lambda n: PulseConfig.preset("x64", steps=n, num_seeds=seeds, image_every=0,  # noqa: E731
                                        gaussian_fit_samples=100_000, mixed_precision=mixed)
    upsample(generator, target, make(3))
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    stamps = []

    def stamp(_event) -> None:
        torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    start = time.perf_counter()
    upsample(generator, target, make(steps), callbacks=stamp)
    wall = time.perf_counter() - start
    return {"ms_per_step": 1000 * statistics.median(b - a for a, b in zip(stamps, stamps[1:])),
            "s_per_100_steps": 100 * wall / steps,
            "peak_gib": (torch.cuda.max_memory_allocated(device) - base) / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--json", default="benchmarks/results/ffhq_gpu_variants.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU found: this benchmark compares ways of running on a GPU.")
    device = torch.device("cuda")
    torch.manual_seed(0)
    generator = Generator(resolution=1024).to(device).eval().requires_grad_(False)
    fit_gaussian(generator, 100_000)
    synthesis_forward = generator.synthesis.forward
    rows, out = [], Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    for precision, channels_last, fused, bench in VARIANTS:
        torch.backends.cudnn.benchmark = bench
        generator.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        generator.synthesis.forward = (lambda *a, _f=fused, **k: synthesis_forward(*a, fused_modconv=_f, **k))
        for seeds in args.seeds:
            try:
                row = time_search(generator, seeds, args.steps, precision == "mixed")
            except torch.OutOfMemoryError:
                row = {"error": "out of memory"}
                torch.cuda.empty_cache()
            row.update(precision=precision, channels_last=channels_last, fused=fused, cudnn_benchmark=bench,
                       seeds=seeds)
            rows.append(row)
            print(json.dumps(row), flush=True)
            out.write_text(json.dumps({"device": torch.cuda.get_device_name(device), "torch": torch.__version__,
                                       "rows": rows}, indent=2))
    print(f"\n{'precision':>9} {'NHWC':>5} {'fused':>5} {'bench':>5} {'seeds':>5} {'ms/step':>8} {'s/100':>7} "
          f"{'peak GiB':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['precision']:>9} {r['channels_last']!s:>5} {r['fused']!s:>5} {r['cudnn_benchmark']!s:>5} "
                  f"{r['seeds']:>5} {r['error']}")
            continue
        print(f"{r['precision']:>9} {r['channels_last']!s:>5} {r['fused']!s:>5} {r['cudnn_benchmark']!s:>5} "
              f"{r['seeds']:>5} {r['ms_per_step']:>8.1f} {r['s_per_100_steps']:>7.2f} {r['peak_gib']:>8.2f}")

    torch.backends.cudnn.benchmark = False  # profile of the default variant, 8 seeds
    generator.to(memory_format=torch.contiguous_format)
    generator.synthesis.forward = synthesis_forward
    side = generator.resolution // 64
    target = torch.rand(3, side, side, generator=torch.Generator().manual_seed(0))
    config = PulseConfig.preset("x64", steps=5, num_seeds=8, image_every=0, gaussian_fit_samples=100_000)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                            torch.profiler.ProfilerActivity.CUDA]) as prof:
        upsample(generator, target, config)
    try:
        table = prof.key_averages().table(sort_by="device_time_total", row_limit=18)
    except (AttributeError, KeyError, ValueError):  # older torch names it cuda_time_total
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=18)
    print(table)
    Path(out.with_suffix(".profile.txt")).write_text(table)


if __name__ == "__main__":
    main()
