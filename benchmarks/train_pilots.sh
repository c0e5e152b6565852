#!/usr/bin/env bash
# Training-recipe pilots for the bundled face generator on a CPU (issue 11), from the repository root:
#
#   bash benchmarks/train_pilots.sh RUNS [MINUTES]      # MINUTES of training per pilot (default 10)
#
# Four recipes, two at a time with one torch thread each (a 2-core machine: nothing else may run), each
# for the same wall-clock budget, then graded alike: Frechet distance on the probe's features over 1,000
# samples (`evaluate --n 1000`) and an 8x8 grid to look at. Results: RUNS/NAME.eval.json, RUNS/NAME.grid.png.
#   A  today's recipe (the TrainConfig defaults)
#   B  A plus the paired terms: each unmixed fake is pulled towards the render its latent stands for
#      (L1 on pixels and on the probe's features), half the fakes unmixed, the mapping at full learning rate
#   C  A with D held back and looking through the probe: R1 weight 1, translation augmentation, a D head
#      on the frozen probe's features (projected-GAN idea), the mapping's learning-rate multiplier at 0.1
#   D  B without the probe-feature term (pixels only): what the probe term adds for its cost
set -u
RUNS=${1:?usage: train_pilots.sh RUNS [MINUTES]}
MINUTES=${2:-10}
PY=${PYTHON:-python}
mkdir -p "$RUNS"
train() {  # name, options...
    local name=$1; shift
    $PY -m pulse_teach train --out "$RUNS/$name" --threads 1 --minutes "$MINUTES" --sample-minutes 2.5 \
        --log-seconds 60 "$@" > "$RUNS/$name.log" 2>&1
}
grade() {  # name
    $PY -m pulse_teach evaluate "$RUNS/$1/generator.pt" --n 1000 --json "$RUNS/$1.eval.json" \
        --grid "$RUNS/$1.grid.png" > "$RUNS/$1.eval.log" 2>&1
}
PAIRED="--paired 1 --style-mixing 0.5 --mapping-lr 1"
train A & train B $PAIRED --paired-probe "${PROBE_WEIGHT:-0.05}" & wait
train C --r1-gamma 1 --augment translation --probe-d 1 --mapping-lr 0.1 & train D $PAIRED & wait
for name in A B C D; do OMP_NUM_THREADS=2 grade $name; done
$PY - "$RUNS" <<'PYEOF'
import json, sys
from pathlib import Path
runs = Path(sys.argv[1])
print("| pilot | steps | kimg | FD (1,000 samples) |\n|---|---|---|---|")
for name in "ABCD":
    fig = json.loads((runs / f"{name}.eval.json").read_text()) if (runs / f"{name}.eval.json").exists() else {}
    log = [json.loads(l) for l in (runs / name / "log.jsonl").read_text().splitlines()] if (runs / name / "log.jsonl").exists() else [{}]
    print(f"| {name} | {log[-1].get('step')} | {log[-1].get('kimg')} | {fig.get('frechet_distance', float('nan')):.0f} |")
print(f"renders vs renders: {fig.get('frechet_renders', float('nan')):.0f}")
PYEOF
