"""What a PULSE run leaves behind: each input's images, contact sheet and report.json, and the printed summary.

Every file is written whole or not at all (``atomic_path``), so a killed batch never leaves half a picture.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..figures import pulse_figure
from ..images import save_image
from ..inputs import PreparedInput
from ..pulse import PulseResult
from ..storage import atomic_path

if TYPE_CHECKING:
    from .upsample import Job


def write_outputs(result: PulseResult, job: Job, prepared: PreparedInput, device: str = "", model: str = "",
                  recovery: dict | None = None) -> dict:
    """Every seed's image and its downscale, input.png, a contact sheet and report.json, each written atomically.

    Accepted seeds are solution_seedN.png; seeds that missed eps keep their best try as missed_seedN.png.
    """
    out, truth = job.out, job.truth
    out.mkdir(parents=True, exist_ok=True)
    save_image(result.target, out / "input.png")
    reference, label = (truth, "truth (unseen)") if truth is not None else (prepared.high_res, "original (unseen)")
    if reference is not None:
        save_image(reference, out / ("truth.png" if truth is not None else "original.png"))
    seeds = []
    for i, seed in enumerate(result.seeds):
        accepted = bool(result.accepted[i])
        kind, other = ("solution", "missed") if accepted else ("missed", "solution")
        for stale in out.glob(f"{other}_seed{seed}*.png"):  # an earlier run's verdict on this seed
            stale.unlink()
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
        "accepted": result.num_accepted, "seeds": seeds,
    }
    if recovery is not None:
        report["recovery"] = recovery
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def print_demo_extras(result: PulseResult, recovery: dict, out: Path) -> None:
    """The demo's extra lines: how far the accepted solutions are from each other and from the true face."""
    print(result.summary())
    if "agreement" in recovery:
        d = recovery["diversity"]
        print(f"accepted solutions differ from each other by {d['mean_pairwise']:.3f} RMS and from the true face "
              f"by {d['mean_to_truth']:.3f}; attributes matching the truth (probe): coarse "
              f"{recovery['coarse_agreement']:.0%}, fine {recovery['fine_agreement']:.0%}")
    print(f"wrote {out}/contact_sheet.png, solution_*.png / missed_*.png and report.json")


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
    failed = sum(row["status"] == "failed" for row in rows)
    print(f"{done}/{len(rows)} done" + (f", {failed} unusable" if failed else ""))
