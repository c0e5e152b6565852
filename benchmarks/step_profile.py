"""Where does a PULSE step and a training step spend their time, and how close is that to the CPU's arithmetic?

    python benchmarks/step_profile.py            # PULSE on faces64 (16 seeds) and the bundled training recipe
    python benchmarks/step_profile.py --quick    # fewer steps

Every torch operation is timed (a TorchDispatchMode around each call, so backward operations count too)
and grouped: convolutions forward and backward, matrix products, elementwise work (activations,
modulation, sums, copies) and the rest. The timer itself adds ~10-15 % to a step. Each workload also gets
its convolution and matrix-product GFLOP (torch.utils.flop_counter), its GFLOP/s without the timer, and
their share of a large float32 matrix product's GFLOP/s measured in the same run with the same threads:
near 100 %, a step is bound by the machine's arithmetic, not by the code around it. Prints a table and
writes JSON (default benchmarks/results/step_profile.json).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# isort: off
import pulse_teach  # noqa: E402  (first: its thread and malloc settings apply before torch starts work)
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
# isort: on

from pulse_speed import matmul_peak_gflops  # noqa: E402  (this folder: the same peak as pulse_speed's table)

from pulse_teach import PulseConfig, load_generator, upsample  # noqa: E402
from pulse_teach.train import TrainConfig, Trainer, face_batches  # noqa: E402

ELEMENTWISE = {"mul", "add", "add_", "addcmul", "sub", "div", "rsqrt", "pow", "square", "sum", "mean", "var", "copy_",
               "clone", "fill_", "zero_", "where", "neg", "exp", "cat", "stack", "leaky_relu", "leaky_relu_",
               "leaky_relu_backward", "softplus", "softplus_backward", "constant_pad_nd", "avg_pool2d",
               "avg_pool2d_backward", "reflection_pad2d", "reflection_pad2d_backward"}


def group(op: str) -> str:
    name = op.removeprefix("aten.").split(".")[0]
    if name == "convolution_backward":
        return "convolution backward"
    if name in ("convolution", "_convolution", "mkldnn_convolution"):
        return "convolution forward"
    if name in ("bmm", "mm", "addmm"):
        return "matrix products"
    return "elementwise, reductions, copies" if name in ELEMENTWISE or name.startswith("_foreach") else "other"


class OpTimer(TorchDispatchMode):
    """Seconds spent inside each group of torch operations while active."""

    def __init__(self):
        super().__init__()
        self.seconds = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self.seconds[group(str(func))] += time.perf_counter() - start
        return out


def measure(name: str, run, steps: int) -> dict:
    """``run()`` makes ``steps`` steps: time it plainly, count its FLOP, then time its operations by group."""
    run()  # warm-up
    start = time.perf_counter()
    run()
    seconds = (time.perf_counter() - start) / steps
    with FlopCounterMode(display=False) as counter:
        run()
    gflop = counter.get_total_flops() / 1e9 / steps
    timer = OpTimer()
    with timer:
        run()
    inside = sum(timer.seconds.values())
    return {"workload": name, "ms_per_step": 1000 * seconds, "gflop_per_step": gflop, "gflops": gflop / seconds,
            "groups_ms": {k: 1000 * v / steps for k, v in timer.seconds.most_common()},
            "groups_share": {k: v / inside for k, v in timer.seconds.most_common()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=16, help="PULSE seeds per step (default: 16)")
    parser.add_argument("--steps", type=int, default=10, help="steps timed per workload (default: 10)")
    parser.add_argument("--quick", action="store_true", help="3 steps each")
    parser.add_argument("--json", default="benchmarks/results/step_profile.json")
    args = parser.parse_args()
    steps = 3 if args.quick else args.steps
    peak = matmul_peak_gflops(torch.device("cpu"))

    G, target = load_generator("faces64"), torch.rand(3, 8, 8)
    pulse_config = PulseConfig(steps=steps, num_seeds=args.seeds, image_every=0)
    rows = [measure(f"PULSE, faces64, {args.seeds} seeds", lambda: upsample(G, target, pulse_config), steps)]

    with tempfile.TemporaryDirectory() as run_dir:
        config = TrainConfig(max_minutes=None, r1_interval=10**9)  # no R1 step inside the timed ones
        trainer = Trainer(config, run_dir)
        batches = face_batches(config.batch, G.resolution, 0, config.skin_tone)
        reals = [next(batches).float().div(127.5).sub(1).contiguous(memory_format=torch.channels_last) for _ in range(4)]
        trainer.train_step(reals[0])  # step 0 is an R1 step
        rows.append(measure(f"training step, bundled recipe (batch {config.batch}, no R1)",
                            lambda: [trainer.train_step(reals[k % len(reals)]) for k in range(steps)], steps))

    print(f"\n{pulse_teach.device_report()}\nmatrix-product peak: {peak:.0f} GFLOP/s")
    for row in rows:
        row["share_of_peak"] = row["gflops"] / peak
        print(f"\n{row['workload']}: {row['ms_per_step']:.0f} ms/step, {row['gflop_per_step']:.2f} GFLOP, "
              f"{row['gflops']:.0f} GFLOP/s = {row['share_of_peak']:.0%} of the matrix-product peak")
        for name, ms in row["groups_ms"].items():
            print(f"  {name:32s} {ms:7.1f} ms  {row['groups_share'][name]:5.0%}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": pulse_teach.device_report(), "matmul_peak_gflops": peak, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
