"""Latent spheres: where PULSE searches, and the GEOCROSS regulariser that ties the latents together.

A d-dimensional standard Gaussian puts almost all its mass near the sphere of radius sqrt(d), so
PULSE searches *on* that sphere rather than in all of R^d: after every optimiser step each latent
vector is projected back onto it (projected gradient descent). The paper states radius sqrt(d); the
official code keeps each vector's random initial norm instead, offered here as ``radius="initial"``.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

_STABILISER = 1e-9  # inside every square root, as in the official code


def _sphere_dims(x: torch.Tensor, start_dim: int) -> tuple[int, ...]:
    if not 0 <= start_dim < x.ndim:
        raise ValueError(f"start_dim must be in [0, {x.ndim}) for a tensor of shape {tuple(x.shape)}, got {start_dim}")
    return tuple(range(start_dim, x.ndim))


def sphere_norm(x: torch.Tensor, start_dim: int = 1) -> torch.Tensor:
    """Norm of each vector made of the dims from ``start_dim`` on, kept broadcastable to ``x``."""
    dims = _sphere_dims(x, start_dim)
    return (x.pow(2).sum(dim=dims, keepdim=True) + _STABILISER).sqrt()


def default_radius(x: torch.Tensor, start_dim: int = 1) -> float:
    """sqrt(d), d the number of entries of each projected vector: the typical norm of N(0, I_d)."""
    return math.sqrt(math.prod(x.shape[start_dim:]))


def project_to_sphere(x: torch.Tensor, radius: float | torch.Tensor | None = None, start_dim: int = 1) -> torch.Tensor:
    """Rescale each vector (dims ``start_dim:``) of ``x`` to length ``radius`` (default sqrt(d)).

    ``radius`` may be a tensor broadcastable to ``x`` (one radius per vector), as the official code uses.
    """
    if radius is None:
        radius = default_radius(x, start_dim)
    return x / sphere_norm(x, start_dim) * radius


def geodesic_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle in radians between the directions of ``a`` and ``b`` along the last dim (great-circle distance on the unit sphere)."""
    a = a / sphere_norm(a, a.ndim - 1)
    b = b / sphere_norm(b, b.ndim - 1)
    return 2 * torch.atan2((a - b).norm(dim=-1), (a + b).norm(dim=-1))


def geocross(ws: torch.Tensor) -> torch.Tensor:
    """PULSE's GEOCROSS per sample: d/8 * mean over all L*L ordered pairs of theta_ij^2.

    ws: (N, L, d) -> (N,). theta_ij = 2*atan2(|w_i - w_j|, |w_i + w_j|), the angle between w_i and w_j
    when their norms are equal. The official code uses d = 512 (so d/8 = 64), includes the diagonal
    pairs (theta_ii ~ 0) and sums over the batch; here each sample gets its own value. It pulls the L
    style vectors of one image towards a single w, i.e. towards images the generator makes naturally.

    Raises ValueError for ws that are not (N, L, d).
    """
    if ws.ndim != 3:
        raise ValueError(f"geocross expects ws shaped (N, L, d), got {tuple(ws.shape)}")
    n, num_layers, d = ws.shape
    diff = ws[:, :, None, :] - ws[:, None, :, :]  # (N, L, L, d)
    summ = ws[:, :, None, :] + ws[:, None, :, :]  # (N, L, L, d)
    diff_norm = (diff.pow(2).sum(-1) + _STABILISER).sqrt()  # (N, L, L)
    summ_norm = (summ.pow(2).sum(-1) + _STABILISER).sqrt()
    theta = 2 * torch.atan2(diff_norm, summ_norm)  # (N, L, L)
    return d / 8 * theta.pow(2).mean(dim=(1, 2))


class SphericalOptimizer:
    """Wrap any torch optimiser so that every step ends with each parameter back on its spheres.

    Each parameter of shape (N, L, ...) holds N*L vectors made of the dims from ``start_dim`` (2) on:
    a latent (N, L, d) gives one d-vector per sample and layer, a noise map (N, 1, r, r) one r*r-vector
    per sample. ``radius="sqrt_d"`` (the paper) projects to sqrt(d) now and after every step;
    ``radius="initial"`` (the official code) keeps each vector's norm at construction time.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, radius: str = "sqrt_d", start_dim: int = 2):
        if radius not in ("sqrt_d", "initial"):
            raise ValueError(f"radius must be 'sqrt_d' or 'initial', got {radius!r}")
        self.optimizer = optimizer
        self.start_dim = start_dim
        with torch.no_grad():
            self.radii = {}
            for p in self.params:
                self.radii[p] = sphere_norm(p, start_dim) if radius == "initial" else default_radius(p, start_dim)
            self.project()

    @property
    def params(self) -> Iterable[torch.Tensor]:
        return (p for group in self.optimizer.param_groups for p in group["params"])

    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    @torch.no_grad()
    def project(self) -> None:
        for p in self.params:
            p.copy_(project_to_sphere(p, self.radii[p], self.start_dim))

    def step(self) -> None:
        self.optimizer.step()
        self.project()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)
