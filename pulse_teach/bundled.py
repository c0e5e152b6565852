"""Files that ship inside the package: the bundled models, their model cards and the lesson faces.

The repository keeps them in the top-level ``data/``; the build maps that folder to the package
``pulse_teach.data`` (``[tool.setuptools.package-dir]`` in pyproject.toml), so a wheel holds
``pulse_teach/data/...`` and an editable install points at ``data/``. Both are found the same way,
through ``importlib.resources``:

    bundled_file("models/faces64.pt")     # -> Path; FileNotFoundError that says how to get it back
    data_root() / "samples"               # where the lesson faces are (or would be)
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

DATA_PACKAGE = "pulse_teach.data"
REPOSITORY = "https://github.com/pulse-teach/pulse_teach"
REINSTALL = (f'reinstall pulse_teach with its data: pip install --force-reinstall "pulse_teach @ git+{REPOSITORY}" '
             '(from a checkout: pip install .)')


def data_root() -> Path:
    """The folder of the bundled files: ``pulse_teach/data`` of an installed wheel, ``data/`` of a checkout
    (installed editable, or on PYTHONPATH as on a borrowed GPU machine).

    An install without the data package gets the folder where a wheel would have put it, so that
    messages about missing files name a real place. Raises RuntimeError only when the package was
    imported from a zip file (the files must be real files for ``torch.load`` and Pillow).
    """
    try:
        root = importlib.resources.files(DATA_PACKAGE)
    except ModuleNotFoundError:  # not installed: run from a checkout (PYTHONPATH=.), or a wheel without data
        checkout = Path(__file__).resolve().parents[1] / "data"
        return checkout if (checkout / "models").is_dir() else Path(__file__).resolve().parent / "data"
    if not isinstance(root, Path):  # e.g. imported from a zip file: torch.load and Pillow need real files
        raise RuntimeError(f"pulse_teach's data is inside {root}, not on the file system; "
                           "install pulse_teach as a regular (unzipped) package")
    return root


def bundled_file(relative: str, how: str = "") -> Path:
    """The path of a bundled file, e.g. ``"models/faces64.pt"`` (relative to ``data_root()``).

    Raises FileNotFoundError naming the missing file, where it was looked for, and how to get it:
    ``how`` (e.g. the command that makes it) and, always, how to reinstall a package that lacks its data.
    """
    path = data_root() / relative
    if not path.is_file():
        advice = f"{how}; or {REINSTALL}" if how else REINSTALL
        raise FileNotFoundError(f"pulse_teach's bundled file {relative} is missing (looked in {path.parent}). "
                                f"To get it: {advice}")
    return path
