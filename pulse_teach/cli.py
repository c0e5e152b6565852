"""The command line: ``python -m pulse_teach demo`` runs PULSE end to end on what is bundled."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .downscale import bicubic_downsample
from .figures import pulse_figure
from .images import save_image
from .pulse import PulseConfig, PulseResult, PulseStep, upsample
from .storage import atomic_path
from .stylegan2 import SMALL_64, Generator

EXAMPLES = """examples:
  python -m pulse_teach demo                      # 8 seeds, 100 steps, writes ./pulse_demo/
  python -m pulse_teach demo --seeds 4 --steps 50 --out /tmp/demo
"""


def pick_device(name: str) -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def demo_generator(seed: int) -> Generator:
    """The demo's generator: the small 64x64 configuration with seeded random weights (no training yet).

    Freshly initialised ToRGB layers give images spanning about [-2.7, 2.7], far outside the image
    range; scaling them by 0.3 gives the contrast of real pictures (pixel variance ~0.05 in [0, 1]).
    """
    torch.manual_seed(seed)
    generator = Generator(**SMALL_64).eval()
    with torch.no_grad():
        for name, param in generator.named_parameters():
            if name.endswith("torgb.weight"):
                param.mul_(0.3)
    return generator


def run_demo(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    generator = demo_generator(args.seed).to(device)
    with torch.no_grad():  # a "true" high-res image the generator can make, and its 8x8 version
        z = torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(args.seed)).to(device)
        truth = (generator(z) + 1).div(2).clamp(0, 1)  # (1, 3, 64, 64)
        low_res = bicubic_downsample(truth, generator.resolution // args.low_res)  # (1, 3, 8, 8)
    config = PulseConfig(steps=args.steps, num_seeds=args.seeds, seed=args.seed, gaussian_fit_samples=100_000)
    print(f"PULSE demo on {device}: {args.low_res}x{args.low_res} -> {generator.resolution}x{generator.resolution}, "
          f"{args.seeds} seeds, {args.steps} steps (randomly initialised generator until a trained one is bundled)")
    with tqdm(total=config.steps, desc="PULSE", unit="step", file=sys.stderr, mininterval=0.5) as bar:
        def progress(event: PulseStep) -> None:
            bar.update(1)
            bar.set_postfix(best_mse=f"{float(event.best_l2.min()):.1e}", accepted=int(event.accepted.sum()), refresh=False)
        result = upsample(generator, low_res, config, callbacks=progress)
    write_outputs(result, Path(args.out), truth=truth[0].cpu(), device=str(device))
    print(result.summary())
    print(f"wrote {args.out}/contact_sheet.png, solution_*.png and report.json")
    return 0


def write_outputs(result: PulseResult, out: Path, truth: torch.Tensor | None = None, device: str = "") -> None:
    """Solutions, their downscales, a contact sheet and report.json, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    save_image(result.target, out / "input.png")
    if truth is not None:
        save_image(truth, out / "truth.png")
    for i, seed in enumerate(result.seeds):
        save_image(result.images[i], out / f"solution_seed{seed}.png")
        save_image(result.downscaled[i], out / f"solution_seed{seed}_downscaled.png")
    with atomic_path(out / "contact_sheet.png") as tmp:
        pulse_figure(result, truth).savefig(tmp, format="png", dpi=110)
    report = {
        "settings": dataclasses.asdict(result.config),
        "factor": result.factor, "device": device, "steps_run": result.steps_run,
        "interrupted": result.interrupted, "wall_time_s": round(result.wall_time, 3),
        "seeds": [{"seed": seed, "l2": float(result.l2[i]), "geocross": float(result.geocross[i]),
                   "accepted": bool(result.accepted[i]), "best_step": int(result.best_step[i]),
                   "attempts": int(result.attempts[i])} for i, seed in enumerate(result.seeds)],
    }
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pulse-teach", description="Learn PULSE by running it.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run PULSE on a bundled example and write a contact sheet",
                               epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", default="pulse_demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seeds", type=int, default=8, help="seeds searched in one batch (default: %(default)s)")
    demo.add_argument("--steps", type=int, default=100, help="optimisation steps (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="first seed; same seed, same pictures (default: %(default)s)")
    demo.add_argument("--low-res", type=int, default=8, choices=(4, 8, 16, 32), help="input side (default: %(default)s)")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: %(default)s)")
    demo.set_defaults(func=run_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
