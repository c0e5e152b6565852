"""What a PULSE run leaves behind: each input's images, contact sheet and report.json, and the printed summary.

Every file is written whole or not at all (``atomic_path``), so a killed batch never leaves half a picture.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import torch

from ..figures import pulse_figure
from ..images import save_image
from ..inputs import PreparedInput
from ..pulse import PulseResult, missed_eps_advice
from ..storage import atomic_path, replaced_folder


@dataclasses.dataclass
class Job:
    """One input of a batch: where it comes from, where its outputs go, and (demo only) the truth."""

    label: str  # how messages and the summary name it
    source: Path
    out: Path
    factor: int | None = None  # None: chosen from the picture
    truth: torch.Tensor | None = None  # (3, R, R) the face the input was made from, when known
    attributes: dict | None = None  # the truth's face attributes, when known


OUR_FILES = re.compile(r"(solution|missed)_seed\d+(_downscaled)?\.png|input\.png|original\.png|truth\.png|"
                       r"contact_sheet\.png|report\.json|summary\.json|\..*\.(partial|old)-.*")


def write_outputs(result: PulseResult, job: Job, prepared: PreparedInput, device: str = "", model: str = "",
                  recovery: dict | None = None, folder: Path | None = None, notes: list[str] | None = None) -> dict:
    """Every seed's image and its downscale, input.png, a contact sheet and report.json, into ``folder``.

    ``folder`` (default ``job.out``) should be fresh: ``run_job`` writes into a folder aside and swaps it in
    for ``job.out`` as a whole. Accepted seeds are solution_seedN.png; seeds that missed eps keep their
    best try as missed_seedN.png. ``notes`` (e.g. a retry with fewer seeds) go into report.json.
    """
    out, truth = folder or job.out, job.truth
    out.mkdir(parents=True, exist_ok=True)
    save_image(result.target, out / "input.png")
    reference, label = (truth, "truth (unseen)") if truth is not None else (prepared.high_res, "original (unseen)")
    if reference is not None:
        save_image(reference, out / ("truth.png" if truth is not None else "original.png"))
    seeds = []
    for i, seed in enumerate(result.seeds):
        accepted = bool(result.accepted[i])
        kind = "solution" if accepted else "missed"
        image, small = f"{kind}_seed{seed}.png", f"{kind}_seed{seed}_downscaled.png"
        save_image(result.images[i], out / image)
        save_image(result.downscaled[i], out / small)
        seeds.append({"seed": seed, "accepted": accepted, "l2": float(result.l2[i]),
                      "geocross": float(result.geocross[i]), "total": float(result.total[i]),
                      "best_step": int(result.best_step[i]), "attempts": int(result.attempts[i]),
                      "image": image, "downscaled": small})
    with atomic_path(out / "contact_sheet.png") as tmp:
        pulse_figure(result, reference, max_seeds=16, truth_label=label).savefig(tmp, format="png", dpi=110)
    report = {
        "model": model, "device": device,
        "input": {"name": job.label, "source": str(job.source), "original_size": list(prepared.original_size),
                  "low_res_side": prepared.side, "notices": prepared.notices},
        "settings": dataclasses.asdict(result.config), "factor": result.factor, "steps_run": result.steps_run,
        "interrupted": result.interrupted, "wall_time_s": round(result.wall_time, 3),
        "accepted": result.num_accepted, "seeds": seeds, "notes": list(notes or []),
    }
    advice = missed_eps_advice(result, cli=True)
    if advice:
        report["advice"] = advice
    if recovery is not None:
        report["recovery"] = recovery
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def print_demo_extras(result: PulseResult, recovery: dict, out: Path) -> None:
    """The demo's extra lines: how far the accepted solutions are from each other and from the true face."""
    print(result.summary(advice=False))  # run_job prints the command line's advice
    if "agreement" in recovery:
        d = recovery["diversity"]
        print(f"accepted solutions differ from each other by {d['mean_pairwise']:.3f} RMS and from the true face "
              f"by {d['mean_to_truth']:.3f}; attributes matching the truth (probe): coarse "
              f"{recovery['coarse_agreement']:.0%}, fine {recovery['fine_agreement']:.0%}")
    print(f"wrote {out}/contact_sheet.png, solution_*.png / missed_*.png and report.json")


def write_failure(job: Job, row: dict) -> None:
    """Replace an earlier run's folder for ``job`` by one holding only report.json with this run's failure.

    Without an earlier folder nothing is written (summary.json lists the failure), so unreadable files in
    a batch leave no empty folders; with one, an old result can never pass for this run's.
    """
    if not job.out.exists():
        return
    with replaced_folder(job.out) as tmp:
        (tmp / "report.json").write_text(json.dumps({"input": {"name": job.label, "source": str(job.source)},
                                                     **row}, indent=2) + "\n")


def foreign_files(folder: Path) -> list[str]:
    """Names in ``folder`` that no PULSE run writes (a folder replaced as a whole must hold none)."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        return [folder.name]
    return sorted(p.name for p in folder.iterdir() if not OUR_FILES.fullmatch(p.name))


FAILURE_KINDS = {"input": "unusable", "resource": "out of memory", "output": "not written", "search": "failed"}


def print_summary(rows: list[dict]) -> None:
    """One line per input: what happened, how many seeds were accepted, where the files are."""
    width = max([len(row["input"]) for row in rows] + [5])
    print(f"{'input':<{width}}  {'status':<11} {'in':>5} {'x':>3} {'accepted':>8} {'best MSE':>9} {'s':>7}  output")
    for row in rows:
        if "accepted" in row:
            size, factor = f"{row['size']}px", f"x{row['factor']}"
            print(f"{row['input']:<{width}}  {row['status']:<11} {size:>5} {factor:>3} "
                  f"{row['accepted']:>4}/{row['seeds']:<3} {row['best_l2']:>9.2e} {row['seconds']:>7.1f}  {row['out']}")
        else:
            print(f"{row['input']:<{width}}  {row['status']:<11} {row.get('reason', '')}")
    done = sum(row["status"] == "done" for row in rows)
    kinds = [FAILURE_KINDS.get(row.get("kind"), "failed") for row in rows if row["status"] == "failed"]
    print(f"{done}/{len(rows)} done" + "".join(f", {kinds.count(k)} {k}" for k in dict.fromkeys(kinds)))
