"""The face world's seed plan: which ``faces.dataset`` seeds each use draws from, kept apart so that
nothing is evaluated on faces it was trained on. The only place these numbers are written down.

    use                  seeds                   who
    "probe training"     [0, 10^6)               probe.train_probe (run seed s starts at s * 10^6: only s = 0)
    "GAN training"       [10^6, 7 * 10^6)        train.Trainer (run seed s starts at (s + 1) * 10^6: s = 0 ... 5)
    "probe evaluation"   [7 * 10^6, 8 * 10^6)    probe.eval_set
    "quality reference"  [8 * 10^6, 9 * 10^6)    quality.renders
    "lesson samples"     [9 * 10^6, 10^7)        samples.write_samples
    "benchmark faces"    [10^7, 11 * 10^6)       samples.held_out_samples (benchmarks/pulse_faces.py)
    "posterior renders"  [11 * 10^6, 12 * 10^6)  recovery.posterior_figures (input i of a benchmark: start + 2i)
    "upsampler training" [12 * 10^6, 13 * 10^6)  perception.train_upsampler (run seed s starts at start + s * 10^6)

    face_seeds("GAN training", run_seed=2, count=steps)   # range(3_000_000, 3_000_000 + steps), checked
"""
from __future__ import annotations

BLOCK = 10**6  # seeds per run seed: a run draws one faces.dataset seed per batch or per face

PLAN: dict[str, range] = {
    "probe training": range(0, BLOCK),
    "GAN training": range(BLOCK, 7 * BLOCK),
    "probe evaluation": range(7 * BLOCK, 8 * BLOCK),
    "quality reference": range(8 * BLOCK, 9 * BLOCK),
    "lesson samples": range(9 * BLOCK, 10 * BLOCK),
    "benchmark faces": range(10 * BLOCK, 11 * BLOCK),
    "posterior renders": range(11 * BLOCK, 12 * BLOCK),
    "upsampler training": range(12 * BLOCK, 13 * BLOCK),
}
PROBE_EVALUATION = PLAN["probe evaluation"].start
QUALITY_REFERENCE = PLAN["quality reference"].start
LESSON_SAMPLES = PLAN["lesson samples"].start
BENCHMARK_FACES = PLAN["benchmark faces"].start
POSTERIOR_RENDERS = PLAN["posterior renders"].start


def face_seeds(use: str, run_seed: int = 0, count: int = 1, offset: int = 0) -> range:
    """The ``count`` consecutive face-world seeds a run (``run_seed``) draws for ``use``, from ``offset`` on.

    Run seed s starts at block s of the use's range (``start + s * BLOCK + offset``). Raises KeyError for
    an unknown use and ValueError when the seeds would leave the use's range (they would then be faces
    another use trains or evaluates on).
    """
    if use not in PLAN:
        raise KeyError(f"unknown use of face-world seeds {use!r}; expected one of {list(PLAN)}")
    allowed = PLAN[use]
    first = allowed.start + run_seed * BLOCK + offset
    seeds = range(first, first + count)
    if run_seed < 0 or offset < 0 or count < 0 or seeds.stop > allowed.stop:
        most = (allowed.stop - allowed.start) // BLOCK - 1
        raise ValueError(f"{use} with seed {run_seed} would draw face-world seeds {first:,}..{seeds.stop - 1:,}, "
                         f"outside its range [{allowed.start:,}, {allowed.stop:,}) (docs: pulse_teach.seed_plan); "
                         f"use a seed from 0 to {most} and fewer than {BLOCK:,} draws")
    return seeds
