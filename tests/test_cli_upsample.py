import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pulse_teach.cli import main
from pulse_teach.samples import SAMPLES_DIR

FAST = ["--seeds", "2", "--steps", "3", "--fit-samples", "2000"]  # small Gaussian fit: no 10^6-sample wait
REPO = Path(__file__).resolve().parents[1]


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture
def pictures(tmp_path):
    """A 8x8 face, the same face at 64x64 as a JPEG, and two unusable files."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(SAMPLES_DIR / "face1_8.png").save(folder / "small.png")
    Image.open(SAMPLES_DIR / "face1_64.png").save(folder / "big.jpg", quality=95)
    (folder / "notes.png").write_text("not a picture")
    (folder / "empty.png").write_bytes(b"")
    return folder


def test_batch_goes_on_past_bad_files_and_exits_1(pictures, tmp_path, capsys):
    out = tmp_path / "out"
    files = [str(pictures / n) for n in ("notes.png", "small.png", "empty.png", "big.jpg")]
    assert main(["upsample", *files, *FAST, "--out", str(out)]) == 1
    stdout, stderr = capsys.readouterr()
    assert f"error: {pictures / 'notes.png'}: not an image, or a format Pillow cannot read" in stderr.splitlines()
    assert f"error: {pictures / 'empty.png'}: empty file (0 bytes)" in stderr.splitlines()
    assert "downscaled x8 to 8x8 first" in stderr  # big.jpg's notice
    summary = json.loads((out / "summary.json").read_text())
    assert [row["status"] for row in summary["inputs"]] == ["failed", "done", "failed", "done"]
    assert "2/4 done, 2 unusable" in stdout and "small.png" in stdout
    for name, reference in (("small", False), ("big", True)):
        report = json.loads((out / name / "report.json").read_text())
        assert report["model"] == "faces64" and report["device"] == "cpu" and report["factor"] == 8
        assert report["steps_run"] == 3 and report["wall_time_s"] > 0 and not report["interrupted"]
        assert report["settings"]["num_seeds"] == 2 and report["settings"]["eps"] == 2e-3
        assert [s["seed"] for s in report["seeds"]] == [0, 1]
        for s in report["seeds"]:
            assert s["l2"] > 0 and s["geocross"] > 0 and s["accepted"] == (s["l2"] <= 2e-3)
            assert Image.open(out / name / s["image"]).size == (64, 64)
            assert Image.open(out / name / s["downscaled"]).size == (8, 8)
        assert Image.open(out / name / "contact_sheet.png").size[0] > 300
        assert (out / name / "original.png").exists() == reference
    assert not list(out.rglob(".*partial*"))  # atomic writes leave no temporary files


def test_missed_seeds_are_kept_and_marked_and_accepted_ones_are_solutions(pictures, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["upsample", str(pictures / "small.png"), *FAST, "--eps", "0", "--out", str(out)]) == 0
    report = json.loads((out / "small" / "report.json").read_text())
    assert report["accepted"] == 0
    for s in report["seeds"]:  # nothing reaches eps 0, yet each seed's best try is reported and kept
        assert not s["accepted"] and np.isfinite(s["l2"]) and s["image"] == f"missed_seed{s['seed']}.png"
        assert (out / "small" / s["image"]).exists()
    assert "0/2" in capsys.readouterr().out
    assert main(["upsample", str(pictures / "small.png"), *FAST, "--eps", "1", "--out", str(out)]) == 0
    report = json.loads((out / "small" / "report.json").read_text())
    assert report["accepted"] == 2 and all(s["image"] == f"solution_seed{s['seed']}.png" for s in report["seeds"])
    assert sorted(p.name for p in (out / "small").glob("*seed*")) == [
        "solution_seed0.png", "solution_seed0_downscaled.png", "solution_seed1.png", "solution_seed1_downscaled.png"]


def test_same_seed_same_pictures(pictures, tmp_path, capsys):
    runs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert main(["upsample", str(pictures / "small.png"), *FAST, "--seed", seed.__str__(),
                     "--out", str(tmp_path / name)]) == 0
        report = json.loads((tmp_path / name / "small" / "report.json").read_text())
        runs.append((report, pixels(tmp_path / name / "small" / report["seeds"][0]["image"])))
    (a, image_a), (b, image_b), (c, image_c) = runs
    assert [s["seed"] for s in a["seeds"]] == [5, 6] and [s["seed"] for s in c["seeds"]] == [6, 7]
    assert np.array_equal(image_a, image_b) and [s["l2"] for s in a["seeds"]] == [s["l2"] for s in b["seeds"]]
    assert not np.array_equal(image_a, image_c)


@pytest.mark.parametrize("extra, message", [
    (["--factor", "5"], "--factor 5 does not divide"), (["--factor", "big"], "--factor must be 'auto' or an integer"),
    (["--crop", "1,2"], "crop must be four integers"), (["--model", "no-such-model"], "unknown model"),
    (["--steps", "0"], "steps must be >= 1"), (["--loss", "100*L3"], "unknown loss term"),
    (["--background", "plaid"], "background must be"),
])
def test_usage_errors_exit_2_with_one_line(pictures, tmp_path, capsys, extra, message):
    assert main(["upsample", str(pictures / "small.png"), *extra, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_argparse_usage_errors_and_help(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["upsample"])  # no IMAGE
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["upsample", "--help"])
    assert caught.value.code == 0
    help_text = capsys.readouterr().out
    assert "examples:" in help_text and "Exit status" in help_text
    for option in ("--model", "--factor", "--seeds", "--steps", "--eps", "--loss", "--seed", "--device", "--out",
                   "--crop", "--background", "--max-pixels", "--preset", "--no-download"):
        assert option in help_text, option


def test_ctrl_c_keeps_finished_images_and_writes_the_report(pictures, tmp_path):
    out = tmp_path / "out"
    files = [str(pictures / n) for n in ("notes.png", "small.png", "big.jpg", "small.png")]
    proc = subprocess.Popen([sys.executable, "-m", "pulse_teach", "upsample", *files, "--seeds", "1", "--steps", "10",
                             "--fit-samples", "2000", "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # wait until the first picture is done and the second one is being worked on
        seen.append(line)
        if "big.jpg: " in line and "downscaled x8" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Ctrl-C: stopping" in stderr
    assert f"error: {pictures / 'notes.png'}: not an image, or a format Pillow cannot read" in stderr.splitlines()
    summary = json.loads((out / "summary.json").read_text())
    statuses = [row["status"] for row in summary["inputs"]]
    assert summary["interrupted"] and statuses == ["failed", "done", "interrupted", "not started"], statuses
    report = json.loads((out / "small" / "report.json").read_text())
    assert report["steps_run"] == 10 and not report["interrupted"]
    assert (out / "small" / report["seeds"][0]["image"]).exists() and (out / "small" / "contact_sheet.png").exists()
    second = out / "big" / "report.json"
    if second.exists():  # stopped mid-search: its best so far is kept and marked
        partial = json.loads(second.read_text())
        assert partial["interrupted"] and partial["steps_run"] < 10
        assert (out / "big" / partial["seeds"][0]["image"]).exists()
    assert not (out / "small-2").exists()  # the third input was never started
    assert not list(out.rglob(".*partial*"))
    assert "1/4 done" in stdout
