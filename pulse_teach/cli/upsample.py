"""``upsample`` and ``demo``: PULSE on a batch of pictures, each input's results in a folder of its own.

A batch is a list of ``Job``s run in turn with one generator: an unusable picture is reported and
skipped, a failed search does not stop the others, and Ctrl-C stops after the current step keeping what
is done. ``demo`` is the same batch with one bundled face whose truth is known.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ..inputs import MAX_PIXELS, InputError, PreparedInput, parse_background, parse_crop, prepare_input, valid_factors
from ..probe import load_probe
from ..pulse import PulseConfig, PulseResult, PulseStep, missed_eps_advice, upsample
from ..recovery import recovery_report
from ..runtime import free_memory, is_out_of_memory, stop_requests
from ..samples import SAMPLES_DIR, load_sample
from ..storage import atomic_path, replaced_folder
from .options import UsageError, add_pulse_options, load_model, preset_factor, pulse_config
from .reports import Job, foreign_files, print_demo_extras, print_summary, write_failure, write_outputs

UPSAMPLE_EXAMPLES = """examples:
  pulse-teach upsample face.png                           # 8 seeds, 100 steps -> pulse_out/face/
  pulse-teach upsample photos/*.jpg --out results --seeds 16 --steps 200
  pulse-teach upsample portrait.jpg --crop 120,40,300,300  # choose the square instead of the centre
  pulse-teach upsample tiny.png --factor 4 --seed 7        # a 16x16 input for the 64x64 model
  pulse-teach upsample logo.png --background black --eps 1e-3 --loss "100*L2+0.05*GEOCROSS"
  pulse-teach upsample face.jpg --model ffhq-1024 --preset x64  # the paper's run: 16x16 -> 1024x1024

Inputs: any picture Pillow reads (PNG, JPEG, WebP, BMP, TIFF, GIF: first frame). Transparency is
composited on --background, greyscale/palette/16-bit are converted, EXIF orientation is applied, a
non-square picture is centre-cropped, a side that does not divide the model's is resized to the
nearest that does, and a picture at the model's resolution or larger is downscaled first (to 8x8, or
16x16 for 1024 px models, unless --factor); each change is printed. Unusable files get one line each
and the batch goes on.

Outputs, for each input, in OUT/<name>/: solution_seedN.png (accepted: downscales to the input
within eps) or missed_seedN.png (its best try; not accepted), each with a _downscaled.png;
input.png; contact_sheet.png; report.json. OUT/summary.json lists every input. Each input's folder
is written aside and then replaces the previous run's as a whole; an input that fails replaces it
with a report.json saying why. Out of memory retries with half the seeds. Ctrl-C stops after the
current step: finished inputs and the stopped one's best so far are kept, and summary.json says what
was done; press it twice to quit at once.

Exit status: 0 every input done, 1 some inputs failed (unusable, out of memory, not written),
2 usage error, 130 interrupted.
"""


def _say_stopping() -> None:
    print("\nCtrl-C: stopping after this step and keeping what is done (Ctrl-C again to quit now)",
          file=sys.stderr, flush=True)


def run_upsample(args: argparse.Namespace) -> int:
    """PULSE on each picture named on the command line.

    Raises UsageError (one line) for bad options; failures of single inputs are reported, not raised.
    """
    try:
        crop = parse_crop(args.crop) if args.crop else None
        background = parse_background(args.background)
    except ValueError as error:
        raise UsageError(str(error)) from None
    factor = None if args.factor == "auto" else _int_or_usage("--factor", args.factor)
    out, taken, jobs = Path(args.out), set(), []
    for name in args.images:
        stem = Path(name).stem or "input"
        folder, k = stem, 1
        while folder in taken:  # photos/a.png and scans/a.png go to a/ and a-2/
            k += 1
            folder = f"{stem}-{k}"
        taken.add(folder)
        jobs.append(Job(name, Path(name), out / folder, factor))
    return run_jobs(jobs, args, out, crop=crop, background=background)


def run_demo(args: argparse.Namespace) -> int:
    """``upsample`` on a bundled held-out face, plus what only the face world knows: the true face."""
    sample = load_sample(args.sample)  # its truth (3, 64, 64) and attributes; inputs are PNGs next to it
    side = args.low_res
    bundled = SAMPLES_DIR / f"{sample.name}_{side}.png"
    source, factor = (bundled, None) if bundled.is_file() else (SAMPLES_DIR / f"{sample.name}_64.png", 64 // side)
    job = Job(f"{sample.name} ({side}x{side})", source, Path(args.out), factor, sample.truth, sample.attributes)
    return run_jobs([job], args, Path(args.out), probe=load_probe(), expect_resolution=sample.truth.shape[-1])


def _int_or_usage(option: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{option} must be 'auto' or an integer, got {value!r}") from None


def run_jobs(jobs: list[Job], args: argparse.Namespace, out: Path, crop=None, background=(255, 255, 255),
             probe=None, expect_resolution: int | None = None) -> int:
    """Run PULSE on every job in turn; bad inputs are reported and skipped; Ctrl-C keeps what is done.

    Raises UsageError for a model the demo cannot use, an output folder holding foreign files, or a factor that
    does not divide the model's side.
    """
    config = pulse_config(args)
    for job in jobs:  # each input's folder is replaced as a whole: it must hold only what a PULSE run writes
        foreign = foreign_files(job.out)
        if foreign:
            raise UsageError(f"{job.out} holds files a PULSE run did not write ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}), and each run replaces that folder as a whole: "
                             "choose another --out")
    generator, device = load_model(args)
    resolution = generator.resolution
    if expect_resolution is not None and expect_resolution != resolution:
        raise UsageError(f"the demo's faces are {expect_resolution}x{expect_resolution}; {args.model} makes "
                         f"{resolution}x{resolution} images")
    factor = preset_factor(args, resolution)  # --preset x64 / x32 on a 1024 px model: the preset's input side
    for job in jobs:
        if job.factor is None:
            job.factor = factor
        if job.factor is not None and job.factor not in valid_factors(resolution):
            raise UsageError(f"--factor {job.factor} does not divide the model's {resolution}x{resolution} "
                             f"into a smaller input of 2 px or more; use one of {valid_factors(resolution)}")
    try:  # before any search: where everything will be written must be a folder we can write in
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as error:
        raise UsageError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    print(f"PULSE on {device}: {args.model} ({resolution}x{resolution}), {config.num_seeds} seeds, "
          f"{config.steps} steps, eps {config.eps:g}, {len(jobs)} input{'s' * (len(jobs) != 1)}"
          + (f", preset {args.preset}" if args.preset else ""), file=sys.stderr)
    rows = [{"input": job.label, "status": "not started", "out": str(job.out)} for job in jobs]
    state = {"interrupted": False}

    def save_summary() -> None:  # after every input, so even a killed batch leaves an up-to-date list
        try:
            with atomic_path(out / "summary.json") as tmp:
                tmp.write_text(json.dumps({"model": args.model, "device": str(device), "interrupted": state["interrupted"],
                                           "settings": dataclasses.asdict(config), "inputs": rows}, indent=2) + "\n")
        except OSError as error:  # e.g. the disk filled up: the batch goes on, the printed summary still comes
            print(f"error: {out / 'summary.json'} could not be written ({error.strerror or error})", file=sys.stderr)

    with stop_requests(_say_stopping) as stop:
        try:
            for job, row in zip(jobs, rows):
                if stop():
                    state["interrupted"] = True
                    break
                row["status"] = "running"
                row.update(run_job(job, generator, config, args, crop, background, probe, device, stop))
                state["interrupted"] = row["status"] == "interrupted"
                save_summary()
                if state["interrupted"]:
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: what is written stays written
            state["interrupted"] = True
    for row in rows:
        if row["status"] == "running":
            row.update(status="interrupted", reason="stopped at once by a second Ctrl-C")
    save_summary()
    print_summary(rows)
    if state["interrupted"]:
        return 130
    return 1 if any(row["status"] == "failed" for row in rows) else 0


def run_job(job: Job, generator: torch.nn.Module, config: PulseConfig, args: argparse.Namespace, crop, background,
            probe, device: torch.device, stop: Callable[[], bool]) -> dict:
    """Prepare one input, search, write its folder; return its summary row (status "done", "failed" or "interrupted").

    A failed row has a ``kind``: "input" (unusable picture), "resource" (out of memory even with one
    seed), "output" (its files could not be written) or "search". Its folder is replaced as a whole:
    by the new results, or, after a failure, by a report.json saying so (see ``write_failure``).
    """
    resolution = generator.resolution
    try:
        prepared = prepare_input(job.source, resolution, job.factor, crop, background, args.max_pixels, name=job.label)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return _failed(job, {"status": "failed", "kind": "input", "reason": error.reason})
    for notice in prepared.notices:
        print(f"{job.label}: {notice}", file=sys.stderr)
    row = {"size": prepared.side, "factor": resolution // prepared.side}
    try:
        result, notes = search_within_memory(generator, prepared, config, job.label, stop, device)
    except KeyboardInterrupt:  # stopped before the first step: nothing to keep
        return _failed(job, {**row, "status": "interrupted", "reason": "stopped before the first step"})
    except MemoryError as error:  # out of memory even with one seed (torch's OutOfMemoryError is not one)
        print(f"error: {job.label}: {error}", file=sys.stderr)
        return _failed(job, {**row, "status": "failed", "kind": "resource", "reason": str(error)})
    except Exception as error:  # a bug or a broken generator: report it, keep the batch going
        print(f"error: {job.label}: PULSE failed ({type(error).__name__}: {error})", file=sys.stderr)
        return _failed(job, {**row, "status": "failed", "kind": "search", "reason": f"{type(error).__name__}: {error}"})
    try:
        recovery = recovery_report(result, job.truth, job.attributes, probe) if job.truth is not None else None
        with replaced_folder(job.out) as folder:  # written aside, then swapped in for any earlier run's folder
            write_outputs(result, job, prepared, str(device), args.model, recovery, folder, notes)
    except Exception as error:  # disk full, no permission, a picture that cannot be saved: this input's failure
        reason = f"its results could not be written to {job.out} ({type(error).__name__}: {error})"
        print(f"error: {job.label}: {reason}", file=sys.stderr)
        return _failed(job, {**row, "status": "failed", "kind": "output", "reason": reason})
    if recovery is not None and not result.interrupted:
        print_demo_extras(result, recovery, job.out)
    advice = missed_eps_advice(result, cli=True)
    if advice:
        print(f"{job.label}: {advice}", file=sys.stderr)
    return {**row, "status": "interrupted" if result.interrupted else "done", "accepted": result.num_accepted,
            "seeds": len(result.seeds), "best_l2": float(result.l2.min()), "seconds": round(result.wall_time, 2),
            **({"notes": notes} if notes else {})}


def _failed(job: Job, row: dict) -> dict:
    """``row``, after replacing any earlier result in ``job.out`` by a report of this failure."""
    try:
        write_failure(job, row)
    except OSError as error:
        row["reason"] += f"; an earlier result in {job.out} could not be replaced ({error.strerror or error})"
    return row


class OutOfMemory(MemoryError):
    """Out of memory even with one seed; the message says what else to try."""


def search_within_memory(generator: torch.nn.Module, prepared: PreparedInput, config: PulseConfig, label: str,
                         should_stop: Callable[[], bool], device: torch.device) -> tuple[PulseResult, list[str]]:
    """``search``; out of memory retries with half the seeds, down to one, and says so. Returns (result, notes).

    Raises ``OutOfMemory`` (one line with what to try) when even one seed does not fit.
    """
    notes = []
    while True:
        try:
            return search(generator, prepared, config, label, should_stop), notes
        except Exception as error:
            if not is_out_of_memory(error):
                raise
        free_memory()
        if config.num_seeds == 1:
            where = "GPU memory" if device.type != "cpu" else "main memory"
            raise OutOfMemory(
                f"out of {where} even with 1 seed on {device}: try --mixed-precision, a smaller --model, or "
                f"{'--device cpu (slower, uses main memory)' if device.type != 'cpu' else 'closing other programs'}")
        fewer = max(1, config.num_seeds // 2)
        note = (f"out of memory with {config.num_seeds} seeds on {device}: retried with {fewer} (set --seeds {fewer} to "
                "start there; --mixed-precision also needs less memory)")
        print(f"{label}: {note}", file=sys.stderr)
        notes.append(note)
        config = dataclasses.replace(config, num_seeds=fewer)


def search(generator: torch.nn.Module, prepared: PreparedInput, config: PulseConfig, label: str,
           should_stop: Callable[[], bool]) -> PulseResult:
    """``pulse.upsample`` with a progress bar (restarts reuse it)."""
    short = label if len(label) <= 24 else "..." + label[-21:]
    with tqdm(total=config.steps, desc=short, unit="step", file=sys.stderr, mininterval=0.5, leave=True) as bar:
        attempt = [0]

        def progress(event: PulseStep) -> None:
            if event.attempt != attempt[0]:
                attempt[0] = event.attempt
                bar.reset(total=config.steps)
                bar.set_description(f"{short} retry {event.attempt}")
            bar.update(1)
            bar.set_postfix(best_mse=f"{float(event.best_l2.min()):.1e}", accepted=int(event.accepted.sum()),
                            refresh=False)
        return upsample(generator, prepared.low_res, config, callbacks=progress, should_stop=should_stop)


def add_commands(commands: argparse._SubParsersAction, examples: str) -> None:
    """The ``demo`` and ``upsample`` subcommands; ``examples`` (the program's) are shown under ``demo --help``."""
    raw = argparse.RawDescriptionHelpFormatter
    demo = commands.add_parser("demo", help="run PULSE on a bundled held-out face and write a contact sheet",
                               description="PULSE on a bundled face whose truth is known: the same run as "
                               "`upsample`, plus the true face and how much of it the solutions recovered.",
                               epilog=examples, formatter_class=raw)
    demo.add_argument("--low-res", type=int, default=8, choices=(4, 8, 16, 32),
                      help="input side (default: %(default)s)")
    demo.add_argument("--sample", default="face0", help="bundled lesson face: face0, face1, ... "
                      "(pulse_teach.list_samples() lists them; default: %(default)s)")
    add_pulse_options(demo, out="pulse_demo")
    demo.set_defaults(func=run_demo, max_pixels=MAX_PIXELS)
    up = commands.add_parser("upsample", help="run PULSE on your own pictures (any format, any size)",
                             description="PULSE on each IMAGE: imagine high-resolution faces that downscale to it.",
                             epilog=UPSAMPLE_EXAMPLES, formatter_class=raw)
    up.add_argument("images", nargs="+", metavar="IMAGE", help="picture files; each is a separate PULSE run")
    up.add_argument("--factor", default="auto",
                    help="upscaling factor: 'auto' keeps a side that divides the model's, resizes others to the "
                         "nearest that does, and downscales pictures at the model's size or larger to 8x8 "
                         "(16x16 for 1024 px models); "
                         "an integer asks for side = model's side / factor (default: %(default)s; with "
                         "--preset on a 1024 px model, the preset's)")
    up.add_argument("--crop", metavar="X,Y,W,H", help="use this rectangle of each picture (default: the centre square)")
    up.add_argument("--background", default="white",
                    help="colour under transparent pixels: a name, #rrggbb or r,g,b (default: %(default)s)")
    up.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                    help="refuse pictures with more pixels, e.g. decompression bombs (default: %(default)s)")
    add_pulse_options(up, out="pulse_out")
    up.set_defaults(func=run_upsample)
