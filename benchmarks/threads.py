"""How much does a busy machine slow the lessons' runs, for each way of setting CPU threads?

    python benchmarks/threads.py                       # PULSE (lesson 04's defaults) and the 2-D GAN
    python benchmarks/threads.py --steps 20 --rounds 100 --settings torch auto

Each run is a fresh Python process (OpenMP reads its settings when torch loads), timed alone on a quiet
machine and again next to one competing CPU-bound process (a busy loop, as a second notebook or a
browser would be). Settings:

- ``torch``: torch's own choice (one thread per core, OpenMP threads that spin while they wait);
- ``auto``: pulse_teach's choice (``runtime.configure_threads``: what the package does by default);
- ``1``, ``2``: that many threads, spinning as torch's default;
- ``2-passive``: 2 threads that sleep while they wait (OMP_WAIT_POLICY=PASSIVE);
- ``2-spin10k``, ``2-spin100k``: 2 threads that spin that many times before they sleep (GOMP_SPINCOUNT;
  GNU OpenMP's default is 300,000).

The slowdown is busy time / quiet time of the same setting; 2 cores shared by 2 CPU-bound processes
should cost at most about 2x. Prints a table and writes JSON (default benchmarks/results/threads.json).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # environment of the measured process
    "torch": {"PULSE_TEACH_THREADS": "torch"},
    "auto": {},
    "1": {"PULSE_TEACH_THREADS": "1"},
    "2": {"PULSE_TEACH_THREADS": "2"},
    "2-passive": {"PULSE_TEACH_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "2-spin10k": {"PULSE_TEACH_THREADS": "2", "GOMP_SPINCOUNT": "10000"},
    "2-spin100k": {"PULSE_TEACH_THREADS": "2", "GOMP_SPINCOUNT": "100000"},
}
WORKLOADS = {
    # lesson 04's scripted search: faces64, 8 seeds; steps from the command line
    "pulse": """
import time, torch
from pulse_teach import PulseConfig, load_generator, load_sample, upsample
g, face = load_generator("faces64"), load_sample("face1")
upsample(g, face.low_res[8], PulseConfig(num_seeds=8, steps=2))  # warm-up (and the Gaussian fit, if not shipped)
start = time.perf_counter()
upsample(g, face.low_res[8], PulseConfig(num_seeds=8, steps={steps}))
print(time.perf_counter() - start, torch.get_num_threads())
""",
    # lesson 01's playground: the 2-D GAN, rounds from the command line
    "gan2d": """
import time, torch
from pulse_teach import Gan2D
lab = Gan2D()
lab.run(5)
start = time.perf_counter()
lab.run({rounds})
print(time.perf_counter() - start, torch.get_num_threads())
""",
}


def run(workload: str, setting: str, args: argparse.Namespace) -> tuple[float, int]:
    """(seconds, torch threads) of one workload in a fresh process with the setting's environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
                                                              "PULSE_TEACH_THREADS", "GOMP_SPINCOUNT")}
    env.update(SETTINGS[setting], PYTHONPATH=str(ROOT))
    code = WORKLOADS[workload].format(steps=args.steps, rounds=args.rounds)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         timeout=args.timeout)
    seconds, threads = out.stdout.split()[-2:]
    return float(seconds), int(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="PULSE steps timed")
    parser.add_argument("--rounds", type=int, default=200, help="2-D GAN rounds timed")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a run counts as too slow")
    parser.add_argument("--json", default="benchmarks/results/threads.json")
    args = parser.parse_args()

    rows = []
    for workload in args.workloads:
        for setting in args.settings:
            row = {"workload": workload, "setting": setting}
            row["quiet_s"], row["threads"] = run(workload, setting, args)
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # one competing CPU-bound process
            try:
                time.sleep(0.5)
                row["busy_s"], _ = run(workload, setting, args)
            except subprocess.TimeoutExpired:
                row["busy_s"] = float("inf")
            finally:
                busy.kill()
                busy.wait()
            row["slowdown"] = row["busy_s"] / row["quiet_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)

    print(f"\n{'workload':>8} {'setting':>10} {'threads':>7} {'quiet s':>8} {'busy s':>8} {'slowdown':>8}")
    for r in rows:
        print(f"{r['workload']:>8} {r['setting']:>10} {r['threads']:>7} {r['quiet_s']:>8.2f} {r['busy_s']:>8.2f} "
              f"{r['slowdown']:>7.1f}x")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cpu_count": os.cpu_count(), "steps": args.steps, "rounds": args.rounds,
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
