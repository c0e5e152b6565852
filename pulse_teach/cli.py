"""The command line: ``python -m pulse_teach demo`` runs PULSE end to end on what is bundled;
``python -m pulse_teach train`` trains a face generator for it."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .downscale import bicubic_downsample
from .figures import pulse_figure
from .images import make_grid, save_image
from .models import load_generator
from .recovery import recovery_report
from .samples import load_sample
from .probe import EVAL_SEED, PROBE_PATH, ProbeConfig, ProbeEvent, load_probe, save_probe, train_probe
from .probe import eval_set as probe_eval_set
from .probe import evaluate as evaluate_probe
from .quality import evaluate_generator, generate
from .pulse import PulseConfig, PulseResult, PulseStep, upsample
from .storage import atomic_path
from .train import SKIN_TONES, TrainConfig, TrainEvent, Trainer

EXAMPLES = """examples:
  python -m pulse_teach demo                      # 8 seeds, 100 steps, writes ./pulse_demo/
  python -m pulse_teach demo --seeds 4 --steps 50 --out /tmp/demo
  python -m pulse_teach train --out runs/faces64 --minutes 180 --export data/models/faces64.pt
"""

TRAIN_EXAMPLES = """examples:
  python -m pulse_teach train --out runs/try --minutes 12                  # a short look at training
  python -m pulse_teach train --out runs/faces64 --minutes 180 --export data/models/faces64.pt
  python -m pulse_teach train --out runs/faces64-skewed --skin skewed --minutes 180 \\
      --export data/models/faces64-skewed.pt
  python -m pulse_teach train --out runs/faces64 --minutes 240             # resume and train for longer

The run folder gets checkpoint.pt, samples/stepNNNNNN.png (8x8 grids of the EMA generator), log.jsonl
and, at the end, the EMA generator alone (--export). Rerunning with the same --out resumes; --minutes
and --kimg count the whole run, resumed sessions included. Ctrl-C saves a checkpoint and exports.
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


def run_demo(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    generator = load_generator(args.model, device)
    sample = load_sample(args.sample)  # a held-out face: its truth, and its bicubic 16x16 and 8x8 versions
    truth = sample.truth.to(device)  # (3, 64, 64)
    if generator.resolution != truth.shape[-1]:
        print(f"error: the demo's faces are {truth.shape[-1]}x{truth.shape[-1]}; {args.model} makes "
              f"{generator.resolution}x{generator.resolution} images", file=sys.stderr)
        return 2
    low_res = sample.low_res.get(args.low_res)  # 16 and 8 are bundled; 4 and 32 are made here
    if low_res is None:
        low_res = bicubic_downsample(truth[None], generator.resolution // args.low_res)[0].clamp(0, 1)
    config = PulseConfig(steps=args.steps, num_seeds=args.seeds, seed=args.seed)
    print(f"PULSE demo on {device}: {args.model}, sample {args.sample}, {args.low_res}x{args.low_res} -> "
          f"{generator.resolution}x{generator.resolution}, {args.seeds} seeds, {args.steps} steps")
    with tqdm(total=config.steps, desc="PULSE", unit="step", file=sys.stderr, mininterval=0.5) as bar:
        def progress(event: PulseStep) -> None:
            bar.update(1)
            bar.set_postfix(best_mse=f"{float(event.best_l2.min()):.1e}", accepted=int(event.accepted.sum()), refresh=False)
        result = upsample(generator, low_res.to(device), config, callbacks=progress)
    probe = load_probe()
    recovery = recovery_report(result, truth.cpu(), sample.attributes, probe)
    write_outputs(result, Path(args.out), truth=truth.cpu(), device=str(device), recovery=recovery)
    print(result.summary())
    if "agreement" in recovery:
        d = recovery["diversity"]
        print(f"accepted solutions differ from each other by {d['mean_pairwise']:.3f} RMS and from the true face "
              f"by {d['mean_to_truth']:.3f}; attributes matching the truth (probe): coarse "
              f"{recovery['coarse_agreement']:.0%}, fine {recovery['fine_agreement']:.0%}")
    print(f"wrote {args.out}/contact_sheet.png, solution_*.png and report.json")
    return 0


def write_outputs(result: PulseResult, out: Path, truth: torch.Tensor | None = None, device: str = "",
                  recovery: dict | None = None) -> None:
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
    if recovery is not None:
        report["recovery"] = recovery
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))


def run_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    saved = base = Trainer.saved_config(out)  # resuming: start from the run's own settings
    if saved is None and args.init_from:  # fine-tuning: start from the parent run's settings
        parent = Trainer.saved_config(args.init_from)
        if parent is None:
            print(f"error: --init-from {args.init_from} holds no checkpoint.pt", file=sys.stderr)
            return 2
        base = dataclasses.replace(parent, init_from=str(args.init_from))
    overrides = {name: value for name, value in (
        ("skin_tone", SKIN_TONES.get(args.skin)), ("max_minutes", args.minutes), ("max_kimg", args.kimg),
        ("batch", args.batch), ("seed", args.seed), ("data_workers", args.workers), ("num_threads", args.threads),
        ("snapshots", args.snapshots or None), ("sample_minutes", args.sample_minutes),
    ) if value is not None}
    try:
        trainer = Trainer(dataclasses.replace(base or TrainConfig(), device=args.device, **overrides), out)
    except ValueError as error:  # e.g. other settings than the run being resumed
        print(f"error: {error}", file=sys.stderr)
        return 2
    config = trainer.config
    limits = ", ".join(f"{k} {v:g}" for k, v in (("minutes", config.max_minutes), ("kimg", config.max_kimg)) if v)
    print(f"{'resuming' if saved else 'starting'} {out} at step {trainer.step} ({trainer.nimg / 1000:.1f} kimg) on "
          f"{trainer.device}: skin {config.skin_tone}, batch {config.batch}; stops at {limits or 'Ctrl-C'}",
          file=sys.stderr)
    last_r1 = [float("nan")]  # R1 is computed every r1_interval steps; show the latest
    with tqdm(desc="train", unit="step", initial=trainer.step, file=sys.stderr, mininterval=args.log_seconds,
              smoothing=0.05) as bar:
        def progress(event: TrainEvent) -> None:
            if event.kind != "step":
                bar.write(f"step {event.step}: {event.kind} {event.path}", file=sys.stderr)
                return
            last_r1[0] = event.losses.get("R1", last_r1[0])
            bar.update(1)
            bar.set_postfix(G=f"{event.losses['G']:.2f}", D=f"{event.losses['D']:.2f}", R1=f"{last_r1[0]:.3f}",
                            kimg=f"{event.kimg:.1f}", min=f"{event.elapsed / 60:.1f}", refresh=False)
        reason = trainer.run(progress)
    exported = trainer.export(args.export or out / "generator.pt")
    print(f"stopped ({reason}) at step {trainer.step}, {trainer.nimg / 1000:.1f} kimg, "
          f"{trainer.elapsed / 60:.1f} min of training; exported the EMA generator to {exported}", file=sys.stderr)
    return 130 if reason == "interrupted" else 0


def run_train_probe(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ProbeConfig(steps=args.steps, seed=args.seed)
    with tqdm(total=config.steps, desc="probe", unit="step", file=sys.stderr, mininterval=args.log_seconds) as bar:
        def progress(event: ProbeEvent) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{event.loss:.3f}", refresh=False)
        start = time.perf_counter()
        probe = train_probe(config, progress)
    minutes = (time.perf_counter() - start) / 60
    attribute_dicts, images = probe_eval_set()
    report = evaluate_probe(probe, attribute_dicts, images)
    meta = {"train_config": dataclasses.asdict(config), "wall_time_min": round(minutes, 1),
            "eval": {"n": len(images), "seed": EVAL_SEED, "per_attribute": report}, "torch": torch.__version__}
    path = save_probe(args.out, probe, meta)
    for name, figures in report.items():
        print(f"{name:12s} " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    print(f"trained in {minutes:.1f} min; wrote {path}", file=sys.stderr)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    generator, probe = load_generator(args.model), load_probe(args.probe)
    skin_tone = generator.meta.get("skin_tone", "balanced")
    report = evaluate_generator(generator, probe, skin_tone=skin_tone, n=args.n, seed=args.seed)
    report.update(model=str(args.model), skin_tone=skin_tone)
    print(f"Fréchet distance (probe features, {args.n} samples vs renders): {report['frechet_distance']:.2f}")
    for name in report["generated"]:
        rows = [f"{k} {report['renders'][name][k]:.2f}/{v:.2f}" for k, v in report["generated"][name].items()]
        print(f"{name:12s} renders/generated: " + ", ".join(rows))
    if args.json:
        with atomic_path(Path(args.json)) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    if args.grid:
        save_image(make_grid(generate(generator, 64, args.seed), ncol=8), args.grid)
    return 0


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
    demo.add_argument("--model", default="faces64", help="bundled model name or exported file (default: %(default)s)")
    demo.add_argument("--sample", default="face0", help="bundled lesson face, face0 ... face7 (default: %(default)s)")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: %(default)s)")
    demo.set_defaults(func=run_demo)
    train = commands.add_parser("train", help="train a 64x64 face generator (resumable) and export it",
                                epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--out", required=True, help="run folder: checkpoint, sample grids, log (resumed if present)")
    train.add_argument("--skin", choices=tuple(SKIN_TONES),
                       help="skin tones of the training faces: balanced (50/50) or skewed (90%% light / "
                            "10%% dark) (default: balanced, or the run's own when resuming)")
    train.add_argument("--minutes", type=float, help="stop after this much training time in total "
                       f"(default: {TrainConfig.max_minutes:g})")
    train.add_argument("--kimg", type=float, help="stop after this many thousand real images in total")
    train.add_argument("--batch", type=int, help=f"images per step (default: {TrainConfig.batch})")
    train.add_argument("--seed", type=int, help=f"seed of weights, latents and faces (default: {TrainConfig.seed})")
    train.add_argument("--init-from", help="fine-tune: start a new run from this run folder's checkpoint "
                       "(steps, kimg and minutes carry on from it)")
    train.add_argument("--export", help="where to write the EMA generator at the end (default: OUT/generator.pt)")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    train.add_argument("--workers", type=int, help="face-rendering processes; 0 renders in the training "
                       "process (default: 0; try 4 or more on a GPU machine)")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    train.add_argument("--sample-minutes", type=float, help=f"minutes between sample grids (default: {TrainConfig.sample_minutes:g})")
    train.add_argument("--snapshots", action="store_true", help="also export the EMA generator with every sample "
                       "grid (OUT/samples/stepNNNNNN.pt), to pick the best one afterwards")
    train.add_argument("--log-seconds", type=float, default=30.0,
                       help="seconds between progress-bar updates, keeping logs short (default: %(default)s)")
    train.set_defaults(func=run_train)
    probe = commands.add_parser("train-probe", help="train the attribute probe on fresh renders and save it")
    probe.add_argument("--out", default=str(PROBE_PATH), help="where to save it (default: %(default)s)")
    probe.add_argument("--steps", type=int, default=ProbeConfig.steps, help="batches of fresh renders (default: %(default)s)")
    probe.add_argument("--seed", type=int, default=0, help="seed of weights and faces (default: %(default)s)")
    probe.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    probe.add_argument("--log-seconds", type=float, default=30.0, help="seconds between progress updates")
    probe.set_defaults(func=run_train_probe)
    evaluate = commands.add_parser("evaluate", help="quality figures of a generator, read by the attribute probe")
    evaluate.add_argument("model", help="a bundled model name (faces64, faces64-skewed) or an exported file")
    evaluate.add_argument("--n", type=int, default=2000, help="samples and renders compared (default: %(default)s)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the samples' latents (default: %(default)s)")
    evaluate.add_argument("--probe", help="probe file (default: the bundled one)")
    evaluate.add_argument("--json", help="also write the figures to this JSON file")
    evaluate.add_argument("--grid", help="also write an 8x8 grid of samples to this PNG")
    evaluate.set_defaults(func=run_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
