"""PULSE: search a generator's latent space for images that downscale to a given low-res image.

The search does not recover the true high-res image: many images downscale to the same few pixels,
and PULSE returns ones the generator finds realistic. Each seed starts from a different random point
and usually ends at a different, equally consistent, imagined face.

Differences from the official code (see docs/pulse_method.md §13): acceptance
(MSE <= eps) is decided per seed, the best iterate of each seed is returned rather than the last,
any integer (0 too) is a seed, many seeds run as one batch, and everything runs on the CPU.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from .downscale import bicubic_downsample
from .images import from_generator, to_tensor
from .inputs import infer_factor as infer_factor  # re-exported; the factor rule lives in inputs
from .inputs import prepare_input
from .latent import GaussianFit, fit_gaussian
from .runtime import free_memory, is_out_of_memory, module_device
from .sphere import SphericalOptimizer, geocross

SCHEDULES = ("fixed", "linear1cycle", "linear1cycledrop")
OPTIMIZERS = {
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
    "adamax": lambda params, lr: torch.optim.Adamax(params, lr=lr),
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "sgdm": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
}
LOSS_TERMS = ("L2", "L1", "GEOCROSS")


@dataclass
class PulseConfig:
    """Settings of one search; the defaults are the official PULSE run's, unless noted."""

    steps: int = 100  # optimisation steps per seed
    learning_rate: float = 0.4  # base learning rate, scaled by the schedule
    lr_schedule: str = "linear1cycledrop"  # fixed | linear1cycle | linear1cycledrop
    optimizer: str = "adam"  # adam | adamax | sgd | sgdm (momentum 0.9)
    loss: str = "100*L2+0.05*GEOCROSS"  # weighted sum of L2, L1 and GEOCROSS terms
    eps: float = 2e-3  # a seed is accepted when its downscaling MSE (images in [0, 1]) is <= eps
    num_seeds: int = 4  # seeds searched together in one batch (official: 1)
    seed: int = 0  # first seed; seeds are seed, seed+1, ... (every integer, 0 too, is a seed)
    tile_latent: bool = False  # search one w shared by all layers instead of num_ws of them
    noise_type: str = "trainable"  # zero | fixed | trainable (the first few noise maps are searched)
    num_trainable_noise_layers: int = 5  # with noise_type "trainable"
    zero_noise_layers: tuple[int, ...] = (-1,)  # noise maps forced to zero; -1 is the last (1024 px at FFHQ)
    sphere_radius: str = "sqrt_d"  # sqrt_d (the paper) | initial (the official code: each start's norm)
    sphere_projection: bool = True  # False: no projection, latents (and trainable noise) move freely in R^d
    restarts: int = 0  # retries with fresh seeds for seeds that missed eps (not in the official code)
    gaussian_fit_samples: int = 1_000_000  # z samples for the Gaussianised W fit (cached per generator)
    image_every: int = 10  # callbacks get the current images every this many steps (0: never)
    mixed_precision: bool = False  # synthesis under autocast (float16 on CUDA/MPS, bfloat16 on CPU); loss in float32

    def __post_init__(self):
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (self.lr_schedule in SCHEDULES, f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {tuple(OPTIMIZERS)}, got {self.optimizer!r}"),
            (self.eps >= 0, f"eps must be >= 0, got {self.eps}"),
            (self.num_seeds >= 1, f"num_seeds must be >= 1, got {self.num_seeds}"),
            (self.noise_type in ("zero", "fixed", "trainable"), f"noise_type must be zero, fixed or trainable, got {self.noise_type!r}"),
            (self.num_trainable_noise_layers >= 0, "num_trainable_noise_layers must be >= 0"),
            (self.sphere_radius in ("sqrt_d", "initial"), f"sphere_radius must be 'sqrt_d' or 'initial', got {self.sphere_radius!r}"),
            (self.restarts >= 0, f"restarts must be >= 0, got {self.restarts}"),
            (self.gaussian_fit_samples >= 2, "gaussian_fit_samples must be >= 2"),
            (self.image_every >= 0, f"image_every must be >= 0, got {self.image_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.zero_noise_layers = tuple(int(i) for i in self.zero_noise_layers)
        parse_loss(self.loss)

    @classmethod
    def preset(cls, name: str, **overrides) -> "PulseConfig":
        """The official PULSE run for ``name`` in PRESETS (e.g. "x64": 16x16 -> 1024x1024), with overrides.

        Raises ValueError for an unknown preset name.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name]["config"], **overrides})


# The official run (run.py defaults, see docs/pulse_method.md §8): one seed, 100 Adam steps at
# LR 0.4, linear1cycledrop, 100*L2 + 0.05*GEOCROSS, eps 2e-3, 18 latents (not tiled), the first 5 noise
# maps trainable, the last (1024 px) zeroed, each sphere radius = the start's norm. With StyleGAN2 the 5
# trainable maps are at 4, 8, 8, 16, 16 px (StyleGAN v1 had two 4 px maps), 17 maps in all.
_OFFICIAL = dict(num_seeds=1, sphere_radius="initial")  # every other PulseConfig default is already the official run's
PRESETS: dict[str, dict] = {
    "x64": {"input_side": 16, "resolution": 1024, "config": _OFFICIAL},  # the paper's NIQE setting
    "x32": {"input_side": 32, "resolution": 1024, "config": _OFFICIAL},  # the official align_face.py default
}


def parse_loss(spec: str) -> list[tuple[float, str]]:
    """'100*L2+0.05*GEOCROSS' -> [(100.0, 'L2'), (0.05, 'GEOCROSS')]; a bare name has weight 1.

    Raises ValueError for an unknown term or a weight that is not a number.
    """
    terms = []
    for part in spec.replace(" ", "").split("+"):
        weight, _, name = part.rpartition("*")
        try:
            weight = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"bad weight {weight!r} in loss {spec!r}; expected e.g. '100*L2+0.05*GEOCROSS'") from None
        if name not in LOSS_TERMS:
            raise ValueError(f"unknown loss term {name!r} in {spec!r}; known terms: {', '.join(LOSS_TERMS)}")
        terms.append((weight, name))
    return terms


def lr_multiplier(schedule: str, step: int, steps: int) -> float:
    """The factor on the base learning rate at ``step`` (0 .. steps-1), as in the official code.

    Raises ValueError for an unknown schedule.
    """
    x, s = step, steps
    if schedule == "fixed":
        return 1.0
    if schedule == "linear1cycle":  # 0.1 -> 1 at the middle -> 0.1
        return (9 * (1 - 2 * abs(x / s - 0.5)) + 1) / 10
    if schedule == "linear1cycledrop":  # the same cycle over 90 % of the steps, then down towards 0.001
        if x < 0.9 * s:
            return (9 * (1 - 2 * abs(x / (0.9 * s) - 0.5)) + 1) / 10
        return 0.1 + (x - 0.9 * s) / (0.1 * s) * (0.001 - 0.1)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")


@dataclass
class PulseStep:
    """What a callback sees after each step's evaluation (tensors are on the CPU, one entry per seed)."""

    step: int
    steps: int
    lr: float
    attempt: int  # 0 for the first run, k for the k-th restart
    seeds: list[int]
    l2: torch.Tensor  # (S,) downscaling MSE of the current images (unclamped)
    geocross: torch.Tensor  # (S,)
    total: torch.Tensor  # (S,) the optimised loss of each seed
    best_l2: torch.Tensor  # (S,) the lowest MSE so far
    accepted: torch.Tensor  # (S,) bool: reached eps at some step so far
    target: torch.Tensor  # (3, h, w) the low-res input in [0, 1]
    images: torch.Tensor | None = None  # (S, 3, R, R) current images in [0, 1], every image_every steps
    downscaled: torch.Tensor | None = None  # (S, 3, h, w) their downscaled versions


@dataclass
class PulseResult:
    """The best iterate of every seed, whether it was accepted, and how the search went."""

    images: torch.Tensor  # (S, 3, R, R) about [0, 1], unclamped as the loss saw them (clamp to display)
    downscaled: torch.Tensor  # (S, 3, h, w) each image's own downscale
    target: torch.Tensor  # (3, h, w) the low-res input
    accepted: torch.Tensor  # (S,) bool: the image's MSE <= eps
    l2: torch.Tensor  # (S,) MSE of the returned image
    geocross: torch.Tensor  # (S,)
    total: torch.Tensor  # (S,)
    best_step: torch.Tensor  # (S,) the step the returned image comes from
    ws: torch.Tensor  # (S, num_ws, w_dim) the style vectors of the returned images
    seeds: list[int]  # the seed that produced each returned image (restarts change it)
    attempts: torch.Tensor  # (S,) runs made for each slot (1 without restarts)
    last_images: torch.Tensor  # (S, 3, R, R) the final iterates of the first run, for comparison
    history: dict[str, torch.Tensor]  # first run: 'lr' (T,), 'l2' / 'geocross' / 'total' (T, S)
    factor: int
    steps_run: int
    interrupted: bool
    wall_time: float
    config: PulseConfig
    restart_histories: list[dict[str, torch.Tensor]] = field(default_factory=list)
    input_notices: list[str] = field(default_factory=list)  # what prepare_input changed, for a PIL input

    @property
    def num_accepted(self) -> int:
        return int(self.accepted.sum())

    @property
    def accepted_images(self) -> torch.Tensor:
        """The accepted seeds' images, (A, 3, R, R) in [0, 1] on the CPU (what recovery measures are taken on)."""
        return self.images[self.accepted.cpu()].detach().clamp(0, 1).cpu()

    def summary(self, advice: bool = True) -> str:
        """A small table, one line per seed; with ``advice``, what to change when no seed reached eps."""
        lines = [f"{'seed':>10} {'MSE':>9} {'GEOCROSS':>9} {'step':>5}  accepted (eps {self.config.eps:g})"]
        for i, seed in enumerate(self.seeds):
            lines.append(f"{seed:>10} {self.l2[i]:9.2e} {self.geocross[i]:9.3f} {int(self.best_step[i]):>5}  "
                         f"{'yes' if self.accepted[i] else 'NO'}")
        note = " (interrupted)" if self.interrupted else ""
        lines.append(f"{self.num_accepted}/{len(self.seeds)} accepted, {self.steps_run} steps, "
                     f"{self.wall_time:.1f} s{note}")
        hint = missed_eps_advice(self) if advice else None
        return "\n".join(lines + ([hint] if hint else []))


def missed_eps_advice(result: "PulseResult", cli: bool = False) -> str | None:
    """None if some seed reached eps (or the run was stopped); else one line on the knobs that help and their cost.

    ``cli`` names the command-line options (--steps, --restarts, --eps) instead of PulseConfig's fields.
    """
    if result.num_accepted or result.interrupted:
        return None
    cfg, best = result.config, float(result.l2.min())
    steps, restarts, eps = ("--steps", "--restarts", "--eps") if cli else ("steps=", "restarts=", "eps=")
    gap = f"{best / cfg.eps:.1f}x eps" if cfg.eps > 0 else "eps is 0, which no search reaches"
    return (f"no seed reached eps {cfg.eps:g} (best MSE {best:.2e}, {gap}). What helps: more steps "
            f"({steps}{' ' if cli else ''}{2 * cfg.steps}: twice the time), fresh seeds for the ones that missed "
            f"({restarts}{' ' if cli else ''}{cfg.restarts + 2}: up to {cfg.restarts + 2} searches more), or a larger eps "
            f"({eps}{' ' if cli else ''}{max(best * 1.1, 1e-4):.1e}: accepts faces that match the input less closely)")


def upsample(
    generator: torch.nn.Module,
    low_res,
    config: PulseConfig | None = None,
    seeds: int | Sequence[int] | None = None,
    callbacks: Callable[[PulseStep], None] | Sequence[Callable[[PulseStep], None]] = (),
    device: str | torch.device | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PulseResult:
    """Run PULSE: one batch of seeds searching for images that downscale to ``low_res``.

    low_res: a tensor (3, h, w) / (1, 3, h, w) in [0, 1], square, with a side that divides the
    generator's resolution (the factor is inferred), or a PIL image, which goes through
    ``prepare_input`` exactly as on the command line (its notices are in ``result.input_notices``).
    seeds: None for config.num_seeds seeds from config.seed, an int n for n seeds from config.seed, or
    an explicit list. Callbacks run after every step. ``should_stop()`` returning True, or a
    KeyboardInterrupt (the kernel's stop button), ends the search early and returns the best so far.
    The search runs where the generator is; the generator is never moved. ``device``, if given, only
    checks that: a generator elsewhere, or a device not available here, raises a one-line ValueError. Running out of memory raises
    ``PulseOutOfMemory`` (a ``torch.OutOfMemoryError``) that says what to change.
    """
    config = config or PulseConfig()
    device = module_device(generator, device)
    channels = getattr(generator, "img_channels", 3)
    if channels not in (1, 3):
        raise ValueError(f"the generator makes {channels}-channel images; PULSE works with colour (3) or greyscale (1)")
    notices = []
    if isinstance(low_res, Image.Image):  # one normalisation for every way a picture enters: prepare_input's
        prepared = prepare_input(low_res, generator.resolution)
        low_res, notices = prepared.low_res, prepared.notices
    target = to_tensor(low_res).to(device)  # (1, 3, h, w)
    factor = infer_factor(generator.resolution, target.shape[-2:])
    if seeds is None or isinstance(seeds, int):
        count = config.num_seeds if seeds is None else seeds
        if count < 1:
            raise ValueError(f"need at least one seed, got {count}")
        seeds = [config.seed + i for i in range(count)]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    callbacks = [callbacks] if callable(callbacks) else list(callbacks)
    try:
        return _upsample(generator, target, factor, config, seeds, callbacks, should_stop, notices)
    except Exception as error:
        if not is_out_of_memory(error) or isinstance(error, PulseOutOfMemory):
            raise
        free_memory()
        fewer = f"num_seeds={max(1, len(seeds) // 2)}" if len(seeds) > 1 else "one seed already"
        raise PulseOutOfMemory(
            f"out of memory searching {len(seeds)} seed{'s' * (len(seeds) != 1)} at {generator.resolution}x"
            f"{generator.resolution} on {device}: use fewer seeds ({fewer}; memory_plan.plan_seeds(G) measures what "
            f"fits), mixed_precision=True{' (on a GPU)' if device.type == 'cpu' else ''}, or a smaller model") from error


class PulseOutOfMemory(torch.OutOfMemoryError):
    """A search ran out of (GPU or main) memory; the message says which settings need less."""


def _upsample(generator, target, factor, config, seeds, callbacks, should_stop, notices) -> PulseResult:
    fit = fit_gaussian(generator, config.gaussian_fit_samples)

    start = time.perf_counter()
    with _frozen(generator):
        search = _Search(generator, target, factor, fit, config, callbacks, should_stop)
        run = search.run(seeds, attempt=0)
        result = PulseResult(
            images=run.images, downscaled=run.downscaled, target=target[0].cpu(), accepted=run.accepted,
            l2=run.l2, geocross=run.geocross, total=run.total, best_step=run.best_step, ws=run.ws,
            seeds=list(seeds), attempts=torch.ones(len(seeds), dtype=torch.long), last_images=run.last_images,
            history=run.history, factor=factor, steps_run=run.steps_run, interrupted=run.interrupted,
            wall_time=0.0, config=config, input_notices=list(notices))
        for attempt in range(1, config.restarts + 1):
            missed = (~result.accepted).nonzero().flatten().tolist()
            if not missed or result.interrupted:
                break
            retry = search.run([restart_seed(result.seeds[i], attempt) for i in missed], attempt=attempt)
            result.restart_histories.append(retry.history)
            result.interrupted = retry.interrupted
            _merge(result, retry, missed)
    result.wall_time = time.perf_counter() - start
    return result


def restart_seed(seed: int, attempt: int) -> int:
    """A fresh seed for restart ``attempt`` of ``seed``: deterministic, distinct from seed, seed+1, ..."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, attempt, 0x9E37]).generate_state(1)[0])


@contextlib.contextmanager
def _frozen(generator: torch.nn.Module) -> Iterator[None]:
    """Switch off weight gradients during the search (only the latents are optimised), then restore."""
    flags = [p.requires_grad for p in generator.parameters()]
    generator.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(generator.parameters(), flags):
            p.requires_grad_(flag)


def _merge(result: PulseResult, retry: "_Run", slots: list[int]) -> None:
    """Put a restart's outcome into the result wherever it is better (accepted, or a lower MSE)."""
    for j, i in enumerate(slots):
        result.attempts[i] += 1
        better = bool(retry.accepted[j]) or float(retry.l2[j]) < float(result.l2[i])
        if not better:
            continue
        for name in ("accepted", "l2", "geocross", "total", "best_step", "ws", "images", "downscaled"):
            getattr(result, name)[i] = getattr(retry, name)[j]
        result.seeds[i] = retry.seeds[j]


@dataclass
class _Run:
    """One batch of seeds searched to the end (or until stopped)."""

    seeds: list[int]
    images: torch.Tensor
    downscaled: torch.Tensor
    accepted: torch.Tensor
    l2: torch.Tensor
    geocross: torch.Tensor
    total: torch.Tensor
    best_step: torch.Tensor
    ws: torch.Tensor
    last_images: torch.Tensor
    history: dict[str, torch.Tensor]
    steps_run: int
    interrupted: bool


class _Search:
    """The optimisation loop of PULSE for one target; ``run`` searches one batch of seeds."""

    def __init__(self, generator, target, factor, fit: GaussianFit, config: PulseConfig, callbacks, should_stop):
        self.generator, self.target, self.factor, self.fit = generator, target, factor, fit
        self.config, self.callbacks, self.should_stop = config, callbacks, should_stop
        self.loss_terms = parse_loss(config.loss)
        self.noise_shapes = list(generator.synthesis.noise_shapes)  # [(h, w)] per synthesis layer
        n = len(self.noise_shapes)
        self.zeroed = {i % n for i in config.zero_noise_layers if -n <= i < n}
        trainable = range(config.num_trainable_noise_layers) if config.noise_type == "trainable" else ()
        self.trainable = [i for i in trainable if i < n and i not in self.zeroed]

    def initial_state(self, seeds: list[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each seed draws its own start on the CPU, so a seed's start does not depend on the batch."""
        g, cfg = self.generator, self.config
        rows = 1 if cfg.tile_latent else g.num_ws
        latents, noises = [], []
        for seed in seeds:
            rng = torch.Generator().manual_seed(seed & 0xFFFFFFFFFFFFFFFF)
            latents.append(torch.randn(rows, g.w_dim, generator=rng))  # (rows, w_dim)
            noises.append([torch.randn(1, h, w, generator=rng) for h, w in self.noise_shapes])
        device = self.target.device
        latent = torch.stack(latents).to(device)  # (S, rows, w_dim)
        noise = []
        for i in range(len(self.noise_shapes)):
            maps = torch.stack([per_seed[i] for per_seed in noises]).to(device)  # (S, 1, h, w)
            if cfg.noise_type == "zero" or i in self.zeroed:
                maps.zero_()
            noise.append(maps.requires_grad_(i in self.trainable))
        return latent.requires_grad_(True), noise

    def run(self, seeds: list[int], attempt: int) -> _Run:
        """Raises KeyboardInterrupt when stopped before its first step finished (nothing to return)."""
        cfg, g = self.config, self.generator
        latent, noise = self.initial_state(seeds)
        params = [latent] + [noise[i] for i in self.trainable]
        optimizer = OPTIMIZERS[cfg.optimizer](params, cfg.learning_rate)
        if cfg.sphere_projection:  # projected gradient descent: back onto the spheres now and after every step
            optimizer = SphericalOptimizer(optimizer, radius=cfg.sphere_radius)
        best = None  # dict of per-seed tensors, filled at the first evaluation
        history = {"lr": [], "l2": [], "geocross": [], "total": []}
        interrupted, steps_run, images = False, 0, None
        try:
            for step in range(cfg.steps):
                if self.should_stop is not None and self.should_stop():
                    interrupted = True
                    break
                lr = cfg.learning_rate * lr_multiplier(cfg.lr_schedule, step, cfg.steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad()
                ws = self.fit.to_w(latent.expand(-1, g.num_ws, -1))  # (S, num_ws, w_dim)
                with _autocast(ws.device, cfg.mixed_precision):
                    synthesised = g.synthesis(ws, noise=noise)
                if cfg.mixed_precision:
                    synthesised = synthesised.float()  # the losses stay in float32
                if synthesised.shape[1] == 1:  # a greyscale generator: its faces in grey RGB
                    synthesised = synthesised.expand(-1, 3, -1, -1)
                images = from_generator(synthesised)  # (S, 3, R, R), not clamped: the loss sees all of it
                downscaled = bicubic_downsample(images, self.factor)  # (S, 3, h, w)
                l2 = (downscaled - self.target).pow(2).mean(dim=(1, 2, 3))  # (S,)
                terms = {"L2": l2.clamp_min(cfg.eps),
                         "L1": 10 * (downscaled - self.target).abs().mean(dim=(1, 2, 3)).clamp_min(cfg.eps),
                         "GEOCROSS": geocross(ws)}
                total = sum(weight * terms[name] for weight, name in self.loss_terms)  # (S,)
                with torch.no_grad():
                    best = _keep_best(best, step, cfg.eps, l2, terms["GEOCROSS"], total, images, downscaled, ws)
                steps_run = step + 1
                for key, value in (("lr", lr), ("l2", l2), ("geocross", terms["GEOCROSS"]), ("total", total)):
                    history[key].append(torch.as_tensor(value).detach().cpu())
                self._report(step, lr, attempt, seeds, l2, terms["GEOCROSS"], total, best, images, downscaled)
                total.sum().backward()  # seeds are independent: each gets exactly its own gradient
                optimizer.step()
        except KeyboardInterrupt:
            interrupted = True
        if best is None:
            raise KeyboardInterrupt("the search was stopped before its first step finished; nothing to return")
        history = {k: torch.stack(v) for k, v in history.items()}  # lr (T,), others (T, S)
        return _Run(seeds=list(seeds), images=best["images"].cpu(), downscaled=best["downscaled"].cpu(),
                    accepted=best["ok"].cpu(), l2=best["l2"].cpu(), geocross=best["geocross"].cpu(),
                    total=best["total"].cpu(), best_step=best["step"].cpu(), ws=best["ws"].cpu(),
                    last_images=images.detach().cpu(), history=history, steps_run=steps_run,
                    interrupted=interrupted)

    def _report(self, step, lr, attempt, seeds, l2, geo, total, best, images, downscaled) -> None:
        if not self.callbacks:
            return
        every = self.config.image_every
        with_images = every > 0 and (step % every == 0 or step == self.config.steps - 1)
        event = PulseStep(
            step=step, steps=self.config.steps, lr=lr, attempt=attempt, seeds=list(seeds),
            l2=l2.detach().cpu(), geocross=geo.detach().cpu(), total=total.detach().cpu(),
            best_l2=best["min_l2"].cpu(), accepted=best["min_l2"].cpu() <= self.config.eps, target=self.target[0].cpu(),
            images=images.detach().clamp(0, 1).cpu() if with_images else None,
            downscaled=downscaled.detach().cpu() if with_images else None)
        for callback in self.callbacks:
            callback(event)


def _autocast(device: torch.device, enabled: bool):
    """Mixed precision for the generator only: float16 on CUDA/MPS, bfloat16 on CPU (no float16 autocast there)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if device.type == "cpu" else torch.float16)


def _keep_best(best, step, eps, l2, geo, total, images, downscaled, ws) -> dict:
    """Per seed, keep the iterate with the lowest total loss among those within eps, else the lowest MSE."""
    ok = l2 <= eps  # (S,)
    now = {"ok": ok, "l2": l2, "geocross": geo, "total": total, "images": images, "downscaled": downscaled,
           "ws": ws, "step": torch.full_like(l2, step, dtype=torch.long)}
    if best is None:
        now = {k: v.detach().clone() for k, v in now.items()}
        now["min_l2"] = now["l2"].clone()
        return now
    better = (ok & ~best["ok"]) | (ok & best["ok"] & (total < best["total"])) | (~ok & ~best["ok"] & (l2 < best["l2"]))
    for key, value in now.items():
        mask = better.view(-1, *([1] * (value.ndim - 1)))
        best[key] = torch.where(mask, value.detach(), best[key])
    best["min_l2"] = torch.minimum(best["min_l2"], l2.detach())
    return best
