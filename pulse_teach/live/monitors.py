"""Monitors: callbacks that follow a running PULSE search or GAN training and draw it on a LivePanel.

The library reports progress through callbacks (``upsample(callbacks=...)``, ``Trainer.run(callback=...)``);
a monitor keeps what it needs (curves, the latest images) and asks its panel for a redraw, which the
panel throttles. Stop = the kernel's interrupt, caught: the search returns the best so far and
training saves a checkpoint (or a ui-poll Stop button, see ``context``).

    result = live_upsample(load_generator("faces64"), load_sample("face0").low_res[8], PulseConfig())
    reason = live_train(Trainer(TrainConfig(...), "runs/tiny"))
"""
from __future__ import annotations

import html
import time

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image as PILImage

from ..figures import pulse_figure
from ..images import GRID_PAD, enlarge, to_display
from ..pulse import PulseConfig, PulseResult, PulseStep, lr_multiplier, missed_eps_advice, upsample
from ..train import SAMPLE_GRID
from .context import STOP_HINT, stop_requested
from .panel import LivePanel, show_figure

_HEAT = matplotlib.colormaps["magma"]  # |difference| -> colour, black = none


class PulseMonitor:
    """An ``upsample`` callback that keeps the curves and the latest images and draws them on a LivePanel."""

    def __init__(self, panel: LivePanel, config: PulseConfig | None = None, truth: torch.Tensor | None = None,
                 max_seeds: int = 8):
        self.panel, self.config, self.truth, self.max_seeds = panel, config, truth, max_seeds
        self.started, self.last, self.images, self.downscaled = time.perf_counter(), None, None, None
        self.history: dict[str, list] = {"step": [], "lr": [], "l2": [], "total": []}

    def __call__(self, event: PulseStep) -> None:
        if self.last is not None and event.attempt != self.last.attempt:  # a restart: fresh curves
            self.history = {k: [] for k in self.history}
            self.images = self.downscaled = None
        self.last = event
        for key, value in (("step", event.step), ("lr", event.lr), ("l2", event.l2.numpy()),
                           ("total", event.total.numpy())):
            self.history[key].append(value)
        if event.images is not None:
            self.images, self.downscaled = event.images, event.downscaled
        if stop_requested():
            raise KeyboardInterrupt("Stop button")  # upsample catches it and returns the best so far
        self.panel.update(self.status(), self.figure)

    def status(self, result: PulseResult | None = None) -> str:
        e = self.last
        if result is not None:
            note = " (interrupted: best so far)" if result.interrupted else ""
            advice = missed_eps_advice(result)  # no seed reached eps: which knobs help, and their cost
            return (f"done{note}: {result.steps_run} steps, {result.num_accepted}/{len(result.seeds)} seeds accepted "
                    f"(MSE &le; eps {result.config.eps:g}), {result.wall_time:.1f} s"
                    + (f" &middot; {html.escape(advice)}" if advice else ""))
        if e is None:
            return "starting ..."
        restart = f"restart {e.attempt} &middot; " if e.attempt else ""
        return (f"{restart}step {e.step + 1}/{e.steps} &middot; lr {e.lr:.3g} &middot; seeds accepted "
                f"{int(e.accepted.sum())}/{len(e.seeds)} &middot; best MSE {float(e.best_l2.min()):.2e} &middot; "
                f"{time.perf_counter() - self.started:.1f} s &middot; {STOP_HINT}")

    def strip(self) -> tuple[np.ndarray, int]:
        """(H, W, 3) picture: input and truth, then per seed the image now, its downscale, |difference|; and the cell size."""
        e, pad = self.last, 4
        s = min(len(e.seeds), self.max_seeds)
        big = min(self.images.shape[-1], 128) if self.images is not None else 64  # FFHQ's 1024 px shown at 128
        cell = big + pad
        canvas = np.ones((3 * cell + pad, (s + 1) * cell + pad, 3), dtype=np.float32)

        def put(row: int, col: int, image: torch.Tensor) -> None:  # image (3, n, n) with n >= big
            if image.shape[-1] != big:
                image = torch.nn.functional.interpolate(image[None], size=(big, big), mode="area")[0]
            top, left = pad + row * cell, pad + col * cell
            canvas[top:top + big, left:left + big] = to_display(image)

        put(0, 0, enlarge(e.target, big))
        if self.truth is not None:
            put(1, 0, self.truth.cpu())
        if self.images is not None:
            for i in range(s):
                put(0, i + 1, self.images[i])
                put(1, i + 1, enlarge(self.downscaled[i], big))
                difference = (self.downscaled[i] - e.target).abs().mean(0) / 0.25  # (h, w); 1 = 0.25 off
                heat = _HEAT(enlarge(difference[None, None], big)[0, 0].clamp(0, 1).numpy())[..., :3]  # (big, big, 3)
                put(2, i + 1, torch.from_numpy(heat).permute(2, 0, 1).float())
        return canvas, cell

    def figure(self) -> Figure:
        """Input | current images per seed, their downscales, |difference| to the input; curves below.

        The pictures are one composed image (one axes) so that a redraw stays cheap.
        """
        e = self.last
        s = min(len(e.seeds), self.max_seeds)
        fig = Figure(figsize=(max(1.15 * (s + 1), 7.5), 6.3))
        grid = fig.add_gridspec(2, 3, height_ratios=[3.2, 1.2], left=0.1, right=0.99, top=0.91, bottom=0.08,
                                hspace=0.12, wspace=0.3)
        ax = fig.add_subplot(grid[0, :])
        canvas, cell = self.strip()
        ax.imshow(canvas, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([cell * (r + 0.5) for r in range(3)], ["now", "shrunk", "|diff|"], fontsize=10)
        ax.tick_params(axis="y", length=0)  # row names, not a scale
        labels = [f"input {e.target.shape[-1]}px"] + [
            f"seed {e.seeds[i]} " + ("\u2713" if e.accepted[i] else "\u2717") for i in range(s)]
        for col, label in enumerate(labels):  # seed labels in their curve's colour
            ax.text(cell * (col + 0.5), -2, label, ha="center", va="bottom", fontsize=10,
                    color=f"C{(col - 1) % 10}" if col else "black")
        if self.truth is not None:
            ax.text(cell * 0.5, cell * 2 + 2, "\u2191 truth\n(unseen)", ha="center", va="top", fontsize=10)
        for spine in ax.spines.values():
            spine.set_visible(False)
        steps = np.asarray(self.history["step"]) + 1
        ax = fig.add_subplot(grid[1, 0])
        ax.semilogy(steps, np.stack(self.history["l2"])[:, :s], lw=1)
        eps = self.config.eps if self.config is not None else None
        if eps:
            ax.axhline(eps, color="black", ls="--", lw=1, label=f"eps {eps:g}")
            ax.legend(fontsize=9, loc="upper right")
        ax.set_title("downscaling MSE per seed", fontsize=10)
        ax = fig.add_subplot(grid[1, 1])
        ax.semilogy(steps, np.stack(self.history["total"])[:, :s], lw=1)
        ax.set_title("loss optimised (weighted sum)", fontsize=10)
        ax = fig.add_subplot(grid[1, 2])
        if self.config is not None:
            full = [self.config.learning_rate * lr_multiplier(self.config.lr_schedule, t, e.steps) for t in range(e.steps)]
            ax.plot(np.arange(1, e.steps + 1), full, color="0.75", lw=1)
        ax.plot(steps, self.history["lr"], color="black", lw=1.5)
        ax.set_title(f"learning rate ({self.config.lr_schedule if self.config else 'schedule'})", fontsize=10)
        for ax in fig.axes[1:]:
            ax.tick_params(which="both", labelsize=9)  # log axes label minor ticks too
            ax.set_xlabel("step", fontsize=10)
        fig.suptitle("PULSE searching: one column per seed\na seed is accepted (\u2713) once its downscale "
                     "is within eps of the input", fontsize=11)
        return fig

    def finish(self, result: PulseResult) -> None:
        """One last redraw, whatever the throttle says."""
        self.panel.update(self.status(result), self.figure if self.last is not None else None, force=True)


def live_upsample(generator: torch.nn.Module, low_res, config: PulseConfig | None = None, *,
                  truth: torch.Tensor | None = None, seeds=None, device: str | None = None, period: float = 0.25,
                  final_figure: bool = True, max_seeds: int = 8) -> PulseResult:
    """``upsample`` with a live panel; the kernel's interrupt stops it and the best so far is returned.

    It runs where the generator is (load it with ``load_generator(name, device=...)``); ``device``, if
    given, is only checked (ValueError if the generator is elsewhere). With ``final_figure`` the result figure (truth,
    when given, next to the solutions and their downscales) is left below the panel.
    """
    config = config or PulseConfig()
    panel = LivePanel(period).show()
    monitor = PulseMonitor(panel, config, truth, max_seeds)
    result = upsample(generator, low_res, config, seeds=seeds, callbacks=monitor, device=device)
    monitor.finish(result)
    if final_figure:
        show_figure(pulse_figure(result, truth=truth, max_seeds=max_seeds), as_widget=panel.use_widgets)
    return result


class TrainMonitor:
    """A ``Trainer.run`` callback: loss curves and the latest sample grid on a LivePanel.

    With ``max_steps`` (the run's step budget) the status line says "step k of n" and, once a few steps
    have timed this machine, about how long is left.
    """

    def __init__(self, panel: LivePanel, max_steps: int | None = None):
        self.panel, self.max_steps = panel, max_steps
        self.events, self.grid, self.grid_title, self.last, self.first = [], None, "", None, None

    def __call__(self, event) -> None:
        if event.kind == "step":
            self.events.append((event.step, dict(event.losses)))
            self.first = self.first or (event.step, event.elapsed)  # where this session's timing starts
        elif event.kind == "sample" and event.path is not None:
            with PILImage.open(event.path) as grid:  # decoded once per grid, not once per redraw
                whole = np.asarray(grid.convert("RGB"))
            self.grid = self._top_left(whole)
            part = "G_ema samples" if self.grid.shape == whole.shape else f"16 of G_ema's {SAMPLE_GRID**2} samples"
            self.grid_title = f"{part} ({event.path.stem})"
        self.last = event
        if stop_requested():
            raise KeyboardInterrupt("Stop button")  # the trainer catches it and saves a checkpoint
        self.panel.update(self.status(), self.figure, force=event.kind == "sample")

    @staticmethod
    def _top_left(grid: np.ndarray) -> np.ndarray:
        """The first 4 x 4 faces of the trainer's sample grid (H, W, 3), big enough to see; another picture whole."""
        tile = (grid.shape[1] - GRID_PAD) // SAMPLE_GRID  # one face and its border
        if grid.shape[1] != GRID_PAD + SAMPLE_GRID * tile:  # not a grid the trainer wrote
            return grid
        side = GRID_PAD + 4 * tile
        return grid[:side, :side]

    def time_left(self) -> float | None:
        """Seconds until max_steps at this session's pace so far; None without a budget or before 3 timed steps."""
        e, first = self.last, self.first
        if self.max_steps is None or first is None or e.step - first[0] < 3:
            return None
        return (self.max_steps - e.step) * (e.elapsed - first[1]) / (e.step - first[0])

    def status(self, reason: str | None = None) -> str:
        e = self.last
        losses = " &middot; ".join(f"{k} {v:.3f}" for k, v in e.losses.items() if k in ("G", "D"))
        head = f"done ({reason})" if reason else "training"
        step = f"step {e.step}" + (f" of {self.max_steps}" if self.max_steps else "")
        left = None if reason else self.time_left()
        pace = "" if left is None else f" &middot; about {left:.0f} s left"
        return (f"{head}: {step} &middot; {e.kimg:.1f} kimg &middot; {e.elapsed:.0f} s{pace} &middot; {losses}"
                + ("" if reason else f" &middot; {STOP_HINT} (saves a checkpoint)"))

    def figure(self) -> Figure:
        fig = Figure(figsize=(9, 3.4), layout="constrained")
        ax_loss, ax_logit, ax_grid = fig.subplots(1, 3, width_ratios=[1, 1, 1.1])
        ax_loss.set_title("losses (softplus)", fontsize=10)
        ax_logit.set_title("D's mean logit on reals / fakes", fontsize=10)
        for ax in (ax_loss, ax_logit):
            ax.set_xlabel("step", fontsize=9)
        if self.events:
            steps = np.array([s for s, _ in self.events])
            for key, ax in (("G", ax_loss), ("D", ax_loss), ("D_real", ax_logit), ("D_fake", ax_logit)):
                values = np.array([losses.get(key, np.nan) for _, losses in self.events])
                ax.plot(steps, values, lw=1, label=key)
            for ax in (ax_loss, ax_logit):
                ax.legend(fontsize=9)
        else:  # before the first step: say so rather than show empty axes
            for ax in (ax_loss, ax_logit):
                ax.text(0.5, 0.5, "waiting for the first step", ha="center", va="center", transform=ax.transAxes)
                ax.set(xticks=[], yticks=[])
        ax_grid.axis("off")
        if self.grid is not None:
            ax_grid.imshow(self.grid)
            ax_grid.set_title(self.grid_title, fontsize=10)
        return fig


def live_train(trainer, period: float = 0.5) -> str:
    """``trainer.run`` with a live panel; the kernel's interrupt stops it after the current step."""
    panel = LivePanel(period).show()
    monitor = TrainMonitor(panel, trainer.config.max_steps)
    reason = trainer.run(callback=monitor)
    if monitor.last is not None:
        panel.update(monitor.status(reason), monitor.figure, force=True)
    return reason
