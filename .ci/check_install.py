"""Check an installed pulse_teach the way a user gets it: run from outside the checkout, in a venv holding the wheel.

    python .ci/check_install.py CHECKOUT

Fails (exit status 1, one line per problem) if the package was imported from CHECKOUT, or if any bundled
model, the probe, a model card or a lesson face cannot be loaded from the installed package.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

import pulse_teach
from pulse_teach import list_samples, load_generator, load_probe, load_sample
from pulse_teach.bundled import bundled_file, data_root
from pulse_teach.models import KNOWN_MODELS


def main(checkout: Path) -> int:
    installed = Path(pulse_teach.__file__).resolve().parent
    problems = []
    if checkout.resolve() in installed.parents:
        problems.append(f"pulse_teach was imported from the checkout ({installed}), not from the installed wheel")
    if installed not in data_root().parents:
        problems.append(f"the bundled data is at {data_root()}, not inside the installed package {installed}")
    bundled = [name for name, source in KNOWN_MODELS.items() if source.kind == "bundled"]
    for name in bundled:
        try:
            G = load_generator(name)
            with torch.no_grad():
                images = G(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0)), noise_mode="const")
            assert images.shape == (2, 3, G.resolution, G.resolution) and torch.isfinite(images).all()
            bundled_file(f"models/{KNOWN_MODELS[name].file.removesuffix('.pt')}.md")
            print(f"ok  model {name}: {G.resolution}x{G.resolution}, card present")
        except Exception as error:  # report every problem, not only the first
            problems.append(f"model {name}: {type(error).__name__}: {error}")
    try:
        probe = load_probe()
        bundled_file("models/probe.md")
        names = list_samples()
        faces = [load_sample(name) for name in names]
        predictions = probe.predict(torch.stack([face.truth for face in faces]))
        assert names and len(predictions) == len(faces) == len(names)  # every listed face loads and is read
        print(f"ok  probe and card; {len(faces)} lesson faces ({', '.join(names)}) read by the probe")
    except Exception as error:
        problems.append(f"probe or samples: {type(error).__name__}: {error}")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"pulse_teach {installed}: " + ("install OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
