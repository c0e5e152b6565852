"""``train``, ``train-probe`` and ``evaluate``: make the face generator and the attribute probe, and grade them.

Training runs are resumable folders (``Trainer``); progress goes to stderr through tqdm bars fed by the
library's callbacks, the figures to stdout.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..images import make_grid, save_image
from ..models import load_generator
from ..probe import EVAL_SEED, PROBE_PATH, ProbeConfig, ProbeEvent, load_probe, save_probe, train_probe
from ..probe import eval_set as probe_eval_set
from ..probe import evaluate as evaluate_probe
from ..pulse import PulseConfig
from ..quality import evaluate_generator, generate
from ..runtime import resolve_device
from ..storage import atomic_path
from ..train import SKIN_TONES, TrainConfig, Trainer, TrainEvent

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


def run_train(args: argparse.Namespace) -> int:
    """Train (or resume, or fine-tune) a face generator until its limits or Ctrl-C, then export the EMA generator."""
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
        ("batch", args.batch), ("lr_g", args.lr_g), ("lr_d", args.lr_d), ("seed", args.seed),
        ("data_workers", args.workers), ("num_threads", args.threads),
        ("snapshots", args.snapshots or None), ("sample_minutes", args.sample_minutes),
        ("augment", args.augment), ("probe_d", args.probe_d), ("r1_gamma", args.r1_gamma),
        ("blur_fade_kimg", args.blur_kimg), ("paired", args.paired), ("paired_probe", args.paired_probe),
        ("style_mixing", args.style_mixing), ("adversarial", args.adversarial),
        ("z_codes", args.z_codes or None),
        ("betas", None if args.beta1 is None else (args.beta1, (base or TrainConfig()).betas[1])),
    ) if value is not None}
    if args.mapping_lr is not None:
        overrides["generator"] = dict((base or TrainConfig()).generator, mapping_lr_multiplier=args.mapping_lr)
    if args.d_channels is not None:  # a fine-tune with another D starts that D afresh
        overrides["discriminator"] = dict((base or TrainConfig()).discriminator, channel_base=args.d_channels)
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
            paired = {"L1": f"{event.losses['paired_L1']:.3f}"} if "paired_L1" in event.losses else {}
            bar.set_postfix(G=f"{event.losses['G']:.2f}", D=f"{event.losses.get('D', math.nan):.2f}",
                            R1=f"{last_r1[0]:.3f}", **paired, kimg=f"{event.kimg:.1f}", min=f"{event.elapsed / 60:.1f}",
                            refresh=False)
        reason = trainer.run(progress)
    exported = trainer.export(args.export or out / "generator.pt", gaussian_fit_samples=PulseConfig.gaussian_fit_samples)
    print(f"stopped ({reason}) at step {trainer.step}, {trainer.nimg / 1000:.1f} kimg, "
          f"{trainer.elapsed / 60:.1f} min of training; exported the EMA generator to {exported}", file=sys.stderr)
    return 130 if reason == "interrupted" else 0


def run_train_probe(args: argparse.Namespace) -> int:
    """Train the attribute probe on fresh renders, grade it on the held-out set, save it."""
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ProbeConfig(steps=args.steps, seed=args.seed, workers=args.workers, device=str(resolve_device(args.device)))
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
    """Fréchet distance and attribute shares of a generator's samples vs fresh renders, read by the probe."""
    generator, probe = load_generator(args.model), load_probe(args.probe)
    skin_tone = generator.meta.get("skin_tone", "balanced")
    report = evaluate_generator(generator, probe, skin_tone=skin_tone, n=args.n, seed=args.seed)
    report.update(model=str(args.model), skin_tone=skin_tone)
    print(f"Fréchet distance (probe features, {args.n} samples vs renders): {report['frechet_distance']:.2f} "
          f"(two sets of renders: {report['frechet_renders']:.2f})")  # the second: what a perfect generator scores
    for name in report["generated"]:
        rows = [f"{k} {report['renders'][name][k]:.2f}/{v:.2f}" for k, v in report["generated"][name].items()]
        print(f"{name:12s} renders/generated: " + ", ".join(rows))
    if args.json:
        with atomic_path(Path(args.json)) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    if args.grid:
        save_image(make_grid(generate(generator, 64, args.seed), ncol=8), args.grid)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The ``train``, ``train-probe`` and ``evaluate`` subcommands."""
    raw = argparse.RawDescriptionHelpFormatter
    train = commands.add_parser("train", help="train a 64x64 face generator (resumable) and export it",
                                epilog=TRAIN_EXAMPLES, formatter_class=raw)
    train.add_argument("--out", required=True, help="run folder: checkpoint, sample grids, log (resumed if present)")
    train.add_argument("--skin", choices=tuple(SKIN_TONES),
                       help="skin tones of the training faces: balanced (50/50) or skewed (90%% light / "
                            "10%% dark) (default: balanced, or the run's own when resuming)")
    train.add_argument("--minutes", type=float, help="stop after this much training time in total "
                       f"(default: {TrainConfig.max_minutes:g})")
    train.add_argument("--kimg", type=float, help="stop after this many thousand real images in total")
    train.add_argument("--batch", type=int, help=f"images per step (default: {TrainConfig.batch})")
    train.add_argument("--lr-g", type=float, help=f"G's learning rate (default: {TrainConfig.lr_g:g})")
    train.add_argument("--lr-d", type=float, help=f"D's learning rate (default: {TrainConfig.lr_d:g})")
    train.add_argument("--beta1", type=float, help="Adam's momentum for G and D (default: "
                       f"{TrainConfig.betas[0]:g}; a regression without D learns faster with 0.9)")
    train.add_argument("--seed", type=int, help=f"seed of weights, latents and faces (default: {TrainConfig.seed})")
    train.add_argument("--init-from", help="fine-tune: start a new run from this run folder's checkpoint "
                       "(steps, kimg and minutes carry on from it)")
    train.add_argument("--export", help="where to write the EMA generator at the end (default: OUT/generator.pt)")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    train.add_argument("--workers", type=int, help="face-rendering processes; 0 renders in the training "
                       "process (default: 0; try 4 or more on a GPU machine)")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    train.add_argument("--sample-minutes", type=float,
                       help=f"minutes between sample grids (default: {TrainConfig.sample_minutes:g})")
    train.add_argument("--augment", help="DiffAugment policy for D: a comma list of translation, cutout "
                       "(default: none)")
    train.add_argument("--probe-d", type=float, help="weight of a D head on the frozen attribute probe's "
                       "features (projected-GAN idea; default: 0, off)")
    train.add_argument("--d-channels", type=int, help="D's channel_base: channels at resolution r are "
                       "min(base / r, 128); a fine-tune that changes it starts a fresh D (default: "
                       f"{TrainConfig().discriminator['channel_base']})")
    train.add_argument("--r1-gamma", type=float, help=f"weight of the R1 penalty on D (default: {TrainConfig.r1_gamma:g})")
    train.add_argument("--blur-kimg", type=float, help="thousand images over which D's blur fades to none "
                       f"(default: {TrainConfig.blur_fade_kimg:g})")
    train.add_argument("--mapping-lr", type=float, help="learning-rate multiplier of G's mapping network "
                       "(default: 0.01, StyleGAN's)")
    train.add_argument("--paired", type=float, help="weight of an L1 pull of each unmixed fake towards the "
                       "render its latent stands for (faces.attributes_from_latent; default: 0, off)")
    train.add_argument("--paired-probe", type=float, help="weight of the same pull on the frozen probe's "
                       "features (default: 0, off)")
    train.add_argument("--style-mixing", type=float, help="share of fakes made from two latents; paired terms "
                       f"use the others (default: {TrainConfig.style_mixing:g})")
    train.add_argument("--adversarial", type=float, help="weight of G's adversarial loss; 0 trains no D (paired "
                       f"terms only) (default: {TrainConfig.adversarial:g})")
    train.add_argument("--z-codes", action="store_true", help="G's mapping reads the face z's first 30 "
                       "coordinates stand for, as one-hots (faces.LatentCodes), instead of raw z")
    train.add_argument("--snapshots", action="store_true", help="also export the EMA generator with every sample "
                       "grid (OUT/samples/stepNNNNNN.pt), to pick the best one afterwards")
    train.add_argument("--log-seconds", type=float, default=30.0,
                       help="seconds between progress-bar updates, keeping logs short (default: %(default)s)")
    train.set_defaults(func=run_train)
    probe = commands.add_parser("train-probe", help="train the attribute probe on fresh renders and save it")
    probe.add_argument("--out", default=str(PROBE_PATH), help="where to save it (default: %(default)s)")
    probe.add_argument("--steps", type=int, default=ProbeConfig.steps,
                       help="batches of fresh renders (default: %(default)s)")
    probe.add_argument("--seed", type=int, default=0, help="seed of weights and faces (default: %(default)s)")
    probe.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    probe.add_argument("--workers", type=int, default=0, help="face-rendering processes (default: %(default)s)")
    probe.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: %(default)s)")
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
