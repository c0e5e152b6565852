"""A GAN you can watch: two small MLPs playing the GAN game on points in the plane (a GAN Lab in PyTorch).

Everything a lesson draws is computed here, without any UI: the data and generated points, the
discriminator's decision surface on a grid, and the generator's gradient arrows (the direction in
which the generator loss pushes each generated point). The notebook adds buttons and plots.

    lab = Gan2D(Gan2DConfig(data="ring"))
    lab.step_d(); lab.step_g()             # one move of each player, by hand
    lab.run(1500, callback=redraw)         # rounds of d_steps D updates then g_steps G updates
    lab.history["loss_d"][-1], lab.coverage(), lab.distance()
    draw(lab)                              # a matplotlib Figure: surface, points, arrows, curves

Nothing in G's loss asks for variety, so G can pile all its points into one clump and move the clump
whenever D catches up: mode collapse. ``SETTINGS["mode_collapse"]`` is a setting where that happens
reliably.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PRESETS = ("ring", "grid", "line", "two_moons", "points")
LOSSES = ("nonsaturating", "minimax", "least_squares")
OPTIMIZERS = ("adam", "sgd")
EXTENT = 2.0  # the plane shown and gridded: [-EXTENT, EXTENT]^2; every preset lies well inside it


@dataclass
class Gan2DConfig:
    """One playground run. Defaults learn the ring in 1,000-1,500 rounds (6-8 of 8 modes, seeds 0-6; ~3 ms a round)."""

    data: str = "ring"  # ring (8 blobs on a circle) | grid (5x5 blobs) | line | two_moons | points
    points: tuple = ()  # data="points": your own (x, y) centres in [-2, 2]^2, each a small blob
    spread: float = 0.05  # std of each blob (ring, grid, points) and of the jitter on line and moons
    noise_dim: int = 2  # size of the generator's input z ~ N(0, I)
    hidden: int = 64  # neurons per hidden layer, both networks (GAN Lab's default: 8)
    layers: int = 2  # hidden layers per network (GAN Lab's default: 1)
    loss: str = "nonsaturating"  # nonsaturating (-log D(G(z))) | minimax (log(1 - D(G(z)))) | least_squares
    optimizer: str = "adam"  # adam (betas 0.5, 0.999, as DCGAN) | sgd
    lr_d: float = 1e-3  # discriminator learning rate
    lr_g: float = 1e-3  # generator learning rate
    batch: int = 256  # real and fake points per update
    d_steps: int = 1  # D updates per round of step()
    g_steps: int = 1  # G updates per round of step()
    seed: int = 0  # weights, data draws and noise draws

    def __post_init__(self):
        checks = [
            (self.data in PRESETS, f"data must be one of {PRESETS}, got {self.data!r}"),
            (self.data != "points" or len(self.points) > 0, "data='points' needs points=[(x, y), ...]"),
            (self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}"),
            (self.lr_d > 0 and self.lr_g > 0, f"learning rates must be > 0, got lr_d={self.lr_d}, lr_g={self.lr_g}"),
            (self.noise_dim >= 1 and self.hidden >= 1 and self.layers >= 0, "noise_dim, hidden >= 1 and layers >= 0"),
            (self.batch >= 2, f"batch must be >= 2, got {self.batch}"),
            (self.d_steps >= 0 and self.g_steps >= 0, "d_steps and g_steps must be >= 0"),
            (self.spread > 0, f"spread must be > 0, got {self.spread}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.points = tuple((float(x), float(y)) for x, y in self.points)
        outside = [p for p in self.points if max(abs(p[0]), abs(p[1])) > 0.9 * EXTENT]
        if outside:
            raise ValueError(f"points must lie in [-1.8, 1.8]^2 (the plane shown is [-2, 2]^2), got {outside}")


# Named settings a lesson can start from: Gan2DConfig(**SETTINGS["mode_collapse"]).
SETTINGS = {
    "default": {},
    # G takes 5 steps against each D: it moves every point to where the current D says "real" most,
    # then D marks that spot fake and G jumps on (seeds 0-2: <= 2 of 8 ring modes after 250-1,000 rounds).
    "mode_collapse": dict(g_steps=5),
}


# ---------------------------------------------------------------- data
def mode_centres(config: Gan2DConfig) -> np.ndarray | None:
    """(K, 2) centres of the blobs of a mixture preset; None for line and two_moons (no separate modes)."""
    if config.data == "ring":
        angles = np.arange(8) * 2 * np.pi / 8
        return 1.5 * np.stack([np.cos(angles), np.sin(angles)], 1)
    if config.data == "grid":
        ticks = np.linspace(-1.5, 1.5, 5)
        return np.array([(x, y) for y in ticks for x in ticks])
    if config.data == "points":
        return np.array(config.points, dtype=np.float64)
    return None


def sample_data(config: Gan2DConfig, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 2) points from the config's data distribution."""
    g = generator or torch.Generator().manual_seed(config.seed)
    centres = mode_centres(config)
    if centres is not None:
        pick = torch.randint(len(centres), (n,), generator=g)
        points = torch.as_tensor(centres, dtype=torch.float32)[pick]  # (n, 2)
    elif config.data == "line":
        t = torch.rand(n, 1, generator=g) * 2 - 1  # (n, 1) in [-1, 1]
        points = t * torch.tensor([1.5, 1.0])
    else:  # two_moons: an upper arc and a lower arc shifted right and down, centred at 0
        t = torch.rand(n, generator=g) * math.pi
        lower = torch.rand(n, generator=g) < 0.5
        x = torch.where(lower, 1 - torch.cos(t), torch.cos(t))
        y = torch.where(lower, 0.5 - torch.sin(t), torch.sin(t))
        points = torch.stack([x - 0.5, y - 0.25], 1) * 1.2
    return points + config.spread * torch.randn(n, 2, generator=g)


def mlp(inputs: int, outputs: int, hidden: int, layers: int) -> nn.Sequential:
    """inputs -> [Linear, LeakyReLU(0.2)] * layers -> Linear -> outputs."""
    sizes = [inputs] + [hidden] * layers
    blocks = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        blocks += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return nn.Sequential(*blocks, nn.Linear(sizes[-1], outputs))


# ---------------------------------------------------------------- the game
class Gan2D:
    """G: noise (N, noise_dim) -> points (N, 2); D: points (N, 2) -> logit (N,). Step them by hand or in rounds."""

    def __init__(self, config: Gan2DConfig | None = None):
        self.config = cfg = config or Gan2DConfig()
        with torch.random.fork_rng(devices=[]):  # seeded weights without touching the global RNG
            torch.manual_seed(cfg.seed)
            self.G = mlp(cfg.noise_dim, 2, cfg.hidden, cfg.layers)
            self.D = mlp(2, 1, cfg.hidden, cfg.layers)
        self.opt_g = self._optimizer(self.G, cfg.lr_g)
        self.opt_d = self._optimizer(self.D, cfg.lr_d)
        self.rng = torch.Generator().manual_seed(cfg.seed + 1)  # data and noise draws
        self.fixed_z = torch.randn(512, cfg.noise_dim, generator=self._fixed(2))  # (512, noise_dim), for pictures
        self.steps_d = self.steps_g = 0
        self.history: dict[str, list[float]] = {"round": [], "loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}

    def _fixed(self, offset: int) -> torch.Generator:
        """A fresh generator for a fixed draw (pictures and measures use the same noise and data every time)."""
        return torch.Generator().manual_seed(self.config.seed + offset)

    def _optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.config.optimizer == "adam":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
        return torch.optim.SGD(net.parameters(), lr=lr)

    def set_lr(self, lr_d: float | None = None, lr_g: float | None = None) -> None:
        """Change learning rates mid-run (as GAN Lab's sliders do); the optimiser state is kept.

        Raises ValueError for a learning rate that is not positive.
        """
        for opt, lr, name in ((self.opt_d, lr_d, "lr_d"), (self.opt_g, lr_g, "lr_g")):
            if lr is not None:
                if lr <= 0:
                    raise ValueError(f"{name} must be > 0, got {lr}")
                for group in opt.param_groups:
                    group["lr"] = lr
                self.config = dataclasses.replace(self.config, **{name: lr})

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.noise_dim, generator=self.rng)

    def d_probability(self, logits: torch.Tensor) -> torch.Tensor:
        """D's output read as 'probability that the point is real' (least squares: the raw output, clipped)."""
        return logits.clamp(0, 1) if self.config.loss == "least_squares" else torch.sigmoid(logits)

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """Per-point G loss (N,): what G minimises for each of its points."""
        loss = self.config.loss
        if loss == "nonsaturating":
            return F.softplus(-fake_logits)  # -log D(G(z))
        if loss == "minimax":
            return -F.softplus(fake_logits)  # log(1 - D(G(z))): flat where D is sure, so G learns slowly at first
        return 0.5 * (fake_logits - 1).pow(2)

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "least_squares":
            return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()  # -log D(x) - log(1 - D(G(z)))

    def step_d(self) -> float:
        """One discriminator update on a fresh batch of real and fake points; returns D's loss."""
        cfg = self.config
        real = sample_data(cfg, cfg.batch, self.rng)
        with torch.no_grad():
            fake = self.G(self.noise(cfg.batch))  # (B, 2)
        loss = self.discriminator_loss(self.D(real)[:, 0], self.D(fake)[:, 0])
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.steps_d += 1
        return loss.item()

    def step_g(self) -> float:
        """One generator update (D fixed); returns G's loss."""
        fake_logits = self.D(self.G(self.noise(self.config.batch)))[:, 0]
        loss = self.generator_loss(fake_logits).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.steps_g += 1
        return loss.item()

    def step(self, rounds: int = 1) -> dict[str, float]:
        """``rounds`` rounds of d_steps D updates then g_steps G updates; logs one history row per round."""
        row = {}
        for _ in range(rounds):
            loss_d = [self.step_d() for _ in range(self.config.d_steps)]
            loss_g = [self.step_g() for _ in range(self.config.g_steps)]
            row = self.evaluate()
            row.update(loss_d=float(np.mean(loss_d)) if loss_d else row["loss_d"],
                       loss_g=float(np.mean(loss_g)) if loss_g else row["loss_g"])
            self.history["round"].append(len(self.history["round"]) + 1)
            for key in ("loss_d", "loss_g", "d_real", "d_fake"):
                self.history[key].append(row[key])
        return row

    def run(self, rounds: int, callback: Callable[["Gan2D"], None] | None = None) -> int:
        """``step`` ``rounds`` times, calling ``callback(self)`` after each; a KeyboardInterrupt (the kernel's
        stop button) ends the run early and keeps what was learnt. Returns the rounds done."""
        done = 0
        try:
            for _ in range(rounds):
                self.step()
                done += 1
                if callback is not None:
                    callback(self)
        except KeyboardInterrupt:
            pass
        return done

    @torch.no_grad()
    def evaluate(self, n: int = 512) -> dict[str, float]:
        """Losses and mean D probabilities on fixed noise and a fixed data draw (comparable across steps)."""
        real = sample_data(self.config, n, self._fixed(3))
        real_logits, fake_logits = self.D(real)[:, 0], self.D(self.G(self.fixed_z[:n]))[:, 0]
        return {"loss_d": self.discriminator_loss(real_logits, fake_logits).item(),
                "loss_g": self.generator_loss(fake_logits).mean().item(),
                "d_real": self.d_probability(real_logits).mean().item(),
                "d_fake": self.d_probability(fake_logits).mean().item()}

    # ------------------------------------------------------------ what the lesson draws
    @torch.no_grad()
    def samples(self, n: int = 512) -> torch.Tensor:
        """(n, 2) generated points on fixed noise, so successive pictures show the same points moving."""
        z = self.fixed_z if n <= len(self.fixed_z) else torch.randn(n, self.config.noise_dim, generator=self._fixed(2))
        return self.G(z[:n])

    def real(self, n: int = 512) -> torch.Tensor:
        """(n, 2) data points from a fixed draw."""
        return sample_data(self.config, n, self._fixed(3))

    @torch.no_grad()
    def decision_surface(self, resolution: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """D's probability 'real' on a resolution x resolution grid over the plane: (xs, ys, prob[y, x])."""
        ticks = torch.linspace(-EXTENT, EXTENT, resolution)
        yy, xx = torch.meshgrid(ticks, ticks, indexing="ij")
        grid = torch.stack([xx.flatten(), yy.flatten()], 1)  # (R*R, 2)
        prob = self.d_probability(self.D(grid)[:, 0]).reshape(resolution, resolution)
        return ticks.numpy(), ticks.numpy(), prob.numpy()

    def generator_gradients(self, n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated points (n, 2) and -dLoss_G/dx at each (n, 2): where the generator loss pushes each point.

        G cannot move a point directly; it changes its weights so that points move roughly this way.
        """
        x = self.samples(n).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.generator_loss(self.D(x)[:, 0]).sum(), x)  # fills no .grad
        return x.detach(), -grad

    # ------------------------------------------------------------ how good is G?
    def coverage(self, n: int = 2000) -> tuple[int, int]:
        """(modes covered, modes): a mode counts when it gets >= 20 % of its fair share of samples within 3 spread.

        Raises ValueError for data that is not made of blobs (line, two moons).
        """
        centres = mode_centres(self.config)
        if centres is None:
            raise ValueError(f"coverage needs a preset made of blobs (ring, grid, points), not {self.config.data!r}")
        x = self.samples(n).numpy()
        dist = np.linalg.norm(x[:, None] - centres[None], axis=2)  # (n, K)
        near = (dist < 3 * self.config.spread) & (dist == dist.min(1, keepdims=True))
        counts = near.sum(0)
        return int((counts >= 0.2 * n / len(centres)).sum()), len(centres)

    def distance(self, n: int = 2000, projections: int = 64) -> float:
        """Sliced Wasserstein-1 distance between G's samples and the data (0 = same distribution)."""
        return sliced_wasserstein(self.samples(n), sample_data(self.config, n, self._fixed(4)), projections)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int = 64) -> float:
    """Mean over fixed random directions of the 1-D Wasserstein-1 distance between the projected point sets.

    Raises ValueError unless both are (n, d) point sets of the same shape.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two (n, d) point sets of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    directions = F.normalize(torch.randn(a.shape[1], projections, generator=torch.Generator().manual_seed(0)), dim=0)
    pa, _ = (a @ directions).sort(0)  # (n, P)
    pb, _ = (b @ directions).sort(0)
    return (pa - pb).abs().mean().item()


# ---------------------------------------------------------------- one picture
def draw(lab: Gan2D, fig: Figure | None = None, arrows: bool = True, title: str | None = None) -> Figure:
    """Left: D's decision surface (heatmap), data (black), G's points (white) and gradient arrows. Right: curves.

    A new figure (``fig`` None) for a lab with no logged rounds has the left panel only: no empty axes.
    """
    from matplotlib.figure import Figure  # plotting only: importing the playground stays light

    if fig is None and not lab.history["round"]:
        fig = Figure(figsize=(4.8, 4), layout="constrained")
        ax_plane, ax_loss = fig.subplots(), None
    else:
        fig = fig or Figure(figsize=(9, 4), layout="constrained")
        fig.clear()
        ax_plane, ax_loss = fig.subplots(1, 2, width_ratios=[1, 1.15])
    xs, ys, prob = lab.decision_surface()
    mesh = ax_plane.pcolormesh(xs, ys, prob, cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
    fig.colorbar(mesh, ax=ax_plane, fraction=0.046, label="D: probability 'real'")
    real, fake = lab.real(400).numpy(), lab.samples(400).numpy()
    ax_plane.scatter(real[:, 0], real[:, 1], s=3, c="black", label="data")
    ax_plane.scatter(fake[:, 0], fake[:, 1], s=9, c="white", edgecolors="black", linewidths=0.8, label="G(z)",
                     zorder=3)  # above the arrows
    if arrows:
        x, push = lab.generator_gradients(96)
        push = push / (push.norm(dim=1, keepdim=True).max() + 1e-12) * 0.5  # longest arrow: 0.5 units
        ax_plane.quiver(x[:, 0], x[:, 1], push[:, 0], push[:, 1], color="gold", angles="xy", scale_units="xy",
                        scale=1, width=0.004)
    ax_plane.set_xlim(-EXTENT, EXTENT)
    ax_plane.set_ylim(-EXTENT, EXTENT)
    ax_plane.set_aspect("equal")
    ax_plane.legend(loc="lower left", fontsize=7, facecolor="lightgrey")
    h, cfg = lab.history, lab.config
    ax_plane.set_title(title or f"{cfg.data}: D steps {lab.steps_d}, G steps {lab.steps_g}", fontsize=9)
    if ax_loss is None:
        return fig
    if h["round"]:
        ax_loss.plot(h["round"], h["loss_d"], label="D loss", color="tab:blue")
        ax_loss.plot(h["round"], h["loss_g"], label="G loss", color="tab:orange")
        if cfg.loss != "least_squares":
            ax_loss.axhline(2 * math.log(2), color="grey", ls=":", lw=1, label="D loss when D(x) = 1/2 everywhere")
        ax_loss.set_xlabel("round")
        ax_loss.legend(fontsize=7, loc="best")
    else:
        ax_loss.text(0.5, 0.5, "no rounds yet\n(step_d / step_g by hand are not logged;\nstep() and run() log one row "
                     "per round)", ha="center", va="center", transform=ax_loss.transAxes)
        ax_loss.set(xticks=[], yticks=[])  # no numbers on an empty plot
    ax_loss.set_title("losses (training batches)", fontsize=9)
    return fig
