"""The command line: ``python -m pulse_teach upsample IMAGE...`` runs PULSE on any pictures, ``demo`` on a
bundled face (the same code path plus the true face), ``train`` trains a face generator for it, ``models``
lists the generators there are.

One module per family of subcommands: ``upsample`` (upsample, demo; with ``options`` and ``reports``)
and ``training`` (train, train-probe, evaluate). Each adds its own subparsers.
"""
from __future__ import annotations

import argparse
import sys

from ..models import format_models, list_models
from . import training, upsample
from .options import UsageError

__all__ = ["UsageError", "build_parser", "main"]

EXAMPLES = """examples:
  python -m pulse_teach demo                      # 8 seeds, 100 steps, writes ./pulse_demo/
  python -m pulse_teach demo --seeds 4 --steps 50 --out /tmp/demo
  python -m pulse_teach upsample photo.jpg        # any picture; writes ./pulse_out/photo/
  python -m pulse_teach models                    # which generators are here, which would be downloaded
  python -m pulse_teach train --out runs/faces64 --minutes 180 --export data/models/faces64.pt
"""


def run_models(args: argparse.Namespace) -> int:
    """The known generators: bundled or NVIDIA's, present on this machine or not, and what a first use downloads."""
    print(format_models(list_models()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pulse-teach", description="Learn PULSE by running it.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    upsample.add_commands(commands, examples=EXAMPLES)
    models = commands.add_parser("models", help="list the generators: bundled and NVIDIA's FFHQ, present or not, "
                                 "download size")
    models.set_defaults(func=run_models)
    training.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
