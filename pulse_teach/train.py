"""Train the package's StyleGAN2 generator on an endless stream of freshly rendered cartoon faces.

StyleGAN2's recipe, sized for a 2-core CPU: non-saturating logistic loss, a lazy R1 penalty on real
images, style mixing, an exponential moving average (EMA) of the generator's weights for sampling and
export, and no path-length regulariser (it costs a double backward through G for a smoother W space).
Two changes kept the small G from collapsing onto one face: D looks through a blur that fades over
the first 200 kimg, and D learns at half G's rate. A fine-tune (``init_from``) starts from another
run's checkpoint, which is how the skewed model reuses the balanced one's first minutes. With
``adversarial=0`` and a paired term the run is a plain regression of G(z) onto the face z stands for
(no D), which a later adversarial fine-tune can sharpen.
Every batch is new faces (``faces.dataset`` at ~1,000 faces/s per core: ~6 % of a CPU step), so the
models never see an image twice and there is nothing to overfit.

    trainer = Trainer(TrainConfig(max_minutes=30), "runs/faces64")   # resumes if a checkpoint is there
    trainer.run(callback=lambda event: print(event.step, event.losses))
    trainer.export("data/models/faces64.pt")                          # the EMA generator alone

The run folder holds ``checkpoint.pt`` (everything needed to continue), ``samples/step000000.png`` ...
(8x8 grids of the EMA generator on fixed latents) and ``log.jsonl`` (mean losses between samples).
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from . import faces, seed_plan
from .discriminator import Discriminator, ProbeFeatureHead, augment
from .images import from_generator, make_grid, save_image
from .models import save_generator
from .probe import load_probe
from .runtime import resolve_device, stop_requests
from .storage import atomic_path
from .stylegan2 import SMALL_64, Generator

CHECKPOINT_FORMAT = "pulse_teach.checkpoint/1"
SKIN_TONES = {"balanced": "balanced", "skewed": {"light": 0.9, "dark": 0.1}}  # the two bundled worlds


@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults were measured on a 2-core CPU: ~1.7 steps/s, ~55 images/s."""

    # data
    skin_tone: object = "balanced"  # faces override: "balanced", or group weights like {"light": 0.9, "dark": 0.1}
    data_workers: int = 0  # processes rendering faces ahead; 0 renders in this process (best on 2 cores)
    # models. SMALL_64 with channel_base 2048: 128 channels up to 16 px, 64 at 32 px, 32 at 64 px
    # (1.1 M parameters); full SMALL_64 (128 at 32 px) made each step 2.4x slower on the CPU.
    generator: dict = field(default_factory=lambda: dict(SMALL_64, channel_base=2048))
    discriminator: dict = field(default_factory=lambda: dict(channel_base=1024, channel_max=128))  # 0.9 M
    noise_max_res: int = 16  # noise strengths above this side stay 0: noise at 32/64 px drew speckle
    # optimisation (StyleGAN2-ADA's small-batch settings)
    batch: int = 32  # images per step for G and D; 16 and 64 gave the same images/s on the CPU
    lr_g: float = 2e-3  # Adam learning rate of G (equalised-LR weights, so one rate fits all layers)
    lr_d: float = 1e-3  # Adam learning rate of D; at 2e-3 D won outright and G collapsed to one face
    betas: tuple[float, float] = (0.0, 0.99)  # no momentum: the target moves under a GAN
    r1_gamma: float = 0.1  # weight of R1 = |grad_x D(real)|^2 / 2; small for 64 px images
    r1_interval: int = 16  # lazy R1: every 16th D step, with the penalty multiplied by 16
    # D sees reals and fakes blurred by a Gaussian this wide (px) at first, fading linearly to none
    # (StyleGAN3's D blur). Without it D judged the crisp cartoon edges first and G answered with the
    # same sharp swirl on every face by 20 kimg; blurred, D judges layout and colour first.
    blur_sigma: float = 2.0
    blur_fade_kimg: float = 200.0
    # DiffAugment (Zhao et al. 2020): the same random, differentiable changes on reals and fakes before D.
    # "" = none; a comma list of "translation" (shift by up to 1/8 of the side) and "cutout" (a blank square)
    augment: str = ""
    # D also judges the frozen attribute probe's features of its input (the projected-GAN idea, Sauer et
    # al. 2021: a pretrained feature space tells D what matters): 0 = off, else that head's logit weight
    probe_d: float = 0.0
    # Paired terms (pix2pix's idea: the renderer knows what a latent should look like). z's first
    # faces.LATENT_CODES coordinates stand for a face (faces.attributes_from_latent); unmixed fakes are
    # pulled towards its render: paired = weight of the mean L1 in [-1, 1] pixels, paired_probe = weight of
    # the mean squared difference of the frozen probe's features. 0 = off (a plain GAN).
    paired: float = 0.0
    paired_probe: float = 0.0
    adversarial: float = 1.0  # weight of G's adversarial loss; 0 = no D at all (paired terms only: regression)
    # G's mapping reads the face z stands for, spelled out as one-hots (faces.LatentCodes with this run's
    # skin_tone) instead of raw z: the category boundaries come free, so paired regression learns far faster
    z_codes: bool = False
    style_mixing: float = 0.9  # share of fakes made from two latents, switching at a random layer
    ema_kimg: float = 10.0  # half-life of the EMA of G's weights, in thousands of images
    ema_rampup: float = 0.05  # early on, half-life <= 5 % of the images seen so far
    w_avg_beta: float = 0.995  # per-step decay of the running mean of w (the truncation centre)
    channels_last: bool = True  # NHWC tensors: 1.3x faster on the CPU
    # bookkeeping and stopping (both limits count the whole run, resumed sessions included)
    seed: int = 0  # initial weights, latents, noise and which faces are drawn
    init_from: str | None = None  # fine-tune: start from another run folder's checkpoint (counts carry on)
    sample_minutes: float = 5.0  # write an 8x8 grid of G_ema this often (and at the start and end)
    snapshots: bool = False  # also export G_ema next to each grid (samples/stepN.pt), to pick the best later
    checkpoint_minutes: float = 10.0  # save checkpoint.pt this often (and on Ctrl-C and at the end)
    max_minutes: float | None = 180.0  # stop after this much training time
    max_kimg: float | None = None  # stop after showing D this many thousand real images
    max_steps: int | None = None  # stop after this many steps (tests, benchmarks)
    device: str = "auto"  # "auto" = CUDA if available, else CPU
    num_threads: int | None = None  # torch CPU threads; None keeps torch's default (one per core)


SAMPLE_GRID = 8  # write_samples: a SAMPLE_GRID x SAMPLE_GRID grid of G_ema on fixed latents

# Fields that may change when a run resumes; every other field must equal the checkpoint's.
RUN_FIELDS = ("data_workers", "sample_minutes", "snapshots", "checkpoint_minutes", "max_minutes", "max_kimg", "max_steps",
              "device", "num_threads")


@dataclass
class TrainEvent:
    """What the callback receives after every step and after each sample grid or checkpoint."""

    kind: str  # "step", "sample" or "checkpoint"
    step: int  # steps done
    kimg: float  # thousands of real images shown to D
    losses: dict[str, float]  # the last step's G, D, D_real and D_fake (mean logits), R1 on R1 steps, paired_*
    elapsed: float  # seconds of training in this run, resumed sessions included
    path: Path | None = None  # the grid or checkpoint just written


def face_batches(batch: int, size: int, first_seed: int, skin_tone, workers: int = 0) -> Iterator[torch.Tensor]:
    """Endless (batch, 3, size, size) uint8 faces; batch k is faces.dataset(batch, first_seed + k)."""
    for images in faces.stream(batch, first_seed, size, workers, skin_tone=skin_tone):
        yield torch.from_numpy(images).permute(0, 3, 1, 2)


class Trainer:
    """G, D, G_ema, their optimisers and the run folder; ``run`` trains until a stop condition."""

    def __init__(self, config: TrainConfig | None, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        checkpoint = self._read_checkpoint(self.run_dir)
        config = self._reconcile(config, checkpoint)
        self.config = cfg = config
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        self.device = resolve_device(cfg.device)
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        torch.manual_seed(cfg.seed)
        z_codes = {"skin_tone": cfg.skin_tone} if cfg.z_codes else None
        self.G = Generator(**cfg.generator, z_codes=z_codes).to(self.device, memory_format=memory_format)
        self.D = Discriminator(self.G.resolution, img_channels=self.G.img_channels, **cfg.discriminator)
        self.D = self.D.to(self.device, memory_format=memory_format)
        for layer in self.G.synthesis.layers():  # the parameters stay (NVIDIA's names), frozen at 0
            if layer.resolution > cfg.noise_max_res:
                layer.noise_strength.requires_grad_(False)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.probe_head = None
        if cfg.probe_d or cfg.paired_probe:  # the frozen probe (eval mode: fixed batch-norm statistics)
            self.probe = load_probe(device=self.device)
            if self.probe.resolution != self.G.resolution:
                option = "probe_d" if cfg.probe_d else "paired_probe"
                raise ValueError(f"{option} needs {self.probe.resolution}x{self.probe.resolution} images (the "
                                 f"probe's size); this generator makes {self.G.resolution}x{self.G.resolution}")
        if not (cfg.adversarial or cfg.paired or cfg.paired_probe):
            raise ValueError("adversarial=0 needs a paired term (paired or paired_probe): G would have nothing to learn")
        if (cfg.paired or cfg.paired_probe) and self.G.z_dim < faces.LATENT_CODES:
            raise ValueError(f"paired terms need z_dim >= {faces.LATENT_CODES} (two codes per attribute); "
                             f"this generator has {self.G.z_dim}")
        if cfg.probe_d:  # a small trained head on the probe's features
            self.probe_head = ProbeFeatureHead(self.probe.config["feature_dim"]).to(self.device)
        self.critic_modules = [self.D] + ([self.probe_head] if self.probe_head is not None else [])  # what opt_d trains
        betas = tuple(map(float, cfg.betas))  # torch rejects integer betas such as (0, 0.99)
        self.opt_g = torch.optim.Adam([p for p in self.G.parameters() if p.requires_grad], cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam([p for m in self.critic_modules for p in m.parameters()], cfg.lr_d, betas=betas)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # latents and mixing; on the CPU for every device
        self.sample_z = torch.randn(SAMPLE_GRID**2, self.G.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 10 ** 6))
        self.step, self.nimg, self.elapsed = 0, 0, 0.0
        self.init_from = None  # fine-tunes: where the parent run stood when this one began (for the export)
        if checkpoint is not None:
            self._load_state(checkpoint)
            self.init_from = checkpoint.get("init_from")
        elif cfg.init_from:
            parent = self._parent_checkpoint(cfg)
            self._load_state(parent)
            self.init_from = {"run": str(cfg.init_from), "skin_tone": parent["config"]["skin_tone"],
                              "steps": parent["step"], "kimg": round(parent["nimg"] / 1000, 3),
                              "wall_time_s": round(parent["elapsed"], 1)}

    # ------------------------------------------------------------ one step
    def _latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ws (n, num_ws, w_dim), the first z (n, z_dim, on the CPU) and which samples are unmixed (n,) bool.

        With probability style_mixing a sample's later ws come from a second z.
        """
        G, num_ws = self.G, self.G.num_ws
        z = torch.randn(2, n, G.z_dim, generator=self.rng)  # (2, N, z_dim)
        ws = G.mapping(z.to(self.device).flatten(0, 1)).unflatten(0, (2, n))  # (2, N, num_ws, w_dim)
        G.mapping.update_w_avg(ws[0, :, 0], self.config.w_avg_beta)
        cutoff = torch.randint(1, num_ws, (n,), generator=self.rng)  # first layer fed by the second z
        cutoff = torch.where(torch.rand(n, generator=self.rng) < self.config.style_mixing, cutoff, num_ws)
        second = (torch.arange(num_ws) >= cutoff[:, None]).to(self.device)  # (N, num_ws)
        return torch.where(second[..., None], ws[1], ws[0]), z[0], cutoff == num_ws

    def paired_loss(self, fakes: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """The paired terms for fakes (M, 3, R, R) in [-1, 1] made from codes z (M, z_dim): "L1" and "probe"."""
        cfg, res = self.config, self.G.resolution
        attributes = faces.attributes_from_latent(z.double().numpy(), skin_tone=cfg.skin_tone)
        target = torch.from_numpy(np.stack([faces.render(a, res) for a in attributes])).to(self.device)
        target = target.permute(0, 3, 1, 2).float().div(127.5).sub(1)  # (M, 3, R, R) in [-1, 1]
        terms = {"L1": (fakes - target).abs().mean()}
        if cfg.paired_probe:
            both = self.probe.features(from_generator(torch.cat([fakes, target])))  # (2M, feature_dim)
            terms["probe"] = (both[: len(fakes)] - both[len(fakes):].detach()).square().mean()
        return terms

    def blur(self, images: torch.Tensor) -> torch.Tensor:
        """The early-training blur D looks through, so it first judges layout rather than sharp edges."""
        cfg = self.config
        fade = 1 - self.nimg / (cfg.blur_fade_kimg * 1000) if cfg.blur_fade_kimg > 0 else 0.0
        sigma = cfg.blur_sigma * max(fade, 0.0)
        if sigma <= 0:
            return images
        radius = math.ceil(3 * sigma)
        taps = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
        taps = torch.exp(-0.5 * (taps / sigma) ** 2)
        taps = taps / taps.sum()  # (2r + 1,)
        c = images.shape[1]
        x = F.pad(images, (radius,) * 4, mode="reflect")
        x = F.conv2d(x, taps.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
        return F.conv2d(x, taps.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # along H

    def critic(self, images: torch.Tensor) -> torch.Tensor:
        """D's logits (N,) for images (N, 3, R, R) in [-1, 1]: augmented, plus the probe head when enabled."""
        images = augment(images, self.config.augment, self.rng)
        logits = self.D(images)  # (N,)
        if self.probe_head is not None:
            feats = self.probe.features(from_generator(images))  # (N, feature_dim); frozen, but passes gradients
            logits = logits + self.config.probe_d * self.probe_head(feats)
        return logits

    def train_step(self, reals: torch.Tensor) -> dict[str, float]:
        """One D update (plus R1 every r1_interval steps; none when adversarial is 0) and one G update on the same fakes."""
        cfg, G = self.config, self.G
        ws, z, unmixed = self._latents(len(reals))
        fakes = G.synthesis(ws, noise_mode="random")  # (N, 3, R, R), graph to G
        if cfg.adversarial:
            loss_g, losses = self._adversarial_step(reals, fakes)
        else:  # regression only: D neither trains nor judges
            loss_g, losses = fakes.new_zeros(()), {}
        losses_g = {"G": loss_g.item()}
        if (cfg.paired or cfg.paired_probe) and unmixed.any():
            terms = self.paired_loss(fakes[unmixed.to(self.device)], z[unmixed])
            loss_g = loss_g + cfg.paired * terms["L1"] + cfg.paired_probe * terms.get("probe", 0.0)
            losses_g.update({f"paired_{k}": v.item() for k, v in terms.items()})
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step, self.nimg = self.step + 1, self.nimg + len(reals)
        self._update_ema(len(reals))
        return {**losses_g, **losses}

    def _adversarial_step(self, reals: torch.Tensor, fakes: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """D's update on reals and detached fakes (N, 3, R, R); returns G's weighted adversarial loss and D's figures."""
        cfg = self.config
        do_r1 = self.step % cfg.r1_interval == 0
        for module in self.critic_modules:
            module.requires_grad_(True)
        reals = reals.detach().requires_grad_(do_r1)
        blurred_fakes = self.blur(fakes)  # (N, 3, R, R), graph to G; D's step sees it detached
        real_logits, fake_logits = self.critic(self.blur(reals)), self.critic(blurred_fakes.detach())  # (N,), (N,)
        loss_d = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()  # -log(1 - D(f)) - log D(r)
        losses = {"D": loss_d.item(), "D_real": real_logits.mean().item(), "D_fake": fake_logits.mean().item()}
        if do_r1:  # R1 = E|grad_x D(x)|^2 on reals; folded into this step's loss rather than a separate one
            (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)  # (N, 3, R, R)
            r1 = grad.square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + r1 * (cfg.r1_gamma / 2 * cfg.r1_interval)
            losses["R1"] = r1.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        for module in self.critic_modules:  # G's step needs gradients w.r.t. the fakes only
            module.requires_grad_(False)
        loss_g = F.softplus(-self.critic(blurred_fakes)).mean()  # non-saturating: -log D(G(z))
        return cfg.adversarial * loss_g, losses

    @torch.no_grad()
    def _update_ema(self, batch: int) -> None:
        """G_ema <- beta G_ema + (1 - beta) G, beta from the half-life (shorter while the run is young)."""
        half_life = self.config.ema_kimg * 1000
        if self.config.ema_rampup:
            half_life = min(half_life, self.nimg * self.config.ema_rampup)
        beta = 0.5 ** (batch / max(half_life, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)  # w_avg, constant noise, filters

    # ------------------------------------------------------------ the loop
    def run(self, callback: Callable[[TrainEvent], None] | None = None) -> str:
        """Train until max_steps / max_kimg / max_minutes or Ctrl-C; return which ("interrupted" for Ctrl-C).

        Ctrl-C (or KeyboardInterrupt from the callback) saves a checkpoint and returns; a first Ctrl-C
        waits for the current step to finish so the saved state is a whole step.
        """
        cfg, res = self.config, self.G.resolution
        callback = callback or (lambda event: None)
        first_seed = seed_plan.face_seeds("GAN training", cfg.seed, offset=self.step).start  # ValueError outside
        if cfg.adversarial:
            batches = face_batches(cfg.batch, res, first_seed, cfg.skin_tone, cfg.data_workers)
        else:  # regression only: no D to show real faces to (paired_loss renders its own targets)
            batches = itertools.repeat(torch.zeros(cfg.batch, self.G.img_channels, res, res, dtype=torch.uint8))
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        start, last_sample, last_save = time.perf_counter(), -math.inf, time.perf_counter()
        start_elapsed, window, sampled_step = self.elapsed, [], None

        def emit(kind: str, losses: dict[str, float], path: Path | None = None) -> None:
            callback(TrainEvent(kind, self.step, self.nimg / 1000, losses, self.elapsed, path))

        reason, losses = "interrupted", {}
        try:
            with stop_requests() as stop_requested:
                while True:
                    self.elapsed = start_elapsed + time.perf_counter() - start
                    if time.perf_counter() - last_sample >= cfg.sample_minutes * 60:
                        last_sample, sampled_step = time.perf_counter(), self.step
                        self._log(window)
                        emit("sample", losses, self.write_samples())
                    if time.perf_counter() - last_save >= cfg.checkpoint_minutes * 60:
                        last_save = time.perf_counter()
                        emit("checkpoint", losses, self.save_checkpoint())
                    reason = self._stop_reason() or ("interrupted" if stop_requested() else None)
                    if reason:
                        break
                    reals = next(batches).to(self.device).float().div(127.5).sub(1)  # uint8 -> [-1, 1]
                    losses = self.train_step(reals.contiguous(memory_format=memory_format))
                    window.append(losses)
                    self.elapsed = start_elapsed + time.perf_counter() - start
                    emit("step", losses)
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            if hasattr(batches, "close"):
                batches.close()  # stops the render workers, if any
        self._log(window)
        sample = self.write_samples() if self.step != sampled_step else None  # this step's grid may exist
        checkpoint = self.save_checkpoint()  # both saved before any callback
        if sample is not None:
            emit("sample", losses, sample)
        emit("checkpoint", losses, checkpoint)
        return reason

    def _stop_reason(self) -> str | None:
        cfg = self.config
        if cfg.max_steps is not None and self.step >= cfg.max_steps:
            return "max_steps"
        if cfg.max_kimg is not None and self.nimg >= cfg.max_kimg * 1000:
            return "max_kimg"
        if cfg.max_minutes is not None and self.elapsed >= cfg.max_minutes * 60:
            return "max_minutes"
        return None

    def _log(self, window: list[dict[str, float]]) -> None:
        """Append the mean losses since the last line to log.jsonl, then empty the window."""
        if not window:
            return
        means = {k: float(np.mean([w[k] for w in window if k in w])) for k in {k for w in window for k in w}}
        line = dict(step=self.step, kimg=round(self.nimg / 1000, 3), minutes=round(self.elapsed / 60, 2), **means)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "log.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        window.clear()

    # ------------------------------------------------------------ files
    @torch.no_grad()
    def write_samples(self) -> Path:
        """8x8 grid of G_ema on the run's fixed latents -> samples/step{step:06d}.png."""
        images = self.G_ema(self.sample_z.to(self.device), noise_mode="const")  # (64, 3, R, R)
        path = self.run_dir / "samples" / f"step{self.step:06d}.png"
        save_image(make_grid(from_generator(images, clamp=True).cpu(), ncol=SAMPLE_GRID), path)
        if self.config.snapshots:
            self.export(path.with_suffix(".pt"))
        return path

    def save_checkpoint(self) -> Path:
        """Write checkpoint.pt atomically: a crash mid-write leaves the previous checkpoint intact."""
        state = {"format": CHECKPOINT_FORMAT, "config": dataclasses.asdict(self.config), "step": self.step,
                 "nimg": self.nimg, "elapsed": self.elapsed, "G": self.G.state_dict(), "D": self.D.state_dict(),
                 "G_ema": self.G_ema.state_dict(), "opt_g": self.opt_g.state_dict(),
                 "opt_d": self.opt_d.state_dict(), "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                 "init_from": self.init_from,
                 "probe_head": self.probe_head.state_dict() if self.probe_head is not None else None}
        path = self.run_dir / "checkpoint.pt"
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        return path

    @staticmethod
    def _read_checkpoint(run_dir: Path) -> dict | None:
        path = Path(run_dir) / "checkpoint.pt"
        if not path.is_file():
            return None
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data only
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a pulse_teach training checkpoint ({CHECKPOINT_FORMAT})")
        return checkpoint

    @classmethod
    def saved_config(cls, run_dir: str | os.PathLike) -> TrainConfig | None:
        """The config of the run in ``run_dir``, or None if it holds no checkpoint."""
        checkpoint = cls._read_checkpoint(Path(run_dir))
        return None if checkpoint is None else TrainConfig(**checkpoint["config"])

    @staticmethod
    def _reconcile(config: TrainConfig | None, checkpoint: dict | None) -> TrainConfig:
        """The config to use: the checkpoint's, with the run-time fields (RUN_FIELDS) of ``config``."""
        if checkpoint is None:
            return config or TrainConfig()
        saved = TrainConfig(**checkpoint["config"])
        if config is None:
            return saved
        changed = [f"{f.name}: run has {getattr(saved, f.name)!r}, asked for {getattr(config, f.name)!r}"
                   for f in dataclasses.fields(TrainConfig)
                   if f.name not in RUN_FIELDS and getattr(saved, f.name) != getattr(config, f.name)]
        if changed:
            raise ValueError("the run folder holds a run with other settings; use a new folder or the same "
                             "settings. " + "; ".join(changed))
        return dataclasses.replace(saved, **{name: getattr(config, name) for name in RUN_FIELDS})

    @classmethod
    def _parent_checkpoint(cls, config: TrainConfig) -> dict:
        """The checkpoint a fine-tune starts from: its generator must match ours; with another discriminator
        config, D and its optimiser start afresh (a GAN phase after regression may bring a stronger D)."""
        parent = cls._read_checkpoint(Path(config.init_from))
        if parent is None:
            raise ValueError(f"init_from={config.init_from!r} holds no checkpoint.pt to start from")
        same = {name: json.loads(json.dumps(parent["config"][name])) == json.loads(json.dumps(getattr(config, name)))
                for name in ("generator", "noise_max_res", "discriminator")}
        changed = [name for name in ("generator", "noise_max_res") if not same[name]]
        if changed:
            raise ValueError(f"init_from={config.init_from!r} has other {', '.join(changed)} than this run")
        if not same["discriminator"]:
            parent = {**parent, "D": None, "opt_d": None, "probe_head": None}
        return parent

    def _load_state(self, checkpoint: dict) -> None:
        if self.probe_head is not None and checkpoint.get("probe_head"):  # load before opt_d: it holds its state
            self.probe_head.load_state_dict(checkpoint["probe_head"])
        new_head = self.probe_head is not None and not checkpoint.get("probe_head")  # a fine-tune adding probe_d
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            if checkpoint[name] is not None and not (name == "opt_d" and new_head):  # else Adam starts afresh
                getattr(self, name).load_state_dict(checkpoint[name])
        betas = tuple(map(float, self.config.betas))
        for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in opt.param_groups:  # the optimiser state carries the parent's settings; a fine-tune may set its own
                group.update(lr=lr, betas=betas)
        self.step, self.nimg, self.elapsed = checkpoint["step"], checkpoint["nimg"], checkpoint["elapsed"]
        self.rng.set_state(checkpoint["rng"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if checkpoint["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])

    def export(self, path: str | os.PathLike, gaussian_fit_samples: int | None = None) -> Path:
        """Write G_ema alone in float16, with where it came from (and its Gaussian fit), via ``models.save_generator``."""
        cfg = self.config
        meta = {"skin_tone": cfg.skin_tone, "steps": self.step, "kimg": round(self.nimg / 1000, 3),
                "wall_time_s": round(self.elapsed, 1), "device": str(self.device),
                "hardware": (torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                             else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"),
                "torch": torch.__version__, "train_config": dataclasses.asdict(cfg)}
        if self.init_from:  # where the fine-tune began: the rest of steps, kimg and wall time is its own
            meta["init_from"] = self.init_from
        return save_generator(path, self.G_ema, meta, gaussian_fit_samples)
