"""The class experiments of lesson 06: a blind mean-opinion-score test and a "which one is real?" poll.

PULSE's paper (Menon et al., CVPR 2020, Table 1; x8, 16x16 -> 128x128) asked 40 raters to score 240 faces from 1 (bad) to 5
(excellent), shown blind: mean opinion score (MOS) 3.60 for PULSE, 3.74 for real photos, 2.92 FSRGAN,
2.77 FSRNet, 1.34 bicubic, 1.01 nearest. A class can rerun that test on the face world:

- ``mos_trials`` shuffles the pictures of every method so that the rater cannot tell which is which;
  ``score`` turns a rater's 1-5 into a row (``Rating``), ``mos_table`` gives MOS per method with a 95 %
  interval, ``mann_whitney`` tests whether two methods' scores differ (scipy's Mann-Whitney U, as
  the paper did);
- ``poll_trials`` pairs a real face with a generated one, sides shuffled; ``pick`` records an answer
  as correct or fooled, ``fool_rate`` is the share of answers that picked the generated face (50 %:
  indistinguishable; the SR3 paper, Saharia et al. 2021, reports such fool rates) with a binomial
  test against 50 %;
- ``write_ratings`` / ``read_ratings`` / ``merge_ratings`` export one CSV per student and pool a class.

No widgets here: ``pulse_teach.live.rating`` shows the trials and records the answers.
"""
from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .images import check_batch

SCORES = (1, 2, 3, 4, 5)  # the paper's scale: 1 bad, 2 poor, 3 fair, 4 good, 5 excellent
SCORE_NAMES = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
PAPER_MOS = {"nearest": 1.01, "bicubic": 1.34, "FSRNet": 2.77, "FSRGAN": 2.92, "PULSE": 3.60, "real": 3.74}
FIELDS = ("experiment", "rater", "trial", "method", "item", "answer")


@dataclasses.dataclass(frozen=True)
class Trial:
    """One screen: a picture (MOS) or a pair (poll). ``method`` and ``real_side`` stay hidden from the rater."""

    index: int  # position in the shuffled order
    method: str  # MOS: the method that made the picture; poll: the method of the generated face
    item: int  # which input face the picture belongs to
    image: torch.Tensor  # MOS: (3, H, W); poll: the left picture
    other: torch.Tensor | None = None  # poll: the right picture
    real_side: str = ""  # poll: "left" or "right"


@dataclasses.dataclass(frozen=True)
class Rating:
    """One answer: a 1-5 score (MOS) or the verdict on "which one is real?" (poll). One CSV row."""

    experiment: str  # "mos" or "poll"
    rater: str
    trial: int
    method: str
    item: int
    answer: str  # MOS: "1".."5"; poll: "correct" or "fooled" (picked the generated face)


def mos_trials(images: dict[str, torch.Tensor], seed: int = 0) -> list[Trial]:
    """Every picture of every method, in a random order (numpy seed ``seed``).

    images: method -> (K, 3, H, W) floats in [0, 1], item k of every method from the same input face.
    Raises ValueError for no methods, a method without pictures, or pictures of another kind."""
    if not isinstance(images, dict) or not images or any(len(v) == 0 for v in images.values()):
        raise ValueError("need a dict of at least one method, each with at least one picture")
    for method, batch in images.items():
        check_batch(f"images[{method!r}]", batch)
    pool = [(method, k, image) for method, batch in images.items() for k, image in enumerate(batch)]
    order = np.random.default_rng(seed).permutation(len(pool))
    return [Trial(i, *pool[j]) for i, j in enumerate(order)]


def poll_trials(real: torch.Tensor, generated: dict[str, torch.Tensor], seed: int = 0) -> list[Trial]:
    """Pairs of (real face k, method's face k), the real one on a random side, in a random order.

    real: (K, 3, H, W); generated: method -> (K, 3, H, W), floats in [0, 1]. Raises ValueError for no
    methods, pictures of another kind, or counts or sizes that differ from the real faces'."""
    check_batch("real", real)
    for method, batch in generated.items():
        check_batch(f"generated[{method!r}]", batch)
    if not generated or not len(real) or any(v.shape != real.shape for v in generated.values()):
        raise ValueError(f"every method needs one face per real face, of the same size {tuple(real.shape)}, got "
                         f"{ {m: tuple(v.shape) for m, v in generated.items()} }")
    rng = np.random.default_rng(seed)
    pool = [(method, k) for method in generated for k in range(len(real))]
    trials = []
    for i, j in enumerate(rng.permutation(len(pool))):
        method, k = pool[j]
        side = "left" if rng.random() < 0.5 else "right"
        pair = (real[k], generated[method][k]) if side == "left" else (generated[method][k], real[k])
        trials.append(Trial(i, method, k, pair[0], pair[1], side))
    return trials


def mos_table(ratings: Iterable[Rating]) -> dict[str, dict[str, float]]:
    """Per method: ``mos`` (mean score), ``n``, ``ci95`` (half-width of a normal 95 % interval, nan for
    n < 2). Only MOS ratings count."""
    by_method: dict[str, list[int]] = {}
    for r in ratings:
        if r.experiment == "mos":
            by_method.setdefault(r.method, []).append(int(r.answer))
    out = {}
    for method, scores in by_method.items():
        s = np.asarray(scores, dtype=float)
        ci = 1.96 * s.std(ddof=1) / np.sqrt(len(s)) if len(s) > 1 else float("nan")
        out[method] = {"mos": float(s.mean()), "n": len(s), "ci95": float(ci)}
    return out


def mann_whitney(ratings: Iterable[Rating], a: str, b: str) -> dict[str, float]:
    """Two-sided Mann-Whitney U test of method a's MOS scores against b's (``scipy.stats.mannwhitneyu``):
    ``u`` (a's statistic), ``p``, and the sizes. Raises ValueError when a method has no scores."""
    from scipy.stats import mannwhitneyu

    ratings = list(ratings)
    x = [int(r.answer) for r in ratings if r.experiment == "mos" and r.method == a]
    y = [int(r.answer) for r in ratings if r.experiment == "mos" and r.method == b]
    if not x or not y:
        raise ValueError(f"need scores for both {a!r} ({len(x)}) and {b!r} ({len(y)})")
    test = mannwhitneyu(x, y, alternative="two-sided")
    return {"u": float(test.statistic), "p": float(test.pvalue), "n_a": len(x), "n_b": len(y)}


def score(trial: Trial, rater: str, value: int) -> Rating:
    """A rater's 1-5 score of a MOS trial as a ``Rating``. Raises ValueError for a score that is not an
    integer from 1 to 5, or a trial that is a pair (a poll trial)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value not in SCORES:
        raise ValueError(f"a score must be one of the integers {SCORES}, got {value!r}")
    if trial.real_side:
        raise ValueError("score rates one picture (a MOS trial); for a pair (a poll trial) use pick")
    return Rating("mos", rater, trial.index, trial.method, trial.item, str(int(value)))


def pick(trial: Trial, rater: str, side: str) -> Rating:
    """A rater's answer to "which one is real?" ("left" or "right") as a ``Rating`` whose answer is
    "correct" or "fooled" (picked the generated face), so that a CSV needs no answer key.
    Raises ValueError for another side or a trial that is not a pair."""
    if not trial.real_side:
        raise ValueError("pick answers a pair (a poll trial); for one picture (a MOS trial) use score")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return Rating("poll", rater, trial.index, trial.method, trial.item, "correct" if side == trial.real_side else "fooled")


def fool_rate(ratings: Iterable[Rating]) -> dict[str, dict[str, float]]:
    """Per method: the share of poll answers that called its face the real one (``fool_rate``; 50 %:
    indistinguishable), the counts, and ``p`` of a two-sided binomial test against 50 %
    (``scipy.stats.binomtest``)."""
    from scipy.stats import binomtest

    counts: dict[str, list[int]] = {}
    for r in ratings:
        if r.experiment == "poll":
            counts.setdefault(r.method, [0, 0])[0] += int(r.answer == "fooled")
            counts[r.method][1] += 1
    return {m: {"fool_rate": k / n, "fooled": k, "n": n, "p": float(binomtest(k, n, 0.5).pvalue)}
            for m, (k, n) in counts.items()}


def write_ratings(path: str | os.PathLike, ratings: Iterable[Rating]) -> Path:
    """Write ratings as a UTF-8 CSV with the header ``FIELDS``; returns the path."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(dataclasses.astuple(r) for r in ratings)
    return path


def read_ratings(path: str | os.PathLike) -> list[Rating]:
    """Ratings from a CSV written by ``write_ratings`` (a spreadsheet's byte-order mark and blank lines are
    fine). Raises ValueError naming the file (and the line) for a file that is not UTF-8 text, has not the
    expected header, or has a bad row; FileNotFoundError for a missing file."""
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; save the ratings file as CSV UTF-8") from None
    header = tuple(cell.strip() for cell in rows[0]) if rows else ()
    if header != FIELDS:
        hint = " (it is separated by ';': save it as comma-separated CSV)" if rows and ";" in rows[0][0] else ""
        raise ValueError(f"{path}: not a ratings file (expected the header {','.join(FIELDS)}){hint}")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        row = [cell.strip() for cell in row]
        if len(row) != len(FIELDS) or row[0] not in ("mos", "poll") or not (row[2].isdecimal() and row[4].isdecimal()):
            raise ValueError(f"{path}, line {line}: bad row {row}")
        allowed = [str(s) for s in SCORES] if row[0] == "mos" else ["correct", "fooled"]
        if row[5] not in allowed:
            raise ValueError(f"{path}, line {line}: a {row[0]} answer must be one of {allowed}, got {row[5]!r}")
        out.append(Rating(row[0], row[1], int(row[2]), row[3], int(row[4]), row[5]))
    return out


def merge_ratings(paths: Iterable[str | os.PathLike]) -> list[Rating]:
    """Pool the CSVs of a class (a list of paths) into one list. Raters are told apart by name; a name
    already taken by an earlier file gets the first free suffix "#2", "#3" ... Raises ValueError for a
    single path instead of a list, no files, or a bad file (``read_ratings``)."""
    if isinstance(paths, (str, os.PathLike)):
        raise ValueError(f"merge_ratings takes a list of paths, got the single path {paths!r}: pass [{str(paths)!r}]")
    paths = list(paths)
    if not paths:
        raise ValueError("no ratings files to merge")
    pooled, taken = [], set()
    for path in paths:
        rows = read_ratings(path)
        renamed = {}
        for name in dict.fromkeys(r.rater for r in rows):
            new, k = name, 1
            while new in taken:
                k += 1
                new = f"{name}#{k}"
            renamed[name] = new
            taken.add(new)
        pooled += [dataclasses.replace(r, rater=renamed[r.rater]) for r in rows]
    return pooled
