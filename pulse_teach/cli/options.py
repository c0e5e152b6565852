"""What ``upsample`` and ``demo`` share: their options, and how those become a search config and a generator.

Explicit options win over a ``--preset``, which wins over the defaults; a bad value, or a model that is
unknown, missing, not downloaded or refused, is a ``UsageError``: one line, exit status 2.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import warnings

import torch

from ..downloads import DownloadError
from ..models import KNOWN_MODELS, ModelNotice, load_generator
from ..pulse import PRESETS, PulseConfig
from ..runtime import resolve_device

DEFAULT_SEEDS = 8  # a batch of imagined faces to compare; PulseConfig's other defaults are the official run's


class UsageError(Exception):
    """A bad command-line value found after parsing (exit status 2)."""


def pick_device(name: str) -> torch.device:
    """--device: 'auto' picks CUDA, then Apple's MPS, then the CPU; an unavailable device is a UsageError."""
    try:
        return resolve_device(name)
    except ValueError as error:
        raise UsageError(f"--device: {error}") from None


def add_pulse_options(parser: argparse.ArgumentParser, out: str) -> None:
    """The options of a PULSE run; search settings default to None so ``pulse_config`` sees which were given."""
    d = PulseConfig()
    presets = ", ".join(f"{name}: {p['input_side']} -> {p['resolution']} px" for name, p in PRESETS.items())
    parser.add_argument("--model", default="faces64",
                        help=f"model name ({', '.join(KNOWN_MODELS)}; NVIDIA's are downloaded on first use, see "
                             "`pulse-teach models`) or an exported file (default: %(default)s)")
    parser.add_argument("--no-download", action="store_true",
                        help="stop with an error instead of downloading an NVIDIA model that is not cached yet")
    parser.add_argument("--preset", choices=tuple(PRESETS),
                        help=f"the official PULSE run's search settings ({presets}): one seed, each sphere's "
                             "radius from its start; options given explicitly win; on a 1024 px model inputs are "
                             "made the preset's size unless --factor is given (default: none)")
    parser.add_argument("--seeds", type=int, help=f"seeds searched in one batch (default: {DEFAULT_SEEDS}, with "
                        f"--preset {PRESETS['x64']['config']['num_seeds']})")
    parser.add_argument("--steps", type=int, help=f"optimisation steps (default: {d.steps})")
    parser.add_argument("--eps", type=float,
                        help=f"a seed is accepted when its downscale's MSE is at most this (default: {d.eps:g})")
    parser.add_argument("--loss", help=f"weighted sum of L2, L1 and GEOCROSS (default: {d.loss})")
    parser.add_argument("--seed", type=int,
                        help=f"first seed; the same seed gives the same pictures (default: {d.seed})")
    parser.add_argument("--restarts", type=int,
                        help=f"retry seeds that missed eps this many times with fresh seeds (default: {d.restarts})")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: %(default)s)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="run the generator in float16 (GPU) / bfloat16 (CPU); faster on GPUs")
    parser.add_argument("--fit-samples", type=int,
                        help="z samples for the Gaussianised W fit, computed once per model and cached "
                             f"(default: {d.gaussian_fit_samples})")
    parser.add_argument("--out", default=out, help="output folder (default: %(default)s)")


def pulse_config(args: argparse.Namespace) -> PulseConfig:
    """The search settings: the options given, else the --preset's, else PulseConfig's with DEFAULT_SEEDS seeds.

    Raises UsageError (one line) for options PulseConfig refuses.
    """
    given = {field: value for field, value in (
        ("steps", args.steps), ("num_seeds", args.seeds), ("seed", args.seed), ("eps", args.eps), ("loss", args.loss),
        ("restarts", args.restarts), ("gaussian_fit_samples", args.fit_samples),
    ) if value is not None}
    try:
        if args.preset:
            return PulseConfig.preset(args.preset, mixed_precision=args.mixed_precision, **given)
        return PulseConfig(**{"num_seeds": DEFAULT_SEEDS, **given}, mixed_precision=args.mixed_precision)
    except ValueError as error:
        raise UsageError(str(error)) from None


def preset_factor(args: argparse.Namespace, resolution: int) -> int | None:
    """The --preset's factor (x64, x32) for a model at the preset's resolution; None otherwise (auto stays auto)."""
    preset = PRESETS.get(args.preset)
    if preset is None or resolution != preset["resolution"]:
        return None
    return resolution // preset["input_side"]


def load_model(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.device]:
    """--model on --device, downloaded first unless --no-download; every way it can fail is one line.

    Raises UsageError (one line) when the model cannot be found, downloaded or read.
    """
    device = pick_device(args.device)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelNotice)
            generator = load_generator(args.model, device, download=not args.no_download)
    except pickle.UnpicklingError as error:  # a file that would run code, or is no network: refused unrun
        message = _refusal(error)
        raise UsageError(message if message.startswith(str(args.model)) else f"{args.model}: {message}") from None
    except (ValueError, DownloadError, OSError) as error:  # unknown name; missing, undownloaded or bad file
        raise UsageError(" ".join(str(error).split())) from None
    for warning in caught:  # what loading rebuilt or assumed (noise maps, w_avg, greyscale), one line each
        if issubclass(warning.category, ModelNotice):
            print(f"note: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return generator, device


def _refusal(error: pickle.UnpicklingError) -> str:
    """torch's weights-only refusals are paragraphs of advice; keep the line naming what was refused."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return next((line for line in lines if "GLOBAL" in line), " ".join(lines))
