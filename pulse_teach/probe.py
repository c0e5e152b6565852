"""The attribute probe: a small CNN that reads every face-world attribute back from a 64x64 image.

The face world knows the truth of every render; the probe is how a lesson reads the same attributes
off images nobody rendered (GAN samples, PULSE solutions) and so measures what was recovered and what
was imagined. Its penultimate layer is also the feature space of the Fréchet distance in ``quality``.

    probe = load_probe()                        # bundled weights, data/models/probe.pt
    probe.predict(images)                       # (N, 3, 64, 64) in [0, 1] -> N attribute dicts
    probe.features(images)                      # -> (N, 256) features

Trained on an endless stream of fresh renders, each degraded at random (blur, noise, contrast) so
that blurrier GAN outputs do not look foreign to it: ``train_probe(ProbeConfig(), callback)``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import faces, seed_plan
from .bundled import REINSTALL, data_root
from .checkpoints import read_export, write_export
from .images import from_uint8
from .runtime import resolve_device

FORMAT = "pulse_teach.probe/1"
PROBE_PATH = data_root() / "models" / "probe.pt"
EVAL_SEED = seed_plan.PROBE_EVALUATION  # faces for accuracy figures (seed_plan keeps training faces elsewhere)


def _head_sizes() -> dict[str, int]:
    """Outputs per attribute: one logit per category, or one value for a continuous attribute."""
    return {a.name: len(a.values_or_range) if a.kind == "categorical" else 1 for a in faces.ATTRIBUTES}


class AttributeProbe(nn.Module):
    """(N, 3, 64, 64) images in [0, 1] -> per-attribute logits (categorical) or values (continuous)."""

    def __init__(self, width: int = 16, feature_dim: int = 256, resolution: int = 64):
        super().__init__()
        self.config = dict(width=width, feature_dim=feature_dim, resolution=resolution)
        self.resolution = resolution
        # a stride-2 stem, then at each side (32, 16, 8 px) a conv that widens and a stride-2 conv
        channels = [width, 2 * width, 4 * width, 8 * width]
        layers = [nn.Conv2d(3, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                       nn.Conv2d(c_out, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)  # (N, 8w, R/16, R/16)
        side = resolution // 16
        self.neck = nn.Sequential(nn.Flatten(), nn.Linear(8 * width * side * side, feature_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({name: nn.Linear(feature_dim, k) for name, k in _head_sizes().items()})

    def _check(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1:] != (3, self.resolution, self.resolution):
            raise ValueError(f"expected images (N, 3, {self.resolution}, {self.resolution}) in [0, 1], "
                             f"got {tuple(images.shape)}")
        return images.float() * 2 - 1  # the network sees [-1, 1]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in [0, 1] -> (N, feature_dim): what the heads read, and what FD compares."""
        return self.neck(self.body(self._check(images)))

    def heads_out(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, feature_dim) features -> per attribute (N, K) logits or (N,) values."""
        out = {name: head(feats) for name, head in self.heads.items()}  # (N, K) logits or (N, 1)
        return {name: (v.squeeze(1) if faces.ATTRIBUTE_BY_NAME[name].kind == "continuous" else v)
                for name, v in out.items()}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads_out(self.features(images))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Features of many images, in batches on the probe's device, in eval mode -> (N, feature_dim) on the CPU."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        feats = [self.features(images[i:i + batch].to(device)).cpu() for i in range(0, len(images), batch)]
        self.train(was_training)
        return torch.cat(feats) if feats else torch.empty(0, self.heads[faces.ATTRIBUTES[0].name].in_features)

    @torch.no_grad()
    def read(self, feats: torch.Tensor) -> list[dict]:
        """Attribute dicts from ``embed`` features: lets FD and attribute readings share one pass."""
        out = self.heads_out(feats.to(next(self.parameters()).device))
        columns: dict[str, list] = {}
        for a in faces.ATTRIBUTES:
            if a.kind == "categorical":
                columns[a.name] = [a.values_or_range[i] for i in out[a.name].argmax(1).tolist()]
            else:
                low, high = a.values_or_range
                columns[a.name] = out[a.name].clamp(low, high).tolist()
        return [{name: column[j] for name, column in columns.items()} for j in range(len(feats))]

    def predict(self, images: torch.Tensor, batch: int = 256) -> list[dict]:
        """N attribute dicts in the schema of ``faces.sample_attributes`` (category names, numbers)."""
        return self.read(self.embed(images, batch))

    @torch.no_grad()
    def confidence(self, images: torch.Tensor, batch: int = 256) -> list[dict[str, float]]:
        """N dicts: per categorical attribute, the probe's probability (softmax) of the category ``predict``
        reads. Low values mean the probe is guessing, e.g. for a detail a blurry face does not show."""
        out = self.heads_out(self.embed(images, batch).to(next(self.parameters()).device))
        columns = {a.name: out[a.name].softmax(1).amax(1).tolist() for a in faces.ATTRIBUTES if a.kind == "categorical"}
        return [{name: column[j] for name, column in columns.items()} for j in range(len(images))]


def degrade(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random blur, contrast change and noise on (N, 3, R, R) images in [0, 1]: GAN-like imperfections."""
    n, _, r, _ = images.shape
    blurred = F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # (N, 3, R, R)
    amount = torch.rand(n, 1, 1, 1, generator=generator)  # 0 = sharp, 1 = a 3x3 box blur
    images = torch.lerp(images, blurred, amount)
    contrast = 1 + 0.2 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast + mean
    noise = 0.03 * torch.rand(n, 1, 1, 1, generator=generator) * torch.randn(images.shape, generator=generator)
    return (images + noise).clamp(0, 1)


def labels_to_tensors(attribute_dicts: list[dict]) -> dict[str, torch.Tensor]:
    """faces.labels as tensors: (N,) int64 category indices or float32 values."""
    return {name: torch.from_numpy(values) for name, values in faces.labels(attribute_dicts).items()}


def probe_loss(out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over attributes: cross-entropy for categories, squared error (per unit of range) for numbers."""
    total = 0.0
    for a in faces.ATTRIBUTES:
        if a.kind == "categorical":
            total = total + F.cross_entropy(out[a.name], targets[a.name])
        else:
            low, high = a.values_or_range
            total = total + F.mse_loss(out[a.name], targets[a.name]) / (high - low) ** 2 * 10
    return total


@torch.no_grad()
def evaluate(probe: AttributeProbe, attribute_dicts: list[dict], images: torch.Tensor) -> dict[str, dict]:
    """Per attribute: accuracy (categorical) or mean absolute error plus group accuracy (continuous)."""
    predicted = probe.predict(images)
    report = {}
    for a in faces.ATTRIBUTES:
        truth = [d[a.name] for d in attribute_dicts]
        guess = [d[a.name] for d in predicted]
        if a.kind == "categorical":
            report[a.name] = {"accuracy": float(np.mean([t == g for t, g in zip(truth, guess)]))}
        else:
            report[a.name] = {
                "mae": float(np.mean(np.abs(np.subtract(truth, guess)))),
                "group_accuracy": float(np.mean([faces.group_of(a.name, t) == faces.group_of(a.name, g)
                                                 for t, g in zip(truth, guess)]))}
    return report


def eval_set(n: int = 1000, seed: int = EVAL_SEED, size: int = 64) -> tuple[list[dict], torch.Tensor]:
    """A fixed set of fresh renders the probe never trained on: (attribute dicts, (n, 3, R, R) in [0, 1])."""
    images, attribute_dicts = faces.dataset(n, seed, size)
    return attribute_dicts, from_uint8(images)


@dataclass
class ProbeConfig:
    """How the bundled probe was trained (about 10 minutes on a 2-core CPU)."""

    width: int = 16  # channels of the stride-2 stem; 2x, 4x, 8x at 32, 16, 8 px
    feature_dim: int = 256  # size of the feature vector the heads and the Fréchet distance use
    steps: int = 3000  # one batch of fresh renders per step
    batch: int = 64
    lr: float = 5e-4  # Adam, cosine-decayed to 0; 2e-3 left shirt and hair colour at chance after 1,000 steps
    seed: int = 0  # weights and augmentation; the faces of step k are faces.dataset(batch, seed * 10^6 + k)
    workers: int = 0  # processes rendering faces ahead (0: in this process); the faces do not depend on it
    device: str = "cpu"


@dataclass
class ProbeEvent:
    """What the training callback receives every step."""

    step: int
    loss: float


def train_probe(config: ProbeConfig, callback: Callable[[ProbeEvent], None] | None = None) -> AttributeProbe:
    """Train an AttributeProbe on fresh renders (balanced world, degraded at random); returns it in eval mode."""
    first = seed_plan.face_seeds("probe training", config.seed, config.steps).start  # ValueError outside the plan
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    probe = AttributeProbe(config.width, config.feature_dim).to(device)
    optimizer = torch.optim.Adam(probe.parameters(), config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    rng = torch.Generator().manual_seed(config.seed)
    probe.train()
    batches = faces.stream(config.batch, first, 64, config.workers)
    try:
        for step in range(config.steps):
            images, attribute_dicts = next(batches), faces.sample_attributes(config.batch, first + step)
            x = degrade(from_uint8(images), rng)  # (B, 3, 64, 64)
            targets = {k: v.to(device) for k, v in labels_to_tensors(attribute_dicts).items()}
            loss = probe_loss(probe(x.to(device)), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if callback:
                callback(ProbeEvent(step + 1, loss.item()))
    finally:
        batches.close()  # stops the render workers, if any
    return probe.cpu().eval()


def save_probe(path: str | os.PathLike, probe: AttributeProbe, meta: dict | None = None) -> Path:
    """Write config, float16 weights and JSON-like meta; loads back with ``weights_only=True``."""
    return write_export(path, FORMAT, probe, probe.config, meta)


def load_probe(path: str | os.PathLike | None = None, device: str | torch.device | None = None) -> AttributeProbe:
    """The bundled probe (or one written by ``save_probe``), float32, in eval mode, gradients off.

    Raises FileNotFoundError (saying how to get it) when there is no probe at ``path``; ValueError for a file
    of another format or a device not available here.
    """
    path = Path(path) if path is not None else PROBE_PATH
    if not path.is_file():
        raise FileNotFoundError(f"no probe at {path}. To get it: train one with `python -m pulse_teach train-probe`"
                                + (f"; or {REINSTALL}" if path == PROBE_PATH else ""))
    config, state, meta = read_export(path, FORMAT)
    probe = AttributeProbe(**config)
    probe.load_state_dict(state)
    probe.meta = meta
    return probe.to(resolve_device(device or "cpu")).eval().requires_grad_(False)
