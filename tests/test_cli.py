import json
import subprocess
import sys

from PIL import Image


def test_demo_writes_solutions_a_contact_sheet_and_a_report(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "pulse_teach", "demo", "--steps", "4", "--seeds", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "accepted" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert [s["seed"] for s in report["seeds"]] == [0, 1]
    assert report["steps_run"] == 4 and report["factor"] == 8
    for seed in (0, 1):
        assert Image.open(out / f"solution_seed{seed}.png").size == (64, 64)
        assert Image.open(out / f"solution_seed{seed}_downscaled.png").size == (8, 8)
    assert Image.open(out / "contact_sheet.png").size[0] > 300
    assert not list(out.glob(".*partial*"))  # atomic writes leave no temporary files
    assert report["recovery"]["seeds"] == 2 and "mean_pairwise" in report["recovery"]["diversity"]
    assert Image.open(out / "truth.png").size == (64, 64) and Image.open(out / "input.png").size == (8, 8)


def test_help_lists_examples():
    proc = subprocess.run([sys.executable, "-m", "pulse_teach", "demo", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "examples:" in proc.stdout


def test_usage_error_exits_with_2():
    proc = subprocess.run([sys.executable, "-m", "pulse_teach", "demo", "--seeds", "many"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid int value" in proc.stderr
