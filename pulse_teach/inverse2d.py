"""PULSE's inverse problem in two dimensions, small enough to see whole (lesson 02, section 3.1).

"Downscaling" here keeps a point's x coordinate and throws y away: ``observe`` maps the plane to a
line. Every point on the vertical line x = x0 is consistent with the observation x0, just as every
face in a null-space family shrinks to the same 8x8 image. Three answers to "which point was it?":

- the **posterior** of the data along that line (``posterior_samples``): where the data actually
  crosses it, e.g. the top and bottom blobs of the ring for x0 = 0;
- its **mean** (``posterior_mean``), the answer with the smallest expected squared error, and what a
  network trained on a pixel loss returns: for the ring it lies *between* the blobs, on no data at all
  (the blur of lesson 02, section 3);
- **PULSE-style solutions** (``search_latent``): search a trained 2-D generator's latent z until
  G(z) is consistent with x0. Each lands on the data (where G learned to put points), on the line;
  different starts find different blobs.

    lab = Gan2D(Gan2DConfig(data="ring")); lab.run(1500)
    solutions, accepted = search_latent(lab, x0=0.0, seeds=12)   # (12, 2) points, (12,) within eps
    inverse_figure(lab, 0.0, solutions, accepted)                # a matplotlib Figure
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .gan2d import EXTENT, Gan2D, sample_data

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def observe(points: torch.Tensor) -> torch.Tensor:
    """The 2-D "downscaler": (N, 2) points -> (N,) x coordinates. y is lost, as fine detail is at 8x8."""
    return points[:, 0]


def posterior_samples(lab: Gan2D, x0: float, tolerance: float = 0.05, n: int = 200_000) -> torch.Tensor:
    """Data points (from ``n`` fresh draws of the lab's distribution) whose observation is within
    ``tolerance`` of x0: (M, 2), a sample of the posterior along the line. M may be 0 where no data
    crosses the line."""
    data = sample_data(lab.config, n, torch.Generator().manual_seed(lab.config.seed + 7))  # (n, 2)
    return data[(observe(data) - x0).abs() <= tolerance]


def posterior_mean(lab: Gan2D, x0: float, tolerance: float = 0.05) -> torch.Tensor:
    """(2,) mean of ``posterior_samples``: the minimum-squared-error answer. Raises ValueError where no
    data crosses the line (no answer is consistent with the data)."""
    samples = posterior_samples(lab, x0, tolerance)
    if not len(samples):
        raise ValueError(f"no data crosses the line x = {x0:g} (within {tolerance:g}): nothing to average")
    return samples.mean(0)


def search_latent(lab: Gan2D, x0: float, seeds: int = 12, steps: int = 300, lr: float = 0.05,
                  prior: float = 0.01, eps: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """PULSE in miniature: from ``seeds`` random latents z ~ N(0, I), Adam on
    (observe(G(z)) - x0)^2 + prior * |z|^2 / 2 (the Gaussian prior keeps z where G was trained, the job
    of PULSE's sphere). Returns the solutions G(z), (seeds, 2), and which are accepted, (seeds,) bool:
    within ``eps`` of x0. A seed can stall on a blob beside the line, as PULSE seeds stall above eps.
    G's weights are not changed."""
    z = torch.randn(seeds, lab.config.noise_dim, generator=torch.Generator().manual_seed(lab.config.seed + 11))
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        loss = (observe(lab.G(z)) - x0).square().sum() + prior * z.square().sum() / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        solutions = lab.G(z)  # (seeds, 2)
    return solutions, (observe(solutions) - x0).abs() <= eps


def inverse_figure(lab: Gan2D, x0: float, solutions: torch.Tensor, accepted: torch.Tensor,
                   tolerance: float = 0.05) -> Figure:
    """The data and G's samples; the line of points consistent with x0; the posterior along it (right:
    its density over y) and its mean; the (S, 2) ``solutions`` of ``search_latent``, accepted (S,) ones
    as green rings, the others as red crosses."""
    from matplotlib.figure import Figure

    data, fake = lab.real(600), lab.samples(600)  # (600, 2) each
    posterior = posterior_samples(lab, x0, tolerance)  # (M, 2)
    found, stalled = solutions[accepted], solutions[~accepted]
    fig = Figure(figsize=(9.5, 4.3), layout="constrained")
    ax, ax_y = fig.subplots(1, 2, width_ratios=[1.25, 1])
    ax.scatter(data[:, 0], data[:, 1], s=3, c="black", label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=5, c="tab:grey", alpha=0.35, label="G's samples")
    ax.axvline(x0, color="tab:blue", lw=1.5, label=f"every point with x = {x0:g}")
    if len(posterior):
        mean = posterior.mean(0)
        ax.scatter(*mean, marker="*", s=260, c="tab:red", edgecolors="black", zorder=4,
                   label="posterior mean (least squared error)")
        ax_y.hist(posterior[:, 1].numpy(), bins=40, range=(-EXTENT, EXTENT), orientation="horizontal",
                  color="tab:blue", alpha=0.6, density=True)
        ax_y.axhline(float(mean[1]), color="tab:red", lw=2)
    ring = dict(marker="o", s=60, facecolors="none", edgecolors="tab:green", linewidths=2, zorder=5)
    ax.scatter(found[:, 0], found[:, 1], label=f"searched in G's latent: {len(found)} within eps", **ring)
    ax.scatter(stalled[:, 0], stalled[:, 1], marker="x", s=50, c="tab:red", zorder=5,
               label=f"searched, ended off the line (rejected): {len(stalled)}")
    ax_y.scatter([0.06] * len(found), found[:, 1], transform=ax_y.get_yaxis_transform(), **ring)
    ax.set(xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal", xlabel="x (observed)",
           ylabel="y (lost)", title="the plane: one observation, a line of answers")
    ax_y.set(ylim=(-EXTENT, EXTENT), xlabel="density of the data on the line", ylabel="y along the line",
             title=f"along the line x = {x0:g}")
    ax_y.legend(*ax.get_legend_handles_labels(), loc="center right", bbox_to_anchor=(1, 0.68), fontsize=7,
                framealpha=0.9)  # in the gap between the upper blob and the mean's line
    return fig
