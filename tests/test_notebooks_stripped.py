"""Committed notebooks are stripped: no outputs (except cells tagged keep_output), no execution counts."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped(path):
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook.get("metadata", {}), "widget state is committed: run nbstripout"
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"{path.name} cell {index}"
        keep = "keep_output" in cell.get("metadata", {}).get("tags", []) or cell.get("metadata", {}).get("keep_output")
        assert cell.get("execution_count") is None, f"{where} has an execution count: run nbstripout"
        assert keep or not cell.get("outputs"), f"{where} has outputs but no keep_output tag: run nbstripout"
        assert all(o.get("execution_count") is None for o in cell.get("outputs", [])), f"{where}: output counts"
        if "NBVAL_CHECK_OUTPUT" in "".join(cell["source"]):  # nbval skips the check if nothing is stored
            assert keep and cell.get("outputs"), f"{where} is checked by nbval but stores no reference output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_imports_pulse_teach_before_torch(path):
    """OpenMP reads the waiting policy pulse_teach sets only when torch loads (README: CPU threads)."""
    code = [line for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines()]
    first = {name: next((i for i, line in enumerate(code) if line.startswith((f"import {name}", f"from {name}"))), None)
             for name in ("torch", "pulse_teach")}
    assert first["pulse_teach"] is not None, f"{path.name} never imports pulse_teach"
    assert first["torch"] is None or first["pulse_teach"] < first["torch"], f"{path.name} imports torch first"
