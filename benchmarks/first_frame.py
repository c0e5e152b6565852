"""How long after loading a generator does a PULSE run show its first step, in a fresh kernel?

    python benchmarks/first_frame.py                          # the bundled faces64 and faces64-skewed
    python benchmarks/first_frame.py data/models/faces64.pt old_faces64.pt

Each model file is measured in a fresh Python process with an empty cache folder (PULSE_TEACH_CACHE), as
a new install or a new Colab runtime meets it: seconds to import, to load the generator, and from the
loaded generator to the first callback of ``upsample`` (lesson 04's 8 seeds), after ``--idle`` seconds in
which a student reads the cell. A file that ships its
Gaussianised-W fit skips the one-time fit of 10^6 latents. Prints a table and writes JSON (default
benchmarks/results/first_frame.json).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import time
start = time.perf_counter()
from pulse_teach import PulseConfig, load_generator, load_sample, upsample
imported = time.perf_counter()
g = load_generator({path!r})
loaded = time.perf_counter()
first = []
def callback(event):
    if not first:
        first.append(time.perf_counter())
face = load_sample("face1").low_res[8]
time.sleep({idle})  # a student reads the cell before pressing Run
run = time.perf_counter()
upsample(g, face, PulseConfig(num_seeds=8, steps=1), callbacks=callback)
print(imported - start, loaded - imported, first[0] - run, "gaussian_fit" in g.meta)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", default=[str(ROOT / "data/models/faces64.pt"),
                                                     str(ROOT / "data/models/faces64-skewed.pt")])
    parser.add_argument("--idle", type=float, default=5.0, help="seconds between loading and Run (default: %(default)s)")
    parser.add_argument("--json", default="benchmarks/results/first_frame.json")
    args = parser.parse_args()
    rows = []
    for path in args.files:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, PULSE_TEACH_CACHE=cache, PYTHONPATH=str(ROOT))
            out = subprocess.run([sys.executable, "-c", PROBE.format(path=str(Path(path).resolve()), idle=args.idle)], env=env,
                                 capture_output=True, text=True, check=True)
        imported, loaded, first, shipped = out.stdout.split()[-4:]
        rows.append({"file": path, "import_s": float(imported), "load_s": float(loaded),
                     "first_step_s": float(first), "fit_shipped": shipped == "True"})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'file':<40} {'fit shipped':>11} {'import s':>9} {'load s':>7} {'Run -> first step s':>21}")
    for r in rows:
        print(f"{Path(r['file']).name:<40} {str(r['fit_shipped']):>11} {r['import_s']:>9.2f} {r['load_s']:>7.2f} "
              f"{r['first_step_s']:>21.2f}")
    out_path = Path(args.json)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
