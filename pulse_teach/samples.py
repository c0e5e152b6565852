"""Lesson data: a few held-out faces with their attributes, 64x64 truth, and 16x16 and 8x8 inputs.

The faces come from seeds no model or probe ever trained on, so PULSE on them is honest: the
generator has never seen the true face. The small inputs are made with PULSE's own downscaler
(antialiased bicubic), as PULSE's loss assumes, and stored as PNG like any picture a student would use.

    sample = load_sample("face0")
    sample.truth              # (3, 64, 64) in [0, 1]
    sample.low_res[8]         # (3, 8, 8): the input a lesson gives PULSE
    sample.attributes         # {"skin_tone": 0.31, "glasses": "round", ...}
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from . import faces, seed_plan
from .bundled import REINSTALL, data_root
from .downscale import bicubic_downsample
from .images import from_uint8, save_image, to_tensor

SAMPLES_DIR = data_root() / "samples"  # data/samples in the repository, pulse_teach/data/samples installed
SAMPLES_SEED = seed_plan.LESSON_SAMPLES  # held out: no model or probe trains or is evaluated on these
LOW_RES_SIDES = (16, 8)


@dataclass
class Sample:
    """One held-out face: what it really is, and what PULSE is given."""

    name: str
    attributes: dict
    truth: torch.Tensor  # (3, 64, 64) in [0, 1]
    low_res: dict[int, torch.Tensor]  # side -> (3, side, side) in [0, 1], bicubic downscales of truth
    seed: int  # faces.dataset seed that drew it


def write_samples(out_dir: str | os.PathLike = SAMPLES_DIR, per_group: int = 4) -> list[str]:
    """Render per_group light-skinned and per_group dark-skinned held-out faces into out_dir; return names."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names, index = [], []
    for g, group in enumerate(("light", "dark")):
        images, attribute_dicts = faces.dataset(per_group, SAMPLES_SEED + g, skin_tone=group)
        truths = from_uint8(images)  # (n, 3, 64, 64)
        for i, (truth, attributes) in enumerate(zip(truths, attribute_dicts)):
            name = f"face{len(names)}"
            save_image(truth, out_dir / f"{name}_64.png")
            for side in LOW_RES_SIDES:
                save_image(bicubic_downsample(truth[None], 64 // side)[0].clamp(0, 1), out_dir / f"{name}_{side}.png")
            record = {"name": name, "seed": SAMPLES_SEED + g, "index": i, "skin_tone_override": group,
                      "attributes": attributes}
            (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
            names.append(name)
            index.append({"name": name, "skin_group": faces.skin_group(attributes["skin_tone"])})
    (out_dir / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return names


def list_samples(samples_dir: str | os.PathLike = SAMPLES_DIR) -> list[str]:
    """Names of the bundled samples, in order; FileNotFoundError (saying how to get them) when they are missing."""
    path = Path(samples_dir) / "index.json"
    if not path.is_file():
        raise FileNotFoundError(f"no lesson samples at {samples_dir} (no index.json). To get them: "
                                f"{REINSTALL}; or write them with pulse_teach.samples.write_samples()")
    return [entry["name"] for entry in json.loads(path.read_text())]


def load_sample(name: str, samples_dir: str | os.PathLike = SAMPLES_DIR) -> Sample:
    """A bundled sample by name (see ``list_samples``).

    Raises ValueError for an unknown name, FileNotFoundError (saying how to get them) when the samples are missing.
    """
    samples_dir = Path(samples_dir)
    if name not in list_samples(samples_dir):
        raise ValueError(f"unknown sample {name!r}; expected one of {list_samples(samples_dir)}")
    record = json.loads((samples_dir / f"{name}.json").read_text())

    def read(side: int) -> torch.Tensor:
        with Image.open(samples_dir / f"{name}_{side}.png") as image:
            return to_tensor(image)[0]  # (3, side, side)

    return Sample(name, record["attributes"], read(64), {side: read(side) for side in LOW_RES_SIDES}, record["seed"])
