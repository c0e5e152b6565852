import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch
from PIL import Image

from nvidia_lookalike import lookalike_pickle, random_generator
from pulse_teach.cli import build_parser, main
from pulse_teach.cli.options import preset_factor, pulse_config
from pulse_teach.downloads import record_path
from pulse_teach.models import KNOWN_MODELS, model_path
from pulse_teach.pulse import PulseConfig
from pulse_teach.samples import SAMPLES_DIR, load_sample

REPO = Path(__file__).resolve().parents[1]
FACE_8 = SAMPLES_DIR / "face0_8.png"
TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)


def test_demo_writes_solutions_a_contact_sheet_and_a_report(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "pulse_teach", "demo", "--steps", "4", "--seeds", "2", "--out", str(out),
                           "--fit-samples", "2000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "accepted" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert [s["seed"] for s in report["seeds"]] == [0, 1]
    assert report["steps_run"] == 4 and report["factor"] == 8
    for s in report["seeds"]:  # solution_seedN.png if accepted, else missed_seedN.png: every seed is kept
        assert s["image"] == f"{'solution' if s['accepted'] else 'missed'}_seed{s['seed']}.png"
        assert Image.open(out / s["image"]).size == (64, 64)
        assert Image.open(out / s["downscaled"]).size == (8, 8)
    # the demo is `upsample` on a bundled picture: same report, same input handling
    assert report["model"] == "faces64" and report["input"]["source"].endswith("face0_8.png")
    assert report["input"]["low_res_side"] == 8 and report["input"]["notices"] == []
    assert json.loads((out / "summary.json").read_text())["inputs"][0]["status"] == "done"
    assert Image.open(out / "contact_sheet.png").size[0] > 300
    assert not list(out.glob(".*partial*"))  # atomic writes leave no temporary files
    assert report["recovery"]["seeds"] == 2 and "mean_pairwise" in report["recovery"]["diversity"]
    assert report["recovery"]["truth_attributes"] == load_sample("face0").attributes  # next to what the probe reads
    assert Image.open(out / "truth.png").size == (64, 64) and Image.open(out / "input.png").size == (8, 8)


def test_help_lists_examples(capsys):
    for command in ("demo", "upsample"):
        with pytest.raises(SystemExit) as caught:
            main([command, "--help"])
        assert caught.value.code == 0 and "examples:" in capsys.readouterr().out


def test_usage_error_exits_with_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--seeds", "many"])
    assert caught.value.code == 2 and "invalid int value" in capsys.readouterr().err
    assert main(["demo", "--model", "no-such-model"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown model 'no-such-model'")


def test_demo_from_the_64px_face_downscales_it_first(tmp_path, capsys):
    out = tmp_path / "demo4"
    assert main(["demo", "--low-res", "4", "--steps", "2", "--seeds", "2", "--fit-samples", "2000", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["factor"] == 16 and report["input"]["source"].endswith("face0_64.png")
    assert "downscaled x16 to 4x4 first" in report["input"]["notices"][0]
    assert Image.open(out / "input.png").size == (4, 4) and Image.open(out / "truth.png").size == (64, 64)
    assert "accepted solutions differ" in capsys.readouterr().out or report["recovery"]["accepted"] == 0


# ---- models, --preset, --no-download, refused files, evaluate -------------------------------------------------

def test_models_lists_bundled_and_nvidia_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PULSE_TEACH_CACHE", str(tmp_path / "cache"))  # empty: nothing downloaded
    assert main(["models"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["faces64"][1:3] == ["bundled", "yes"]
    assert rows["ffhq-1024"][1:5] == ["nvidia", "no", "382", "MB"]


def test_the_console_script_is_cli_main():
    script = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["pulse-teach"]
    module, name = script.split(":")
    assert getattr(importlib.import_module(module), name) is main  # python -m: test_demo_writes_... above


def test_no_download_names_the_url_and_downloads_nothing(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PULSE_TEACH_CACHE", str(cache))
    out = tmp_path / "out"
    assert main(["upsample", str(FACE_8), "--model", "ffhq-1024", "--no-download", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 'ffhq-1024' is not downloaded yet") and "\n" not in err
    assert KNOWN_MODELS["ffhq-1024"].url in err
    assert not list(cache.rglob("*.pkl")) and not out.exists()


def test_a_changed_download_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """A cached NVIDIA file that no longer matches its record raises DownloadError: exit 2, no traceback."""
    monkeypatch.setenv("PULSE_TEACH_CACHE", str(tmp_path / "cache"))
    path = model_path("ffhq-256")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x80\x04not the network")
    record_path(path).write_text(json.dumps({"size": 1, "sha256": "0" * 64}))
    assert main(["demo", "--model", "ffhq-256", "--no-download", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path} changed since it was recorded") and "\n" not in err


class _Call:
    """Pickles as a call of ``func(*args)``: a plain unpickler would run it."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("kind, refusal", [("nvidia pickle", "refused global posix.system"),
                                           ("torch.save file", "unsupported GLOBAL posix.system")])
def test_malicious_model_files_are_refused_in_one_line(tmp_path, capsys, kind, refusal):
    marker = tmp_path / "pwned"
    if kind == "nvidia pickle":  # a real-looking network pickle with a payload in a layer's state
        data = lookalike_pickle(random_generator(TINY), extra_state={"evil": _Call(os.system, f"touch {marker}")})
        evil = tmp_path / "evil.pkl"
        evil.write_bytes(data)
    else:
        evil = tmp_path / "evil.pt"
        torch.save({"g_ema": _Call(os.system, f"touch {marker}")}, evil)
    assert main(["upsample", str(FACE_8), "--model", str(evil), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {evil}: ") and refusal in err and "\n" not in err
    assert "weights_only" not in err  # torch's advice to load it unsafely is not passed on
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_preset_gives_the_official_settings_and_explicit_options_win():
    parse = build_parser().parse_args
    plain = pulse_config(parse(["upsample", "x.png"]))
    assert (plain.num_seeds, plain.sphere_radius) == (8, "sqrt_d")  # the command line's defaults, unchanged
    official = pulse_config(parse(["upsample", "x.png", "--preset", "x64"]))
    assert official == PulseConfig.preset("x64")
    assert (official.num_seeds, official.sphere_radius, official.steps) == (1, "initial", 100)
    mine = pulse_config(parse(["demo", "--preset", "x32", "--seeds", "3", "--steps", "7", "--eps", "0.01"]))
    assert mine == PulseConfig.preset("x32", num_seeds=3, steps=7, eps=0.01)
    for preset, factor in (("x64", 64), ("x32", 32)):  # on a 1024 px model: 16x16 and 32x32 inputs
        args = parse(["upsample", "x.png", "--preset", preset])
        assert preset_factor(args, 1024) == factor and preset_factor(args, 64) is None
    assert preset_factor(parse(["upsample", "x.png"]), 1024) is None


def test_evaluate_prints_the_distance_and_what_two_sets_of_renders_score(tmp_path, capsys):
    assert main(["evaluate", "faces64", "--n", "64", "--json", str(tmp_path / "q.json")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    report = json.loads((tmp_path / "q.json").read_text())
    assert 0 < report["frechet_renders"] < report["frechet_distance"]  # renders are closer to renders
    assert first == (f"Fréchet distance (probe features, 64 samples vs renders): {report['frechet_distance']:.2f} "
                     f"(two sets of renders: {report['frechet_renders']:.2f})")
