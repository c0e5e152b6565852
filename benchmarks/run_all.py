"""Every benchmark in one command, and one summary table.

    python benchmarks/run_all.py              # every benchmarks/*.py with its own defaults, plus the built-ins
    python benchmarks/run_all.py --quick      # small sizes everywhere: a few minutes on a laptop CPU
    python benchmarks/run_all.py --only pulse_speed rendering training

Each script in benchmarks/ (any present when this runs) runs as its own process and writes its JSON
into the results folder; QUICK_ARGS holds short settings for the known ones, an unknown script gets
``--quick`` if its --help offers it (else it is skipped in quick mode), and scripts named *gpu* are
skipped without CUDA. Built in: face rendering speed (pulse_teach.faces), PULSE time to eps on the
bundled samples, GAN training iterations per second (a few steps of pulse_teach.train.Trainer) and,
if notebooks/ exists, the notebook suite's time in fast mode. Writes RESULTS/run_all.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from pulse_teach import faces  # noqa: E402
from pulse_teach.latent import fit_gaussian  # noqa: E402
from pulse_teach.models import load_generator  # noqa: E402
from pulse_teach.pulse import PulseConfig, upsample  # noqa: E402
from pulse_teach.runtime import resolve_device  # noqa: E402
from pulse_teach.samples import list_samples, load_sample  # noqa: E402
from pulse_teach.train import TrainConfig, Trainer, face_batches  # noqa: E402

QUICK_ARGS = {  # short runs of the known scripts; --json (and --figure) are added for every script that has them
    "pulse_speed": ["--config", "small64", "--batches", "1", "4", "--steps", "3", "--warmup", "1"],
    "pulse_faces": ["--seeds", "4", "--steps", "50", "--samples", "face0"],
    "ffhq_gpu": ["--seeds", "1", "4", "--steps", "10", "--fit-samples", "100000"],
    "bias": ["--seeds", "3", "--steps", "30", "--samples", "face5"],
    "train_speed": ["--steps", "3", "--warmup", "1", "--rounds", "1"],
}
Row = tuple[str, str, object, str]  # (benchmark, what, value, unit)


# ------------------------------------------------------------------ the scripts in benchmarks/
def scripts() -> list[Path]:
    """benchmarks/*.py other than this one and private helpers, found when this runs."""
    return sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))


def run_script(path: Path, quick: bool, results: Path, timeout: float) -> tuple[str, float, list[Row]]:
    """Run one script as a subprocess; return (status, seconds, rows read from its JSON)."""
    name = path.stem
    if "gpu" in name and not torch.cuda.is_available():
        return "skipped: needs a CUDA GPU", 0.0, []
    options = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, cwd=REPO,
                             timeout=120).stdout
    args = []
    if quick:
        if name in QUICK_ARGS:
            args += QUICK_ARGS[name]
        elif "--quick" in options:
            args.append("--quick")
        else:
            return "skipped: no quick settings (run without --quick)", 0.0, []
    out = results / f"{name}.json"
    if "--json" in options:
        args += ["--json", str(out)]
    if "--figure" in options:
        args += ["--figure", str(results / f"{name}.png")]
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=REPO,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s", time.perf_counter() - start, []
    seconds = time.perf_counter() - start
    (results / f"{name}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        return f"failed (exit {proc.returncode}): {last[:80]}", seconds, []
    data = json.loads(out.read_text()) if out.is_file() else {}
    return "ok", seconds, [(name, what, value, unit) for what, value, unit in READERS.get(name, read_numbers)(data)]


def read_pulse_speed(data: dict) -> list[tuple]:
    rows = []
    for r in data.get("rows", []):
        rows.append((f"{r['config']} batch {r['batch']}: ms/step", r["ms_per_step"], "ms"))
        rows.append((f"{r['config']} batch {r['batch']}: seeds/s (100 steps)", r["seeds_per_s_100_steps"], "seeds/s"))
    return rows


def read_pulse_faces(data: dict) -> list[tuple]:
    per_sample = [r["seconds"] for r in data.get("per_sample", [])]
    return [(f"{data['model']} x{64 // data['side']}, {data['seeds']} seeds x {data['steps']} steps: accepted",
             100 * data["accepted_share"], "%"),
            ("s per sample (one batch of seeds)", statistics.mean(per_sample) if per_sample else float("nan"), "s"),
            ("mean pairwise RMS of solutions / to truth",
             f"{data['mean_pairwise']:.3f} / {data['mean_to_truth']:.3f}", "")] + \
           [(f"{name} (goal {g['goal']}: {'pass' if g['pass'] else 'FAIL'})", g["value"], "")
            for name, g in data.get("goals", {}).items() if name != "accepted"]


def read_ffhq_gpu(data: dict) -> list[tuple]:
    return [(f"FFHQ-1024 {r['precision']} {r['seeds']} seeds: ms/step", r["ms_per_step"], "ms") for r in data.get("rows", [])] + \
           [(f"FFHQ-1024 {r['precision']} {r['seeds']} seeds: peak memory", r["peak_gib"], "GiB")
            for r in data.get("rows", []) if r.get("peak_gib") is not None]


def read_bias(data: dict) -> list[tuple]:
    return [(f"{model} on dark faces ({m['accepted']}/{m['seeds']} accepted): read as dark", 100 * m["share_dark"], "%")
            for model, m in data.get("models", {}).items()]


def read_train_speed(data: dict) -> list[tuple]:
    rows = [(f"training step, {package}", s, "s") for package, s in data.get("median_s_per_step", {}).items()]
    return rows + ([("speed-up vs the older commit", data["speedup"], "x")] if "speedup" in data else [])


def read_numbers(data: dict) -> list[tuple]:
    """Unknown scripts: their JSON's top-level numbers."""
    return [(key, value, "") for key, value in data.items() if isinstance(value, (int, float)) and not isinstance(value, bool)]


READERS: dict[str, Callable[[dict], list[tuple]]] = {
    "pulse_speed": read_pulse_speed, "pulse_faces": read_pulse_faces, "ffhq_gpu": read_ffhq_gpu, "bias": read_bias,
    "train_speed": read_train_speed}


# ------------------------------------------------------------------ built-in measurements
def bench_rendering(quick: bool, device: torch.device) -> list[tuple]:
    """Faces drawn by pulse_teach.faces per second (the training data), in this process."""
    n = 64 if quick else 512
    faces.dataset(8, seed=1)  # warm-up
    start = time.perf_counter()
    faces.dataset(n, seed=2)
    seconds = time.perf_counter() - start
    return [(f"64x64 faces, 1 process ({n} faces)", n / seconds, "faces/s")]


def bench_time_to_eps(quick: bool, device: torch.device) -> list[tuple]:
    """Seconds and steps until each seed's downscaling MSE first reaches eps, on the bundled 8x8 inputs."""
    generator = load_generator("faces64", device)
    names = ["face0", "face4"] if quick else list_samples()
    config = PulseConfig(steps=50 if quick else 100, num_seeds=4 if quick else 8, image_every=0)
    fit_gaussian(generator, config.gaussian_fit_samples)  # one-time and cached: not part of the search
    seconds, steps, seeds = [], [], 0
    for name in names:
        start, reached = time.perf_counter(), {}

        def watch(event) -> None:
            for i, ok in enumerate(event.accepted.tolist()):
                if ok and i not in reached:
                    reached[i] = (time.perf_counter() - start, event.step + 1)
        upsample(generator, load_sample(name).low_res[8], config, callbacks=watch)
        seconds += [t for t, _ in reached.values()]
        steps += [s for _, s in reached.values()]
        seeds += config.num_seeds
    label = f"faces64 8x8->64x64, {len(names)} samples x {config.num_seeds} seeds (batch), {config.steps} steps"
    return [(f"{label}: reached eps", 100 * len(seconds) / seeds, "%"),
            ("median time to eps (whole batch running)", statistics.median(seconds) if seconds else float("nan"), "s"),
            ("median steps to eps", statistics.median(steps) if steps else float("nan"), "steps")]


def bench_training(quick: bool, device: torch.device) -> list[tuple]:
    """GAN training steps per second with the default TrainConfig (batch 32), rendering timed apart."""
    steps = 3 if quick else 20
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(TrainConfig(device=str(device), max_steps=steps + 1), run_dir)
        batches = face_batches(trainer.config.batch, trainer.G.resolution, 10 ** 6, trainer.config.skin_tone)
        memory_format = torch.channels_last if trainer.config.channels_last else torch.contiguous_format

        def reals() -> torch.Tensor:
            return next(batches).to(trainer.device).float().div(127.5).sub(1).contiguous(memory_format=memory_format)
        trainer.train_step(reals())  # warm-up
        render = train = 0.0
        for _ in range(steps):
            start = time.perf_counter()
            batch = reals()
            middle = time.perf_counter()
            trainer.train_step(batch)
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            render, train = render + middle - start, train + time.perf_counter() - middle
        batches.close()
    size = trainer.config.batch
    return [(f"G+D steps/s, batch {size} ({steps} steps)", steps / train, "it/s"),
            ("with rendering in the same process", steps / (train + render), "it/s"),
            ("real images/s (rendering included)", steps * size / (train + render), "img/s")]


def bench_notebooks(quick: bool, device: torch.device) -> list[tuple]:
    """Wall time of the notebook suite under nbval in fast mode (PULSE_TEACH_FAST=1)."""
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    env = dict(os.environ, PULSE_TEACH_FAST="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "notebooks"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=3600)
    seconds = time.perf_counter() - start
    last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    if proc.returncode != 0:
        raise RuntimeError(f"notebook suite failed: {last}")
    return [(f"{len(notebooks)} notebooks in fast mode ({last.strip('= ')})", seconds, "s")]


BUILT_IN: dict[str, Callable[[bool, torch.device], list[tuple]]] = {
    "rendering": bench_rendering, "time_to_eps": bench_time_to_eps, "training": bench_training,
    "notebooks": bench_notebooks}


def run_built_in(name: str, quick: bool, device: torch.device) -> tuple[str, float, list[Row]]:
    if name == "notebooks" and not (REPO / "notebooks").is_dir():
        return "skipped: no notebooks/ folder", 0.0, []
    start = time.perf_counter()
    try:
        rows = BUILT_IN[name](quick, device)
    except Exception as error:  # one broken measurement must not lose the others
        return f"failed: {type(error).__name__}: {str(error)[:80]}", time.perf_counter() - start, []
    return "ok", time.perf_counter() - start, [(name, what, value, unit) for what, value, unit in rows]


# ------------------------------------------------------------------ the table
def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def print_table(statuses: list[tuple[str, str, float]], rows: list[Row]) -> None:
    print(f"\n{'benchmark':<13} {'status':<7} {'wall s':>7}")
    for name, status, seconds in statuses:
        print(f"{name:<13} {status if status == 'ok' else '-':<7} {seconds:>7.1f}" + ("" if status == "ok" else f"  {status}"))
    width = max([len(what) for _, what, _, _ in rows] + [10])
    print(f"\n{'benchmark':<13} {'measure':<{width}} {'value':>10} unit")
    for name, what, value, unit in rows:
        print(f"{name:<13} {what:<{width}} {format_value(value):>10} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short settings everywhere (a smoke run with real numbers)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these (script stems or built-in names)")
    parser.add_argument("--skip", nargs="+", default=[], metavar="NAME", help="leave these out")
    parser.add_argument("--device", default="auto", help="device of the built-in measurements (default: %(default)s)")
    parser.add_argument("--results", default=None,
                        help="folder for JSON and logs (default: benchmarks/results, or benchmarks/results/quick)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per script (default: 600 quick, 7200 full)")
    args = parser.parse_args()

    results = Path(args.results or HERE / "results" / ("quick" if args.quick else ""))
    results.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout or (600 if args.quick else 7200)
    try:
        device = resolve_device(args.device)
    except ValueError as error:  # an unavailable --device: one line, exit status 2
        parser.error(str(error))
    wanted = [p.stem for p in scripts()] + list(BUILT_IN)
    names = [n for n in (args.only or wanted) if n not in args.skip]
    unknown = [n for n in names if n not in wanted]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {wanted}")
    statuses, rows = [], []
    total = time.perf_counter()
    for name in names:
        print(f"{name} ...", flush=True)
        if name in BUILT_IN:
            status, seconds, found = run_built_in(name, args.quick, device)
        else:
            status, seconds, found = run_script(HERE / f"{name}.py", args.quick, results, timeout)
        statuses.append((name, status, seconds))
        rows += found
        print(f"{name}: {status} ({seconds:.1f} s)", flush=True)
    print_table(statuses, rows)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads"
    print(f"\n{'quick' if args.quick else 'full'} run on {device} ({machine}), torch {torch.__version__}: "
          f"{time.perf_counter() - total:.0f} s")
    out = results / "run_all.json"
    out.write_text(json.dumps({
        "quick": args.quick, "device": str(device), "machine": machine, "torch": torch.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "benchmarks": [{"name": n, "status": s, "seconds": round(t, 2)} for n, s, t in statuses],
        "rows": [{"benchmark": n, "measure": w, "value": v, "unit": u} for n, w, v, u in rows]}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
