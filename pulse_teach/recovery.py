"""What did PULSE recover, and what did it imagine? Measured against the known true face.

PULSE returns many faces that all downscale to the input. In the face world the true face and its
attributes are known, so two questions get numbers:

- diversity: are the accepted solutions different faces (mean pairwise distance among them) or one
  face found many times? Compare it with their mean distance to the truth;
- attributes: for each attribute, the share of solutions whose probe reading matches the truth.
  Coarse attributes (visible at 8x8) should be recovered; fine ones are guessed from the prior.

    report = recovery_report(result, truth=sample.truth, truth_attributes=sample.attributes, probe=load_probe())
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from . import faces
from .probe import AttributeProbe
from .pulse import PulseResult


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square pixel difference of two (3, H, W) images in [0, 1]."""
    return float((a - b).square().mean().sqrt())


def diversity(solutions: torch.Tensor, truth: torch.Tensor | None = None) -> dict[str, float]:
    """Mean pairwise RMS distance among (S, 3, R, R) solutions, and (with truth) their mean distance to it."""
    pairs = list(itertools.combinations(range(len(solutions)), 2))
    out = {"solutions": len(solutions),
           "mean_pairwise": float(np.mean([rms_distance(solutions[i], solutions[j]) for i, j in pairs]))
           if pairs else float("nan")}
    if truth is not None:
        out["mean_to_truth"] = (float(np.mean([rms_distance(s, truth) for s in solutions]))
                                if len(solutions) else float("nan"))
    return out


def attribute_agreement(predicted: list[dict], truth_attributes: dict) -> dict[str, float]:
    """Per attribute, the share of predictions equal to the truth (continuous: in the same named group)."""
    out = {}
    for a in faces.ATTRIBUTES:
        truth = truth_attributes[a.name]
        if a.kind == "continuous":
            same = [faces.group_of(a.name, p[a.name]) == faces.group_of(a.name, truth) for p in predicted]
        else:
            same = [p[a.name] == truth for p in predicted]
        out[a.name] = float(np.mean(same)) if same else float("nan")
    return out


def recovery_report(result: PulseResult, truth: torch.Tensor, truth_attributes: dict | None = None,
                    probe: AttributeProbe | None = None) -> dict:
    """Acceptance, diversity of the accepted solutions, and (with a probe) attribute agreement with the truth."""
    accepted = result.images[result.accepted.cpu()].detach().clamp(0, 1).cpu()  # (A, 3, R, R)
    report = {"accepted": int(result.accepted.sum()), "seeds": len(result.seeds),
              "diversity": diversity(accepted, truth.cpu())}
    if probe is not None and truth_attributes is not None and len(accepted):
        predicted = probe.predict(accepted)
        report["agreement"] = attribute_agreement(predicted, truth_attributes)
        report["coarse_agreement"] = float(np.mean([report["agreement"][n] for n in faces.COARSE]))
        report["fine_agreement"] = float(np.mean([report["agreement"][n] for n in faces.FINE]))
        report["predicted"] = predicted
    return report
