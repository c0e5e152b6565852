"""Static matplotlib figures shared by the command line and the notebooks (no pyplot state, no widgets)."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from .images import enlarge


def _show(ax, image: torch.Tensor, title: str = "", color: str = "black") -> None:
    ax.imshow(image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=8, color=color)
    ax.set_xticks([])
    ax.set_yticks([])


def pulse_figure(result, truth: torch.Tensor | None = None, title: str | None = None, max_seeds: int = 8) -> Figure:
    """Truth or input | solutions (top), input | each solution downscaled (middle), per-seed MSE curves (bottom).

    Every accepted solution downscales to (almost) the same low-res picture, yet they differ: that is
    the point. ``truth`` (3, R, R), when known, is shown for comparison; PULSE never sees it.
    """
    s = min(len(result.seeds), max_seeds)
    cols = s + 1
    fig = Figure(figsize=(1.5 * cols, 5.4), layout="constrained")
    grid = fig.add_gridspec(3, cols, height_ratios=[1, 1, 1.1])
    big = result.images.shape[-1]
    target = enlarge(result.target, big)
    if truth is None:
        _show(fig.add_subplot(grid[0, 0]), target, f"input {result.target.shape[-1]}px")
    else:
        _show(fig.add_subplot(grid[0, 0]), truth, "truth (unseen)")
    _show(fig.add_subplot(grid[1, 0]), target, f"input {result.target.shape[-1]}px")
    for i in range(s):
        ok = bool(result.accepted[i])
        color = "tab:green" if ok else "tab:red"
        _show(fig.add_subplot(grid[0, i + 1]), result.images[i], f"seed {result.seeds[i]}", color)
        _show(fig.add_subplot(grid[1, i + 1]), enlarge(result.downscaled[i], big),
              f"MSE {float(result.l2[i]):.1e}" + ("" if ok else " ✗"), color)
    ax = fig.add_subplot(grid[2, :])
    l2 = result.history["l2"].numpy()  # (T, S)
    ax.semilogy(np.arange(1, len(l2) + 1), l2[:, :s], lw=1)
    ax.axhline(result.config.eps, color="black", ls="--", lw=1, label=f"eps = {result.config.eps:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("downscaling MSE")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title or f"PULSE x{result.factor}: {result.num_accepted}/{len(result.seeds)} seeds within eps "
                 "(green) - each one imagined, none recovered", fontsize=9)
    return fig
