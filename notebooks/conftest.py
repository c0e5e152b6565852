"""Notebook tests (nbval): every notebook runs in fast mode, with this checkout's package importable.

The kernel nbval starts inherits this process's environment, so the variables are set just before each
notebook cell is set up (the first one starts the kernel) and restored afterwards: the Python tests
never see them.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _kernel_environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {"PULSE_TEACH_FAST": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.path.suffix == ".ipynb":
        item._saved_environment = {key: os.environ.get(key) for key in _kernel_environment()}
        os.environ.update(_kernel_environment())


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    for key, value in getattr(item, "_saved_environment", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_collection_modifyitems(items):
    """Compare the reference outputs of keep_output cells although nbstripout blanked their execution counts.

    nbval treats a cell with outputs but no execution count as an "unrun reference" and fails it;
    nbstripout keeps the outputs of keep_output cells but always removes the count.
    """
    for item in items:
        cell = getattr(item, "cell", None)
        if item.path.suffix == ".ipynb" and cell is not None and cell.get("outputs") and cell.get("execution_count") is None:
            cell["execution_count"] = 1
