"""How good is a generator of the face world? Measured with the attribute probe, against renders.

Two figures, both in the world whose truth we know:

- the Fréchet distance between probe features of renders and of generated samples: FID's idea
  (compare the mean and covariance of two clouds of features) with our probe in place of Inception;
- the distribution of each attribute among generated samples, as the probe reads it, next to the
  distribution the model was trained on (a model trained on a skewed world should stay skewed).

    report = evaluate_generator(load_generator("faces64"), load_probe(), skin_tone="balanced")
"""
from __future__ import annotations

from collections import Counter

import torch

from . import faces, seed_plan
from .images import from_generator, from_uint8
from .probe import AttributeProbe
from .stylegan2 import Generator

REFERENCE_SEED = seed_plan.QUALITY_REFERENCE  # renders the generated samples are compared with (never trained on)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (N, D) clouds of features.

    Raises ValueError unless both are (N, D) feature sets with the same D and N >= 2.
    """
    a, b = features_a.double(), features_b.double()
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"expected two (N, D) feature sets with the same D and N >= 2, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)  # (D, D)
    # tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric PSD matrix
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    middle = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * middle)


@torch.no_grad()
def generate(generator: Generator, n: int, seed: int, batch: int = 128, truncation_psi: float = 1.0) -> torch.Tensor:
    """(n, 3, R, R) samples in [0, 1] from seeded latents (z drawn on the CPU, so any device agrees)."""
    z = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    device = next(generator.parameters()).device
    chunks = [generator(z[i:i + batch].to(device), truncation_psi=truncation_psi, noise_mode="const")
              for i in range(0, n, batch)]
    return from_generator(torch.cat(chunks), clamp=True).cpu()


def renders(n: int, seed: int = REFERENCE_SEED, **overrides) -> tuple[list[dict], torch.Tensor]:
    """n fresh renders of the face world: (attribute dicts, (n, 3, 64, 64) in [0, 1])."""
    images, attribute_dicts = faces.dataset(n, seed, **overrides)
    return attribute_dicts, from_uint8(images)


def distribution(attribute_dicts: list[dict]) -> dict[str, dict[str, float]]:
    """Share of each category (continuous attributes: of each named group) among the faces."""
    out = {}
    for a in faces.ATTRIBUTES:
        values = [d[a.name] for d in attribute_dicts]
        if a.kind == "continuous":
            values = [faces.group_of(a.name, v) for v in values]
            names = [g[0] for g in a.groups]
        else:
            names = list(a.values_or_range)
        counts = Counter(values)
        out[a.name] = {name: counts[name] / max(len(values), 1) for name in names}
    return out


def evaluate_generator(generator: Generator, probe: AttributeProbe, skin_tone="balanced", n: int = 2000,
                       seed: int = 0) -> dict:
    """Fréchet distance to renders of the training world, and attribute distributions, read by the probe.

    The renders' distribution is also read by the probe (not taken from their true attributes), so a
    probe error affects both columns alike.
    """
    _, real = renders(n, skin_tone=skin_tone)
    _, more_real = renders(n, REFERENCE_SEED + n, skin_tone=skin_tone)  # a perfect generator's score, for scale
    fake = generate(generator, n, seed)
    real_features, fake_features = probe.embed(real), probe.embed(fake)  # one probe pass each, read twice
    real_attrs, fake_attrs = probe.read(real_features), probe.read(fake_features)
    return {"n": n, "frechet_distance": frechet_distance(real_features, fake_features),
            "frechet_renders": frechet_distance(real_features, probe.embed(more_real)),
            "renders": distribution(real_attrs), "generated": distribution(fake_attrs)}
