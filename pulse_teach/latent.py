"""The Gaussianised W space: the coordinates in which PULSE searches.

StyleGAN's mapping network turns Gaussian z into w, whose distribution is far from Gaussian. PULSE
undoes the mapping's last LeakyReLU(0.2) (LeakyReLU with slope 5 is its exact inverse), fits one mean
and one std per dimension to the result, and then searches over v with

    w = LeakyReLU_0.2(v * std + mean),

so that v is roughly N(0, I) and the sphere of radius sqrt(d) is a sensible place to look. For
StyleGAN2 the last layer is LeakyReLU(0.2) * sqrt(2); positive scaling commutes with LeakyReLU, so the
same recipe holds (the fit absorbs the sqrt(2)).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .storage import atomic_path, cache_dir

NEGATIVE_SLOPE = 0.2
_memory_cache: dict[str, "GaussianFit"] = {}


@dataclass
class GaussianFit:
    """Per-dimension mean and std of the mapping output with its last LeakyReLU undone."""

    mean: torch.Tensor  # (w_dim,)
    std: torch.Tensor  # (w_dim,)
    num_samples: int

    def to_w(self, v: torch.Tensor) -> torch.Tensor:
        """Search coordinates v (..., w_dim) -> style vectors w (..., w_dim)."""
        return F.leaky_relu(v * self.std.to(v) + self.mean.to(v), NEGATIVE_SLOPE)

    def from_w(self, w: torch.Tensor) -> torch.Tensor:
        """Style vectors w -> search coordinates v (the exact inverse of ``to_w``)."""
        return (F.leaky_relu(w, 1 / NEGATIVE_SLOPE) - self.mean.to(w)) / self.std.to(w)


def mapping_fingerprint(generator: torch.nn.Module) -> str:
    """SHA-256 of the mapping network's weights: the key under which its fit is cached."""
    digest = hashlib.sha256()
    for name, tensor in generator.mapping.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _cache_key(generator: torch.nn.Module, num_samples: int, seed: int) -> str:
    return f"{mapping_fingerprint(generator)[:20]}-n{num_samples}-s{seed}"


def fit_to_dict(fit: GaussianFit, seed: int = 0) -> dict:
    """A fit as plain JSON-like data, to ship inside a model file (see ``adopt_fit``)."""
    return {"mean": fit.mean.tolist(), "std": fit.std.tolist(), "num_samples": fit.num_samples, "seed": seed}


def adopt_fit(generator: torch.nn.Module, data: dict) -> GaussianFit:
    """Take a fit shipped with ``generator`` (``fit_to_dict`` data) as its cached fit: no fitting at first use.

    Raises ValueError if the vectors do not have the generator's w_dim.
    """
    mean, std = torch.tensor(data["mean"], dtype=torch.float32), torch.tensor(data["std"], dtype=torch.float32)
    if mean.shape != (generator.w_dim,) or std.shape != (generator.w_dim,):
        raise ValueError(f"the shipped Gaussian fit has {tuple(mean.shape)} values, the generator's w_dim is "
                         f"{generator.w_dim}")
    fit = GaussianFit(mean, std, int(data["num_samples"]))
    _memory_cache[_cache_key(generator, fit.num_samples, int(data.get("seed", 0)))] = fit
    return fit


@torch.no_grad()
def fit_gaussian(
    generator: torch.nn.Module,
    num_samples: int = 1_000_000,
    chunk_size: int = 16_384,
    seed: int = 0,
    cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> GaussianFit:
    """Fit the Gaussianised W space of ``generator`` from ``num_samples`` z ~ N(0, I), in chunks.

    Chunks keep memory flat (the official code maps 10^6 z in one batch and runs out of GPU memory).
    With ``cache`` the fit is kept in memory and on disk under ``cache_dir()/gaussian_fit``, keyed by
    a hash of the mapping weights, so each generator is fitted once. ``progress(done, total)`` is
    called after each chunk.

    Raises ValueError for fewer than 2 samples.
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2, got {num_samples}")
    key = _cache_key(generator, num_samples, seed)
    path = cache_dir() / "gaussian_fit" / f"{key}.pt"
    if cache and key in _memory_cache:
        return _memory_cache[key]
    if cache and path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        fit = GaussianFit(saved["mean"], saved["std"], int(saved["num_samples"]))
        _memory_cache[key] = fit
        return fit

    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    total = torch.zeros(generator.w_dim, dtype=torch.float64)
    total_sq = torch.zeros(generator.w_dim, dtype=torch.float64)
    done = 0
    while done < num_samples:
        n = min(chunk_size, num_samples - done)
        z = torch.randn(n, generator.z_dim, generator=rng).to(device)  # (n, z_dim), drawn on CPU for reproducibility
        w = generator.mapping(z)[:, 0]  # (n, w_dim)
        u = F.leaky_relu(w, 1 / NEGATIVE_SLOPE).double().cpu()
        total += u.sum(0)
        total_sq += u.pow(2).sum(0)
        done += n
        if progress is not None:
            progress(done, num_samples)
    mean = total / num_samples
    var = (total_sq - num_samples * mean.pow(2)) / (num_samples - 1)  # unbiased, as torch.std
    fit = GaussianFit(mean.float(), var.clamp_min(0).sqrt().float(), num_samples)

    if cache:
        _memory_cache[key] = fit
        with atomic_path(path) as tmp:
            torch.save({"mean": fit.mean, "std": fit.std, "num_samples": num_samples}, tmp)
    return fit
