"""The perception-distortion plane, built from the face world (lesson 06, section 1).

Blau & Michaeli (CVPR 2018, "The perception-distortion tradeoff"): the estimate with the lowest mean
squared error is the posterior mean E[x | y], an average of every face the input allows, hence blurry;
an estimate that is perfectly realistic (distributed like real faces given y, e.g. a sample of the
posterior) pays exactly twice that error on average. In this world the posterior of an 8x8 input is
known (``recovery.posterior_renders``), so both ends of the trade-off can be measured, not assumed.

For one input, every method gives one or more 64x64 estimates, and each gets two numbers:
- **distortion**: MSE to the true face (pixels in [0, 1]);
- **realism gap**: RMS distance to the nearest of a bank of posterior renders (valid faces with the
  input's coarse attributes), divided by what a fresh posterior render scores (1: as close to some
  valid face as a real one is; a blur sits between faces, far from each).

Methods: ``nearest_up``, ``bicubic_up``, an ``Upsampler`` trained on renders with an MSE loss
(``train_upsampler``, minutes on a CPU), the posterior mean, PULSE's solutions and their mean.

    model, history = train_upsampler(UpsamplerConfig(factor=8))   # history: "mse" and "bicubic" per step
    points = plane_points({"bicubic": bicubic_up(y)[None], ...}, truth, sample.attributes)
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import faces, seed_plan
from .images import check_batch, from_uint8
from .recovery import posterior_renders, posterior_seed, rms_distances
from .samples import low_res_input

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE = 64  # side of the faces, pixels


def nearest_up(low_res: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """(N, 3, h, w) -> (N, 3, size, size): each input pixel copied into a block (the blocky baseline).
    Raises ValueError for another shape (one picture needs ``[None]``)."""
    check_batch("low_res", low_res)
    return F.interpolate(low_res, size=(size, size), mode="nearest")


def bicubic_up(low_res: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """(N, 3, h, w) -> (N, 3, size, size): bicubic interpolation (a = -0.75, torch's), clamped to [0, 1].
    Raises ValueError for another shape (one picture needs ``[None]``)."""
    check_batch("low_res", low_res)
    return F.interpolate(low_res, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


class Upsampler(nn.Module):
    """A small super-resolution network in the style of ESPCN (Shi et al., CVPR 2016): ``layers`` 3x3
    convolutions at the input's resolution, then one convolution to 3 f^2 channels rearranged into f x f
    blocks (pixel shuffle), added to the bicubic upscale. (N, 3, 64/f, 64/f) -> (N, 3, 64, 64).
    Trained with MSE it learns an approximation of the posterior mean (``train_upsampler``)."""

    def __init__(self, factor: int = 8, channels: int = 96, layers: int = 4):
        super().__init__()
        self.factor = factor
        body = [nn.Conv2d(3, channels, 3, padding=1), nn.ReLU()]
        for _ in range(layers - 1):
            body += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*body, nn.Conv2d(channels, 3 * factor * factor, 3, padding=1), nn.PixelShuffle(factor))

    def forward(self, low_res: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(low_res, scale_factor=self.factor, mode="bicubic", align_corners=False)  # (N, 3, R, R)
        return base + self.body(low_res)


@dataclasses.dataclass
class UpsamplerConfig:
    """Training of the MSE upsampler on renders; the defaults take about a minute on a 2-core CPU."""

    factor: int = 8  # 8: 8x8 inputs, 16: 4x4 inputs
    steps: int = 1500  # Adam steps
    batch: int = 32  # faces rendered per step
    learning_rate: float = 2e-3  # Adam, cosine decay to 0
    channels: int = 96  # width of the network
    seed: int = 0  # run seed: weights and the faces it trains on (seed_plan "upsampler training")

    def __post_init__(self):
        for name in ("factor", "steps", "batch", "channels", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.factor < 2 or SIZE % self.factor:
            raise ValueError(f"factor must divide {SIZE} and be >= 2, got {self.factor}")
        if min(self.steps, self.batch, self.channels) < 1:
            raise ValueError(f"steps, batch and channels must be >= 1, got {self.steps}, {self.batch}, {self.channels}")
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a number > 0, got {self.learning_rate!r}")


def training_pairs(batch: int, face_seed: int, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of (inputs (B, 3, 64/f, 64/f) rounded to 8 bits, truths (B, 3, 64, 64)) from ``faces.dataset``."""
    truth = from_uint8(faces.dataset(batch, face_seed)[0])  # (B, 3, 64, 64)
    return low_res_input(truth, factor), truth


def train_upsampler(config: UpsamplerConfig | None = None,
                    callback: Callable[[int, float], object] | None = None) -> tuple[Upsampler, dict[str, list[float]]]:
    """Train an ``Upsampler`` with MSE on freshly rendered faces shrunk by PULSE's downscaler.

    Each step draws ``batch`` new faces (face-world seeds from ``seed_plan``, "upsampler training", so
    never a lesson or benchmark face). callback(step, loss) after every step; a KeyboardInterrupt
    stops training and returns the model so far. Returns the model (eval mode, CPU) and the history:
    "mse" per step, and "bicubic", the MSE of ``bicubic_up`` on the same batch.
    """
    config = config or UpsamplerConfig()
    torch.manual_seed(config.seed)
    model = Upsampler(config.factor, config.channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 0.5 * (1 + math.cos(math.pi * k / config.steps)))
    history = {"mse": [], "bicubic": []}
    try:
        for step, face_seed in enumerate(seed_plan.face_seeds("upsampler training", config.seed, config.steps), start=1):
            low_res, truth = training_pairs(config.batch, face_seed, config.factor)  # (B, 3, h, w), (B, 3, 64, 64)
            loss = F.mse_loss(model(low_res), truth)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            history["mse"].append(loss.item())
            history["bicubic"].append(F.mse_loss(bicubic_up(low_res), truth).item())
            if callback:
                callback(step, history["mse"][-1])
    except KeyboardInterrupt:
        pass
    return model.eval(), history


def training_figure(history: dict[str, list[float]], title: str = "") -> "Figure":
    """``train_upsampler``'s history: the network's MSE per step against bicubic interpolation's on the same batches."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 2.4), layout="constrained")
    ax = fig.subplots()
    steps = range(1, len(history["mse"]) + 1)
    ax.plot(steps, history["bicubic"], lw=0.8, color="tab:orange", label="bicubic interpolation")
    ax.plot(steps, history["mse"], lw=0.8, color="tab:green", label="the network")
    ax.set(xlabel="training step (a batch of new faces each)", ylabel="MSE to the true faces", yscale="log", title=title)
    ax.legend(fontsize=8)
    return fig


def posterior_mean(truth_attributes: dict, n: int, seed: int) -> torch.Tensor:
    """(3, 64, 64): the mean of ``n`` renders of the faces the truth's 8x8 input allows (coarse attributes
    kept, fine ones drawn afresh, face-world seed ``seed``): the minimum-MSE estimate of this world, up to
    a sampling error ~ 1/sqrt(n). Use a seed other than ``plane_points``' bank (``posterior_seed(index)``).
    Raises ValueError for n < 1."""
    if n < 1:
        raise ValueError(f"the mean needs n >= 1 renders, got {n}")
    return posterior_renders(truth_attributes, n, seed).mean(0)


def plane_points(estimates: dict[str, torch.Tensor], truth: torch.Tensor, truth_attributes: dict,
                 bank: int = 300, index: int = 0) -> dict[str, dict[str, float]]:
    """Each method's place on the perception-distortion plane, for one input.

    estimates: method -> (M, 3, 64, 64) in [0, 1] (M >= 1; e.g. all of PULSE's accepted solutions);
    truth: (3, 64, 64). The bank of ``bank`` posterior renders and 32 fresh ones come from
    ``recovery.posterior_seed(index)``. Per method: ``mse`` (mean over its M estimates, to the truth),
    ``realism_gap`` (mean over M of the RMS distance to the nearest bank render, / the fresh renders'
    mean; means, not medians: a fresh render can coincide with a bank render, the fine attributes being
    few), ``count`` (M). Raises ValueError for a truth that is not one (3, 64, 64) image, attributes
    without the coarse ones, bank < 2, or an estimate that is empty or not (M, 3, 64, 64) floats.
    """
    if not isinstance(truth, torch.Tensor) or tuple(truth.shape) != (3, SIZE, SIZE) or not truth.is_floating_point():
        got = f"{truth.dtype} {tuple(truth.shape)}" if isinstance(truth, torch.Tensor) else type(truth).__name__
        raise ValueError(f"truth must be one (3, {SIZE}, {SIZE}) float image in [0, 1], got {got}")
    missing = [name for name in faces.COARSE if name not in truth_attributes]
    if missing or bank < 2:
        raise ValueError(f"need the truth's coarse attributes and bank >= 2, got no {missing} and bank {bank}")
    for name, images in estimates.items():
        check_batch(f"estimates[{name!r}]", images, (3, SIZE, SIZE))
        if not len(images):
            raise ValueError(f"estimates[{name!r}] is empty")
    seed = posterior_seed(index)
    reference = posterior_renders(truth_attributes, bank, seed)  # (P, 3, 64, 64)
    fresh = posterior_renders(truth_attributes, 32, seed + 1)  # (32, 3, 64, 64)
    unit = float(rms_distances(fresh, reference).min(1).values.mean())
    out = {}
    for name, images in estimates.items():
        images = images.detach().float().cpu().clamp(0, 1)
        out[name] = {"mse": float((images - truth).square().mean()), "count": len(images),
                     "realism_gap": float(rms_distances(images, reference).min(1).values.mean()) / unit}
    return out


def average_points(points: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Mean of ``plane_points`` over several inputs, per method (methods missing from an input are skipped)."""
    names = list(dict.fromkeys(name for p in points for name in p))
    return {name: {key: float(np.mean([p[name][key] for p in points if name in p])) for key in ("mse", "realism_gap")}
            for name in names}


MARKERS = {"nearest": "s", "bicubic": "D", "MSE network": "^", "posterior mean": "o", "PULSE mean": "v",
           "PULSE": "*", "a posterior sample": "P", "truth": "X"}  # the methods of lesson 06, in its order


def plane_figure(panels: dict[str, dict[str, dict[str, float]]]) -> "Figure":
    """One panel per title (e.g. "x8: 8x8 inputs") of ``plane_points``/``average_points`` results: distortion
    (MSE to the truth) against the realism gap, one marker per method, legend on the right; dotted lines
    at the posterior mean's MSE, at twice it (Blau & Michaeli's bound for a perfect sampler), and at gap 1.
    Raises ValueError for no panels."""
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("no panels to draw")

    fig = Figure(figsize=(4.2 * len(panels) + 1.8, 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, points) in zip(axes, panels.items()):
        for k, (name, p) in enumerate(points.items()):
            ax.scatter(p["mse"], p["realism_gap"], s=70 if name == "PULSE" else 45, marker=MARKERS.get(name, "o"),
                       color=f"C{k}", label=name, zorder=3)
        if "posterior mean" in points:
            mmse = points["posterior mean"]["mse"]
            for x, label in ((mmse, "least MSE"), (2 * mmse, "2x least")):
                ax.axvline(x, color="0.6", ls=":", lw=1)
                ax.annotate(label, (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -4),
                            textcoords="offset points", fontsize=9, color="0.35", rotation=90, va="top")
        ax.axhline(1, color="0.6", ls=":", lw=1)
        ax.margins(0.08)  # no marker on the frame: the truth sits at MSE 0
        ax.set(xlabel="distortion: MSE to the true face", title=title)
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("realism gap: distance to the nearest\nvalid face / a real face's (1 = real)")
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9, frameon=False)
    return fig


def methods_figure(rows: list[dict[str, torch.Tensor]], row_names: list[str]) -> "Figure":
    """A grid of faces: one row per input (``row_names``), one column per method (the keys of each row,
    the first image of each (M, 3, 64, 64) estimate), titled with the method. Raises ValueError for no rows
    or a name count that differs from the row count."""
    from matplotlib.figure import Figure

    if not rows or len(rows) != len(row_names):
        raise ValueError(f"need one name per row and at least one row, got {len(rows)} rows and {len(row_names)} names")

    from .figures import picture

    names = list(rows[0])
    fig = Figure(figsize=(1.15 * len(names), 1.25 * len(rows) + 0.2), layout="constrained")
    axes = fig.subplots(len(rows), len(names), squeeze=False)
    for r, (row, row_name) in enumerate(zip(rows, row_names)):
        for c, name in enumerate(names):
            picture(axes[r, c], row[name][0].clamp(0, 1), name if r == 0 else "", ylabel=row_name if c == 0 else "")
    return fig
