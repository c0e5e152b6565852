#!/usr/bin/env bash
# Everything one short GPU lease is for, as one command (issues 14 and 11), from the repository root:
#
#   bash benchmarks/gpu_lease.sh OUTDIR [SECONDS]        # SECONDS: the whole run's budget (default 570)
#
# 1. benchmarks/ffhq_gpu.py: PULSE at 1024 (fp32 and mixed, 1/4/8 seeds, plan_seeds) -> OUTDIR/ffhq_gpu.json
# 2. the attribute probe of the face world (train-probe on CUDA, 14 render workers)
# 3. pilots: three training recipes side by side for the same wall-clock, each graded by the Frechet
#    distance on 1,000 samples (evaluate, with the new probe) and an 8x8 grid
#       A  today's recipe (TrainConfig defaults) at batch 64
#       B  A with D held back: R1 weight 1 instead of 0.1, its blur fading over 1,000 kimg instead of 200,
#          translation augmentation (in the 2026-11-30 lease A, with the mapping's LR multiplier at 0.1,
#          collapsed into one swirl by 344 kimg at batch 64, D winning throughout)
#       C  A with a D head on the frozen probe's features (--probe-d 1) and the mapping's LR multiplier at 0.1
# 4. the long run: the pilot with the lowest distance goes on (faces64), and faces64-skewed fine-tunes
#    from the same pilot checkpoint on 90 % light skin, until the budget is spent; both are graded.
# Results come back as a few files in OUTDIR: results.tgz (JSON, logs, grids, probe, final exports) and
# the two final checkpoints without optimiser moments (ckpt-*.pt), so the runs can be resumed elsewhere.
set -u
OUT=${1:?usage: gpu_lease.sh OUTDIR [SECONDS]}
BUDGET=${2:-570}
T0=$(date +%s)
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}            # DEVICE=cpu PROBE_STEPS=20 PILOT_MIN=0.3: a smoke run of this script on a CPU
RUNS=runs/lease
mkdir -p "$OUT" "$RUNS"
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
log() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$RUNS/lease.log"; }

log "start: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null); $($PY -c 'import torch; print(torch.__version__)')"
timeout 200 $PY benchmarks/ffhq_gpu.py --json "$RUNS/ffhq_gpu.json" > "$RUNS/ffhq_gpu.log" 2>&1
log "ffhq_gpu rc $?"; cp "$RUNS/ffhq_gpu.json" "$OUT/" 2>/dev/null

OMP_NUM_THREADS=2 timeout 120 $PY -m pulse_teach train-probe --device "$DEVICE" --workers 14 --steps "${PROBE_STEPS:-4000}" --out "$RUNS/probe.pt" \
    > "$RUNS/probe.log" 2>&1
log "probe rc $?"
# The probe-D pilot and every evaluation use the new probe: this replaces the bundled one in the tree the
# script runs in (a lease's copy; after a smoke run here, `git checkout data/models/probe.pt`).
cp "$RUNS/probe.pt" data/models/probe.pt

train() {  # name, minutes, options...
    local name=$1 minutes=$2; shift 2
    OMP_NUM_THREADS=2 $PY -m pulse_teach train --out "$RUNS/$name" --device "$DEVICE" --batch 64 --minutes "$minutes" \
        --sample-minutes 0.5 --log-seconds 20 "$@" > "$RUNS/$name.log" 2>&1
}
grade() {  # run folder, label: FD on 1,000 samples with the new probe, and a grid
    OMP_NUM_THREADS=5 $PY -m pulse_teach evaluate "$RUNS/$1/generator.pt" --n 1000 --json "$RUNS/$2.eval.json" \
        --grid "$RUNS/$2.grid.png" > "$RUNS/$2.eval.log" 2>&1
}
PILOT_MIN=${PILOT_MIN:-$($PY -c "print(round(min(2.0, max(0.75, ($(left) - 260) / 60)), 2))")}
log "pilots: $PILOT_MIN min each"
train A "$PILOT_MIN" --workers 4 &
train B "$PILOT_MIN" --workers 4 --r1-gamma 1 --blur-kimg 1000 --augment translation &
train C "$PILOT_MIN" --workers 4 --mapping-lr 0.1 --probe-d 1 &
wait
grade A A & grade B B & grade C C & wait
WIN=$($PY - "$RUNS" <<'EOF'
import json, sys
fd = {}
for name in "ABC":
    try:
        fd[name] = json.load(open(f"{sys.argv[1]}/{name}.eval.json"))["frechet_distance"]
    except (OSError, KeyError, ValueError):
        pass
print(min(fd, key=fd.get) if fd else "B")
EOF
)
log "pilot FD: $(cd $RUNS && grep -ho '"frechet_distance": [0-9.]*' A.eval.json B.eval.json C.eval.json | tr '\n' ' '); winner $WIN"

cp -r "$RUNS/$WIN" "$RUNS/pilot-$WIN"   # the shared start of the long runs, kept as it was
FINAL_MIN=$($PY -c "print(round($PILOT_MIN + ($(left) - 45) / 60, 2))")
log "long runs to $FINAL_MIN min of training each"
train "$WIN" "$FINAL_MIN" --workers 7 &
train skewed "$FINAL_MIN" --workers 7 --init-from "$RUNS/pilot-$WIN" --skin skewed &
wait
grade "$WIN" final-balanced & grade skewed final-skewed & wait
log "final FD: $(cd $RUNS && grep -ho '"frechet_distance": [0-9.]*' final-balanced.eval.json final-skewed.eval.json | tr '\n' ' ')"

for name in "$WIN" skewed; do  # weights without optimiser moments (13 MB): resumable, Adam restarts its moments
    $PY -c "import sys, torch; c = torch.load(sys.argv[1], weights_only=True); c.update(opt_g=None, opt_d=None); \
torch.save(c, sys.argv[2])" "$RUNS/$name/checkpoint.pt" "$OUT/ckpt-$name.pt"
done
(cd "$RUNS" && tar czf "$OUT/results.tgz" *.log *.json *.png probe.pt */log.jsonl "$WIN/generator.pt" \
    skewed/generator.pt $(ls -d */samples/*.png | sort | awk -F/ '{last[$1]=$0} END {for (k in last) print last[k]}'))
log "done; files: $(ls "$OUT" | tr '\n' ' ')"
cp "$RUNS/lease.log" "$OUT/"
