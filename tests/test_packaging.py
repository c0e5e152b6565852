"""The package carries what it needs at run time: the wheel a user installs (pip from git builds one too)
holds every bundled file, every subpackage, and the notebooks install it with one and the same cell."""
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pulse_teach import bundled

REPO = Path(__file__).resolve().parents[1]
COLAB_CELL = (
    '# @title Install pulse_teach (on Colab only; does nothing elsewhere)\n'
    'import sys\n'
    '\n'
    'if "google.colab" in sys.modules:  # Colab keeps its torch and ipywidgets: pulse_teach sets lower bounds only\n'
    '    get_ipython().run_line_magic("pip", "install -q \\"pulse_teach @ git+https://github.com/pulse-teach/pulse_teach\\"")'
)


def _tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(REPO)], check=True, capture_output=True)
    (wheel,) = out.glob("pulse_teach-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_holds_every_bundled_file(wheel_names):
    data = [name for name in _tracked("data") if not name.endswith("__init__.py")]
    assert {"data/models/faces64.pt", "data/models/faces64.md", "data/models/probe.pt", "data/samples/index.json"} <= set(data)
    missing = [name for name in data if f"pulse_teach/{name}" not in wheel_names]
    assert not missing, f"the wheel lacks {missing}: add their pattern to [tool.setuptools.package-data]"


def test_the_wheel_holds_every_module(wheel_names):
    modules = [name for name in _tracked("pulse_teach") if name.endswith(".py")]
    missing = [name for name in modules if name not in wheel_names]
    assert not missing, f"the wheel lacks {missing}: list their package in [tool.setuptools] packages"


def test_every_subpackage_is_listed_in_pyproject():
    block = re.search(r"^packages = \[(.*?)\]$", (REPO / "pyproject.toml").read_text(), re.M | re.S).group(1)
    listed = set(re.findall(r'"([\w.]+)"', block))
    found = {str(p.parent.relative_to(REPO)).replace("/", ".") for p in (REPO / "pulse_teach").rglob("__init__.py")}
    assert found | {"pulse_teach.data", "pulse_teach.data.models", "pulse_teach.data.samples"} == listed


def test_bundled_files_are_found_through_the_data_package():
    assert bundled.data_root() == REPO / "data"  # this checkout's editable install maps pulse_teach.data to data/
    assert bundled.bundled_file("models/faces64.md").read_text().startswith("#")


def test_a_missing_bundled_file_says_what_is_missing_and_how_to_get_it():
    with pytest.raises(FileNotFoundError, match=r"bundled file models/nothing.pt is missing .*reinstall pulse_teach"):
        bundled.bundled_file("models/nothing.pt")
    with pytest.raises(FileNotFoundError, match=r"models/nothing.pt is missing .*train it; or reinstall"):
        bundled.bundled_file("models/nothing.pt", how="train it")


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_installs_itself_with_the_same_colab_cell(path):
    first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    assert "".join(first["source"]) == COLAB_CELL


def test_a_checkout_on_the_python_path_finds_its_data(monkeypatch):
    """Run from a checkout without installing (PYTHONPATH=., as on a borrowed GPU machine): data/ is used."""
    from pulse_teach import bundled

    def not_installed(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(bundled.importlib.resources, "files", not_installed)
    assert bundled.data_root() == Path(bundled.__file__).resolve().parents[1] / "data"
    assert bundled.bundled_file("models/faces64.pt").is_file()
