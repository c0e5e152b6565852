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
from .images import from_uint8, quantize, save_image, to_tensor

SAMPLES_DIR = data_root() / "samples"  # data/samples in the repository, pulse_teach/data/samples installed
SAMPLES_SEED = seed_plan.LESSON_SAMPLES  # held out: no model or probe trains or is evaluated on these
HELD_OUT_SEED = seed_plan.BENCHMARK_FACES  # more held-out faces, for benchmarks: not the lesson samples either
LOW_RES_SIDES = (16, 8)


@dataclass
class Sample:
    """One held-out face: what it really is, and what PULSE is given."""

    name: str
    attributes: dict
    truth: torch.Tensor  # (3, 64, 64) in [0, 1]
    low_res: dict[int, torch.Tensor]  # side -> (3, side, side) in [0, 1], bicubic downscales of truth
    seed: int  # faces.dataset seed that drew it


# The confound of the bias lesson: a light face in shade and a dark face in the sun give nearly the same
# 8x8 input (faces.expose). Each ambiguous pair shares every other attribute.
AMBIGUOUS = ({"skin_tone": 0.15, "exposure": -0.6}, {"skin_tone": 0.8, "exposure": 0.8})


def low_res_input(truth: torch.Tensor, factor: int) -> torch.Tensor:
    """What PULSE is given for a face: (N, 3, R, R) -> (N, 3, R/f, R/f), PULSE's bicubic downscale by
    ``factor`` rounded to 8 bits, as the lessons' PNG inputs are. Raises what ``bicubic_downsample`` raises."""
    return quantize(bicubic_downsample(truth, factor))


def write_samples(out_dir: str | os.PathLike = SAMPLES_DIR, per_group: int = 4, pairs: int = 2) -> list[str]:
    """Render held-out faces into out_dir and return their names.

    face0 ... : per_group light-skinned, then per_group dark-skinned faces; then ``pairs`` ambiguous pairs
    (a light face in shade, then the same face dark-skinned in the sun: ``AMBIGUOUS``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names, index = [], []
    drawn = [(SAMPLES_SEED + g, group, faces.sample_attributes(per_group, SAMPLES_SEED + g, skin_tone=group))
             for g, group in enumerate(("light", "dark"))]
    for i, face in enumerate(faces.sample_attributes(pairs, SAMPLES_SEED + 2)):
        drawn += [(SAMPLES_SEED + 2, f"ambiguous pair {i}", [{**face, **fixed}]) for fixed in AMBIGUOUS]
    for seed, kind, attribute_dicts in drawn:
        for i, attributes in enumerate(attribute_dicts):
            name = f"face{len(names)}"
            truth = from_uint8(faces.render(attributes)[None])[0]  # (3, 64, 64)
            save_image(truth, out_dir / f"{name}_64.png")
            for side in LOW_RES_SIDES:
                save_image(bicubic_downsample(truth[None], 64 // side)[0].clamp(0, 1), out_dir / f"{name}_{side}.png")
            record = {"name": name, "seed": seed, "index": i, "kind": kind, "attributes": attributes}
            (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
            names.append(name)
            index.append({"name": name, "skin_group": faces.skin_group(attributes["skin_tone"]), "kind": kind})
    (out_dir / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return names


def held_out_samples(n: int, seed: int = HELD_OUT_SEED) -> list[Sample]:
    """n held-out faces made like the lesson samples but never written: the first (n + 1) // 2 light-skinned
    (faces.dataset seed ``seed``), the rest dark-skinned (seed + 1). Named held0, held1, ...

    Inputs as ``write_samples`` stores them: bicubic downscales of the truth, rounded to 8 bits as the PNG is.
    """
    light = faces.sample_attributes((n + 1) // 2, seed, skin_tone="light")
    dark = faces.sample_attributes(n // 2, seed + 1, skin_tone="dark")
    out = []
    for i, attributes in enumerate(light + dark):
        truth = from_uint8(faces.render(attributes)[None])[0]  # (3, 64, 64)
        low_res = {side: low_res_input(truth[None], 64 // side)[0] for side in LOW_RES_SIDES}  # (3, side, side)
        out.append(Sample(f"held{i}", attributes, truth, low_res, seed if i < len(light) else seed + 1))
    return out


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
