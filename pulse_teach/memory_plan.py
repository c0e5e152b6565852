"""How many PULSE seeds fit on a GPU at once: measure one step, then fill the free memory.

Seeds are independent, so searching S of them as one batch costs about S times the activation memory
of one seed but much less than S times the time. ``plan_seeds`` measures the peak memory of one PULSE
step with 1 and 2 seeds (the difference is the cost per seed; the rest is fixed), reads the free
memory, and returns the largest batch that fits with some headroom.

    plan = plan_seeds(G, input_side=16)                   # on a CUDA generator
    result = upsample(G, low_res, PulseConfig.preset("x64", num_seeds=plan.num_seeds))
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .latent import fit_gaussian
from .pulse import PulseConfig, upsample


@dataclass(frozen=True)
class MemoryPlan:
    """A measured batch size for one generator, input size and precision on one device."""

    device: str
    free_bytes: int  # free device memory when planned (weights already loaded)
    fixed_bytes: int  # peak of one step minus the per-seed part (activations shared by the batch, workspace)
    bytes_per_seed: int  # extra peak memory per additional seed in the batch
    num_seeds: int  # the planned batch
    mixed_precision: bool

    def summary(self) -> str:
        gib = 2**30
        return (f"{self.num_seeds} seeds per batch on {self.device} ({'mixed' if self.mixed_precision else 'float32'}"
                f" precision): {self.bytes_per_seed / gib:.2f} GiB per seed + {self.fixed_bytes / gib:.2f} GiB fixed,"
                f" {self.free_bytes / gib:.1f} GiB free")


def seeds_that_fit(free_bytes: int, fixed_bytes: int, bytes_per_seed: int, headroom: float = 0.9,
                   max_seeds: int = 64) -> int:
    """Largest S with fixed + S * per_seed <= headroom * free, between 1 and max_seeds.

    Raises ValueError for a headroom outside (0, 1].
    """
    if not 0 < headroom <= 1:
        raise ValueError(f"headroom must be in (0, 1], got {headroom}")
    if bytes_per_seed <= 0:
        return max_seeds
    return max(1, min(max_seeds, int((headroom * free_bytes - fixed_bytes) // bytes_per_seed)))


def step_peak_bytes(generator: torch.nn.Module, input_side: int, num_seeds: int,
                    mixed_precision: bool = False) -> int:
    """Peak CUDA memory allocated during a 2-step PULSE search of ``num_seeds`` seeds, above what was in use.

    A 1-step search of the same shape runs first and is not measured: with ``cudnn.benchmark`` on, the first
    call of a shape autotunes with large scratch buffers (measured on an H200 at 1024 px: 30 GiB at 2 seeds,
    against 2.6 GiB per seed in steady state), which says nothing about the cost of a seed.

    Raises ValueError for a generator that is not on a CUDA device.
    """
    device = next(generator.parameters()).device
    if device.type != "cuda":
        raise ValueError(f"memory plans measure CUDA memory; the generator is on {device}. "
                         "On CPU use a few seeds (1-4 at 1024x1024 need about 2-8 GB of RAM).")
    config = PulseConfig(steps=2, num_seeds=num_seeds, image_every=0, gaussian_fit_samples=10_000,
                         mixed_precision=mixed_precision)
    fit_gaussian(generator, config.gaussian_fit_samples)  # cached: the one-time fit is not part of a step's peak
    target = torch.rand(3, input_side, input_side, generator=torch.Generator().manual_seed(0))
    upsample(generator, target, dataclasses.replace(config, steps=1))  # warm-up of this shape, not measured
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    upsample(generator, target, config)
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def plan_seeds(generator: torch.nn.Module, input_side: int = 16, headroom: float = 0.9, max_seeds: int = 64,
               mixed_precision: bool = False) -> MemoryPlan:
    """Measure 1- and 2-seed steps on the generator's CUDA device and size the batch to its free memory."""
    one = step_peak_bytes(generator, input_side, 1, mixed_precision)
    two = step_peak_bytes(generator, input_side, 2, mixed_precision)
    per_seed = max(two - one, 1)
    device = next(generator.parameters()).device
    free, _total = torch.cuda.mem_get_info(device)
    fixed = max(one - per_seed, 0)
    return MemoryPlan(str(device), int(free), int(fixed), int(per_seed),
                      seeds_that_fit(free, fixed, per_seed, headroom, max_seeds), mixed_precision)
