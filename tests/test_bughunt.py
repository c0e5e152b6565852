"""Issue 12: faults real users hit, each as the kind of input that caused it (../shared/bughunt/ cases).

Every input is made here from scratch (tiny random generators, synthetic pictures); the case number
in each test's name is the bughunt case it stands for.
"""
from __future__ import annotations

import dataclasses
import io
import json
import pickle
import shutil
import struct
import warnings
import zlib
from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image

import pulse_teach.cli.reports as reports
import pulse_teach.cli.upsample as cli_upsample
import pulse_teach.inputs as inputs
from nvidia_lookalike import (
    FakePersistent,
    _easydict,
    fake_nvidia_modules,
    generator_init_kwargs,
    lookalike_pickle,
    random_generator,
    stub_of,
)
from pulse_teach.checkpoints import detect_format, to_rosinality
from pulse_teach.cli import main
from pulse_teach.images import to_tensor
from pulse_teach.inputs import InputError, prepare_input
from pulse_teach.models import ModelNotice, load_generator
from pulse_teach.nvidia_pickle import restricted_load
from pulse_teach.pulse import PulseConfig, PulseOutOfMemory, missed_eps_advice, upsample
from pulse_teach.samples import SAMPLES_DIR

TINY = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2)


def _outputs(G, noise_mode: str = "const") -> torch.Tensor:
    G = G.to(memory_format=torch.channels_last)  # as load_generator leaves it on a CPU: bit-equal outputs
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return G(z, truncation_psi=0.7, noise_mode=noise_mode)


def _load_quietly(path):
    """load_generator, returning (generator, notices issued as ModelNotice warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        G = load_generator(path)
    notices = [str(w.message) for w in caught if issubclass(w.category, ModelNotice)]
    return G, notices


# ---- case 06: state a checkpoint may lack ------------------------------------------------------------------

def test_case06_rosinality_without_noise_buffers_loads_with_seeded_noise_and_a_notice(tmp_path):
    G = random_generator(TINY)
    payload = to_rosinality(G)
    payload["g_ema"] = {k: v for k, v in payload["g_ema"].items() if not k.startswith("noises.")}
    torch.save(payload, tmp_path / "old.pt")
    loaded, notices = _load_quietly(tmp_path / "old.pt")
    assert len(notices) == 1 and notices[0].startswith("old.pt: 5 of its fixed noise maps are missing")
    assert "seed 0" in notices[0]
    again, _ = _load_quietly(tmp_path / "old.pt")
    state, original = loaded.state_dict(), G.state_dict()
    for name, tensor in original.items():
        if name.endswith("noise_const"):  # drawn again: N(0, 1), seeded, the same on every load
            assert torch.equal(state[name], again.state_dict()[name]) and not torch.equal(state[name], tensor)
            assert state[name].shape == tensor.shape and 0.3 < float(state[name].std()) < 2
        else:
            assert torch.equal(state[name], tensor), name
    assert torch.equal(_outputs(loaded, "none"), _outputs(G, "none"))  # everything learned is the file's


def test_case06_other_missing_state_is_rebuilt_exactly_or_refused_in_one_line(tmp_path):
    G = random_generator(TINY)
    with fake_nvidia_modules():  # an NVIDIA pickle whose layers lack their (fixed, derived) resample filters
        root = stub_of(G, generator_init_kwargs(G))
        root.state["_modules"]["synthesis"].state["_modules"]["b8"].state["_buffers"].pop("resample_filter")
        buffer = io.BytesIO()
        pickle.dump({"G_ema": root}, buffer)
    (tmp_path / "nofilter.pkl").write_bytes(buffer.getvalue())
    loaded = load_generator(tmp_path / "nofilter.pkl")
    assert torch.equal(_outputs(loaded), _outputs(G))
    ros = to_rosinality(G)
    del ros["g_ema"]["convs.1.conv.weight"]  # a learned weight: nothing can rebuild it
    torch.save(ros, tmp_path / "cut.pt")
    with pytest.raises(ValueError) as caught:
        load_generator(tmp_path / "cut.pt")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'cut.pt'}: 1 of a StyleGAN2 generator's weights are missing "
                              "(e.g. synthesis.b8.conv1.weight)") and "\n" not in message
    ros = to_rosinality(G)
    ros["g_ema"]["convs.0.conv.blur.kernel"] = torch.ones(4, 4) / 4  # another blur kernel: not ours to guess
    torch.save(ros, tmp_path / "blur.pt")
    with pytest.raises(ValueError, match=r"blur\.pt: convs\.0\.conv\.blur\.kernel is not the \[1, 3, 3, 1\] filter"):
        load_generator(tmp_path / "blur.pt")


# ---- case 08a: the shapes generator files come in -----------------------------------------------------------

def test_case08_bare_and_wrapped_generator_state_dicts_load(tmp_path):
    G = random_generator(TINY)
    ros = to_rosinality(G)
    files = {
        "bare.pt": ros["g_ema"],                                                   # torch.save(g_ema.state_dict())
        "only_g.pt": {"g": ros["g_ema"], "d": {"final_linear.1.bias": torch.zeros(1)}},  # no EMA copy saved
        "psp.pt": {"state_dict": {**{f"decoder.{k}": v for k, v in ros["g_ema"].items()},
                                  "encoder.input_layer.0.weight": torch.zeros(2)},
                   "latent_avg": ros["latent_avg"].expand(6, -1).clone()},       # pixel2style2pixel's layout
        "ours.pt": G.state_dict(),                                                 # our Generator's own state dict
    }
    for name, payload in files.items():
        torch.save(payload, tmp_path / name)
        loaded, notices = _load_quietly(tmp_path / name)
        assert detect_format(tmp_path / name) == ("state-dict" if name == "ours.pt" else "rosinality")
        assert all(n.startswith(f"{name}: ") for n in notices)
        with torch.no_grad():  # every learned tensor is the file's
            z = torch.randn(2, 32, generator=torch.Generator().manual_seed(2))
            assert torch.equal(loaded(z, noise_mode="const"), G.to(memory_format=torch.channels_last)(z, noise_mode="const"))
        has_w_avg = name in ("psp.pt", "ours.pt")
        assert any("no average w" in n for n in notices) == (not has_w_avg)  # else computed, and said
        assert torch.equal(_outputs(loaded), _outputs(G)) == has_w_avg  # truncation uses w_avg
        assert any("training generator 'g'" in n for n in notices) == (name == "only_g.pt")
        assert any("assumed none and 0.01" in n for n in notices) == (name == "ours.pt")  # what it had to assume


def test_case08_files_that_hold_no_generator_are_described_in_plain_words(tmp_path):
    torch.save({"final_linear.1.bias": torch.zeros(1), "convs.0.0.weight": torch.zeros(2)}, tmp_path / "d.pt")
    with pytest.raises(ValueError) as caught:
        load_generator(tmp_path / "d.pt")
    assert str(caught.value) == (f"{tmp_path / 'd.pt'}: no StyleGAN2 generator in this PyTorch checkpoint; it holds a "
                                 "dict with keys convs.0.0.weight, final_linear.1.bias (expected a rosinality "
                                 "checkpoint with 'g_ema', a bare generator state dict, or a pulse_teach export)")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt: .* it holds a list of 1 items"):
        load_generator(tmp_path / "list.pt")
    (tmp_path / "page.pkl").write_bytes(b"<!DOCTYPE html><html>Access denied</html>")
    with pytest.raises(ValueError, match=r"page\.pkl: not a generator file; .* a web page \(HTML\): a failed"):
        load_generator(tmp_path / "page.pkl")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.pt: empty file \(0 bytes\)"):
        load_generator(tmp_path / "empty.pt")
    for path in ("d.pt", "list.pt"):  # no internal class names in what the user reads
        with pytest.raises(ValueError) as caught:
            load_generator(tmp_path / path)
        assert "OrderedDict" not in str(caught.value) and "Stub" not in str(caught.value)


# ---- case 11: harmless numeric data loads through the restricted unpickler ---------------------------------

def _stylegan3_lookalike(arrays: bool) -> bytes:
    """A tiny StyleGAN3-shaped G_ema: like NVIDIA's, its layers keep sizes as numpy arrays, rates as numpy floats."""
    size = (lambda v: np.broadcast_to(np.asarray(v), [2])) if arrays else (lambda v: [v, v])

    def layer(name: str, channels: int, state: dict) -> FakePersistent:
        return FakePersistent(name, {"_parameters": OrderedDict(weight=torch.nn.Parameter(torch.randn(channels, 4))),
                                     "_buffers": OrderedDict(), "_modules": OrderedDict(), **state})

    with fake_nvidia_modules():
        synthesis = FakePersistent("SynthesisNetwork", {
            "_parameters": OrderedDict(), "_buffers": OrderedDict(), "img_resolution": 16, "num_ws": 4,
            "_modules": OrderedDict(input=layer("SynthesisInput", 8, dict(size=size(20), sampling_rate=np.float64(16))),
                                    L0_20_8=layer("SynthesisLayer", 8, dict(in_size=size(20), out_size=size(20))))})
        G = FakePersistent("Generator", {"_parameters": OrderedDict(), "_buffers": OrderedDict(), "num_ws": 4,
                                         "_modules": OrderedDict(synthesis=synthesis), "_init_kwargs": _easydict(z_dim=4)})
        return pickle.dumps({"G": G, "G_ema": G, "D": None}, protocol=4)


@pytest.mark.parametrize("arrays", [True, False])
def test_case11_stylegan3_pickle_gets_the_stylegan3_message_not_the_allow_list(tmp_path, arrays):
    path = tmp_path / "sg3.pkl"
    path.write_bytes(_stylegan3_lookalike(arrays))
    with pytest.raises(ValueError) as caught:
        load_generator(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: a StyleGAN3 generator") and "only StyleGAN2 networks are supported" in message
    assert "allow-list" not in message and "\n" not in message


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_case11_numeric_numpy_arrays_load_and_object_arrays_are_refused(protocol):
    data = {"size": np.broadcast_to(np.asarray(36), [2]), "grid": np.arange(12, dtype=np.float32).reshape(3, 4).T,
            "big": np.linspace(0, 1, 5000), "rate": np.float64(16.0), "flags": np.array([True, False])}
    loaded = restricted_load(io.BytesIO(pickle.dumps(data, protocol=protocol)))
    for key, value in data.items():
        assert np.array_equal(np.asarray(loaded[key]), value) and np.asarray(loaded[key]).dtype == value.dtype, key
    for bad in (np.array([print, 1], dtype=object), np.array([("a", 1)], dtype=[("n", "U1"), ("v", "i4")])):
        with pytest.raises(pickle.UnpicklingError, match="refused"):
            restricted_load(io.BytesIO(pickle.dumps({"x": bad}, protocol=protocol)))


# ---- case 21: a model's shape is checked when it is loaded -------------------------------------------------

def test_case21_greyscale_generator_is_accepted_at_load_and_other_channel_counts_are_refused(tmp_path):
    grey = random_generator({**TINY, "img_channels": 1})
    (tmp_path / "grey.pkl").write_bytes(lookalike_pickle(grey))
    loaded, notices = _load_quietly(tmp_path / "grey.pkl")
    assert loaded.img_channels == 1 and notices == [
        "grey.pkl: a greyscale generator (1 image channel): PULSE compares its grey faces with the input, so a "
        "colour input can rarely be matched within eps; give it greyscale inputs"]
    four = random_generator({**TINY, "img_channels": 4})
    torch.save(four.state_dict(), tmp_path / "rgba.pt")
    with pytest.raises(ValueError) as caught:
        load_generator(tmp_path / "rgba.pt")
    assert str(caught.value) == (f"{tmp_path / 'rgba.pt'}: the generator makes 4-channel images; PULSE works with "
                                 "colour (3 channels) or greyscale (1 channel) generators")


# ---- case 01b: one normalisation for every way a picture enters ---------------------------------------------

def _rgba_sprite(tmp_path) -> Image.Image:
    """make_case01: a 32x32 RGBA face on a transparent surround whose hidden colour is skin, not background."""
    yy, xx = np.mgrid[0:32, 0:32]
    rgba = np.zeros((32, 32, 4), np.uint8)
    face = ((xx - 15.5) ** 2 / 11 ** 2 + (yy - 15.5) ** 2 / 14 ** 2) <= 1
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = 200, 150, 120
    rgba[face, 3] = 255
    rgba[(yy == 12) & ((xx == 11) | (xx == 20)), :3] = 20
    rgba[:, :, 3][face & (yy > 28)] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    return Image.open(tmp_path / "rgba.png")


def _palette_with_transparency(tmp_path) -> Image.Image:
    """make_case16 (b): a palette PNG whose entry 0 (stored green) is transparent and entry 3 half transparent."""
    yy, xx = np.mgrid[0:32, 0:32]
    idx = np.zeros((32, 32), np.uint8)
    idx[((xx - 15.5) ** 2 / 10 ** 2 + (yy - 15.5) ** 2 / 13 ** 2) <= 1] = 1
    idx[yy > 26] = 3
    picture = Image.fromarray(idx, "P")
    picture.putpalette([0, 255, 0, 220, 170, 130, 30, 30, 30, 200, 0, 0] + [0] * (256 * 3 - 12))
    picture.save(tmp_path / "palette.png", transparency=bytes([0, 255, 255, 128] + [255] * 252))
    return Image.open(tmp_path / "palette.png")


def _grey16(tmp_path) -> Image.Image:
    """make_case14: a 16-bit greyscale PNG, a ramp from 0 to 65535 left to right (written by hand)."""
    ramp = (np.mgrid[0:32, 0:32][1] * 65535 // 31).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in ramp)
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    (tmp_path / "grey16.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 16, 0, 0, 0, 0))
                                          + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return Image.open(tmp_path / "grey16.png")


@pytest.mark.parametrize("make", [_rgba_sprite, _palette_with_transparency, _grey16])
def test_case01b_upsample_on_a_pil_picture_searches_against_prepare_inputs_target(tmp_path, make):
    G = load_generator("faces64")
    picture = make(tmp_path)
    result = upsample(G, picture, PulseConfig(steps=1, num_seeds=1, gaussian_fit_samples=2000))
    prepared = prepare_input(Image.open(picture.filename), G.resolution)
    assert torch.equal(result.target, prepared.low_res) and result.input_notices == prepared.notices
    assert result.input_notices  # each of these pictures needed a change, and says which
    if picture.mode == "I;16":  # the ramp survives (a plain conversion made it all white)
        assert float(result.target[:, :, 0].max()) < 0.1 and float(result.target[:, :, -1].min()) > 0.9
    else:  # transparent corners are the background (white), not the colour hidden under them
        assert torch.equal(result.target[:, 0, 0], torch.ones(3))
    with pytest.raises(ValueError, match=r"pass it through prepare_input\(picture, resolution\)"):
        to_tensor(picture)  # the lower-level door refuses instead of converting differently


def test_case01b_arrays_that_a_plain_conversion_would_misread_are_refused():
    assert torch.equal(to_tensor(np.full((2, 2, 3), 255, np.uint8)), torch.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match="got uint16; convert it, or give the picture to prepare_input"):
        to_tensor(np.full((2, 2, 3), 65535, np.uint16))
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got \[0, 255\]"):
        to_tensor(np.array([[[0.0, 255.0, 3.0]]]))


def test_library_device_that_is_not_here_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    G = load_generator("faces64")
    for call in (lambda: upsample(G, torch.rand(3, 8, 8), device="cuda"), lambda: load_generator("faces64", "cuda")):
        with pytest.raises(ValueError) as caught:
            call()
        assert str(caught.value).startswith("device 'cuda' is not available here; available: ")
        assert "\n" not in str(caught.value)
    assert next(G.parameters()).device.type == "cpu"


# ---- case 03: each input's folder is replaced as a whole ----------------------------------------------------

FAST = ["--steps", "2", "--fit-samples", "2000"]


def _run(*args) -> int:
    return main(["upsample", *map(str, args), *FAST])


def test_case03_reused_out_folders_never_mix_runs_and_a_failure_hides_the_old_result(tmp_path, capsys):
    picture, out = tmp_path / "face.png", tmp_path / "out"
    shutil.copy(SAMPLES_DIR / "face0_64.png", picture)
    assert _run(picture, "--seeds", "3", "--out", out) == 0
    first = {p.name for p in (out / "face").iterdir()}
    assert "original.png" in first and {"missed_seed2.png", "solution_seed2.png"} & first
    shutil.copy(SAMPLES_DIR / "face1_8.png", picture)  # another face, 8x8, one seed: nothing of run 1 may stay
    assert _run(picture, "--seeds", "1", "--out", out) == 0
    report = json.loads((out / "face" / "report.json").read_text())
    images = [s["image"] for s in report["seeds"]] + [s["downscaled"] for s in report["seeds"]]
    assert sorted(p.name for p in (out / "face").iterdir()) == sorted(["contact_sheet.png", "input.png", "report.json",
                                                                       *images])
    picture.write_text("not an image")  # run 3: the input is now broken
    assert _run(picture, "--seeds", "1", "--out", out) == 1
    assert [p.name for p in (out / "face").iterdir()] == ["report.json"]  # no older result passes for this run's
    failed = json.loads((out / "face" / "report.json").read_text())
    assert failed["status"] == "failed" and failed["kind"] == "input" and "not an image" in failed["reason"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # nothing left aside
    assert _run(tmp_path / "never-there.png", "--out", out) == 1  # a failure with no earlier folder writes none
    assert not (out / "never-there").exists()


def test_case03_a_folder_with_files_we_did_not_write_is_never_replaced(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--steps", "1", "--seeds", "1", "--fit-samples", "2000", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {tmp_path} holds files a PULSE run did not write (notes.txt), and each run replaces "
                   "that folder as a whole: choose another --out")
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ---- case 05: resource errors are named, and the batch goes on ----------------------------------------------

def test_case05_out_of_memory_retries_with_fewer_seeds_then_says_what_to_do(tmp_path, capsys, monkeypatch):
    real, calls = cli_upsample.upsample, []

    def flaky(generator, low_res, config, **kwargs):  # the first search does not fit; half the seeds do
        calls.append(config.num_seeds)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 64.00 MiB")
        return real(generator, low_res, config, **kwargs)

    monkeypatch.setattr(cli_upsample, "upsample", flaky)
    faces = [SAMPLES_DIR / "face0_8.png", SAMPLES_DIR / "face1_8.png"]
    assert _run(*faces, "--seeds", "4", "--out", tmp_path / "a") == 0
    assert calls == [4, 2, 4]
    err = capsys.readouterr().err
    assert ("face0_8.png: out of memory with 4 seeds on cpu: retried with 2 (set --seeds 2 to start there; "
            "--mixed-precision also needs less memory)") in err
    rows = json.loads((tmp_path / "a" / "summary.json").read_text())["inputs"]
    assert [(r["status"], r["seeds"]) for r in rows] == [("done", 2), ("done", 4)] and "retried with 2" in rows[0]["notes"][0]
    assert "retried with 2" in json.loads((tmp_path / "a" / "face0_8" / "report.json").read_text())["notes"][0]

    def never_fits(generator, low_res, config, **kwargs):
        calls.append(config.num_seeds)
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(cli_upsample, "upsample", never_fits)
    calls.clear()
    assert _run(faces[0], "--seeds", "2", "--out", tmp_path / "b") == 1
    assert calls == [2, 1]
    stdout, err = capsys.readouterr()
    row = json.loads((tmp_path / "b" / "summary.json").read_text())["inputs"][0]
    assert row["status"] == "failed" and row["kind"] == "resource"
    assert row["reason"] == ("out of main memory even with 1 seed on cpu: try --mixed-precision, a smaller --model, "
                             "or closing other programs")
    assert "0/1 done, 1 out of memory" in stdout and "unusable" not in stdout


def test_case05_library_out_of_memory_names_the_settings_that_need_less(monkeypatch):
    G = load_generator("faces64")

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(G.synthesis, "forward", no_memory)
    with pytest.raises(PulseOutOfMemory) as caught:
        upsample(G, torch.rand(3, 8, 8), PulseConfig(num_seeds=4, steps=2, gaussian_fit_samples=2000))
    assert isinstance(caught.value, torch.OutOfMemoryError)  # still what callers catch today
    assert str(caught.value).startswith("out of memory searching 4 seeds at 64x64 on cpu: use fewer seeds "
                                        "(num_seeds=2; memory_plan.plan_seeds(G) measures what fits)")


# ---- case 17: the user's pixel limit is the one in force ----------------------------------------------------

def test_case17_max_pixels_admits_what_pillow_alone_would_refuse(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own hard limit is now 2 x 1000 pixels
    path = tmp_path / "scan.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 60), dtype=np.uint8)).save(path)  # 3,000 px
    prepared = prepare_input(path, 64, max_pixels=5000)
    assert prepared.original_size == (60, 50) and Image.MAX_IMAGE_PIXELS == 1000  # restored afterwards
    with pytest.raises(InputError) as caught:
        prepare_input(path, 64, max_pixels=2999)
    assert str(caught.value) == (f"{path}: 60x50 is 3,000 pixels, over the limit of 2,999 (refused as a possible "
                                 "decompression bomb; raise --max-pixels (max_pixels= in prepare_input) if the "
                                 "picture is genuine)")
    assert _run(path, "--seeds", "1", "--max-pixels", "5000", "--out", tmp_path / "out") == 0
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 1000)  # the file-size limit follows --max-pixels too
    with pytest.raises(InputError, match=r"scan.png: 0 MiB is too large for a picture .* grows with --max-pixels"):
        prepare_input(path, 64)
    assert prepare_input(path, 64, max_pixels=10 * inputs.MAX_PIXELS).original_size == (60, 50)


# ---- case 21: a model's shape, and write errors that fail one input only ---------------------------------

def test_case21_greyscale_generator_runs_end_to_end_in_the_cli(tmp_path, capsys):
    grey = random_generator({**TINY, "img_channels": 1})
    (tmp_path / "grey.pkl").write_bytes(lookalike_pickle(grey))
    out = tmp_path / "out"
    assert _run(SAMPLES_DIR / "face1_8.png", "--model", tmp_path / "grey.pkl", "--seeds", "2", "--out", out) == 0
    assert "note: grey.pkl: a greyscale generator (1 image channel)" in capsys.readouterr().err
    report = json.loads((out / "face1_8" / "report.json").read_text())
    for seed in report["seeds"]:
        with Image.open(out / "face1_8" / seed["image"]) as image:
            rgb = np.asarray(image.convert("RGB")).astype(int)
        assert image.size == (16, 16) and (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_case21_an_error_while_writing_fails_that_input_only(tmp_path, capsys, monkeypatch):
    real, calls = reports.pulse_figure, []

    def disk_full_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(reports, "pulse_figure", disk_full_once)
    out = tmp_path / "out"
    assert _run(SAMPLES_DIR / "face0_8.png", SAMPLES_DIR / "face1_8.png", "--seeds", "1", "--out", out) == 1
    stdout, err = capsys.readouterr()
    rows = json.loads((out / "summary.json").read_text())["inputs"]
    assert [(r["status"], r.get("kind")) for r in rows] == [("failed", "output"), ("done", None)]
    assert rows[0]["reason"].startswith(f"its results could not be written to {out / 'face0_8'} (OSError: [Errno 28] "
                                        "No space left on device)")
    assert "1/2 done, 1 not written" in stdout and "Traceback" not in err
    assert not (out / "face0_8").exists() and (out / "face1_8" / "report.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# ---- when no seed reaches eps: say which knobs help --------------------------------------------------------

def test_missed_eps_says_which_knobs_help_in_the_cli_and_the_library(tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(SAMPLES_DIR / "face1_8.png", "--seeds", "1", "--eps", "0", "--out", out) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "no seed reached eps 0" in line)
    assert "--steps 4: twice the time" in line and "--restarts 2" in line and "--eps" in line
    assert json.loads((out / "face1_8" / "report.json").read_text())["advice"] == line.split(": ", 1)[1]
    G = load_generator("faces64")
    result = upsample(G, torch.rand(3, 8, 8), PulseConfig(steps=2, num_seeds=1, eps=0, gaussian_fit_samples=2000))
    advice = missed_eps_advice(result)
    assert "steps=4" in advice and "restarts=2" in advice and advice in result.summary()
    from pulse_teach.live import LivePanel, PulseMonitor  # the notebooks' live panel says it too
    status = PulseMonitor(LivePanel(use_widgets=True), result.config).status(result)
    assert status.startswith("done: 2 steps, 0/1 seeds accepted") and "no seed reached eps 0" in status
    assert "restarts=2" in status
    assert missed_eps_advice(dataclasses.replace(result, accepted=torch.ones(1, dtype=torch.bool))) is None


def test_case21_out_that_cannot_be_written_is_refused_before_any_search_and_summary_errors_do_not_stop(
        tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("a file, not a folder")
    assert _run(SAMPLES_DIR / "face1_8.png", "--out", tmp_path / "file" / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --out {tmp_path / 'file' / 'out'}: cannot write there (") and "\n" not in err

    def no_summary(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli_upsample, "atomic_path", no_summary)
    assert _run(SAMPLES_DIR / "face1_8.png", "--seeds", "1", "--out", tmp_path / "out") == 0
    stdout, err = capsys.readouterr()
    assert f"error: {tmp_path / 'out' / 'summary.json'} could not be written (No space left on device)" in err
    assert "1/1 done" in stdout and (tmp_path / "out" / "face1_8" / "report.json").exists()


def test_case08_nvidia_pickles_without_g_ema_or_with_one_bare_network_load(tmp_path):
    G = random_generator(TINY)
    with fake_nvidia_modules():
        stub = stub_of(G, generator_init_kwargs(G))
        files = {"only_G.pkl": pickle.dumps({"G": stub, "D": None}), "bare.pkl": pickle.dumps(stub)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        loaded, notices = _load_quietly(tmp_path / name)
        assert torch.equal(_outputs(loaded), _outputs(G))
        assert notices == ([f"{name}: no EMA generator (G_ema) in the file: using the training generator 'G', whose "
                            "pictures are usually somewhat worse"] if name == "only_G.pkl" else [])


def test_case03_replaced_folder_swaps_whole_or_leaves_the_old_one(tmp_path):
    from pulse_teach.storage import replaced_folder
    target = tmp_path / "face"
    target.mkdir()
    (target / "missed_seed7.png").write_text("old")
    with pytest.raises(RuntimeError):
        with replaced_folder(target) as folder:
            (folder / "report.json").write_text("new, half done")
            raise RuntimeError("failed while writing")
    assert [p.name for p in target.iterdir()] == ["missed_seed7.png"]  # untouched by the failed write
    with replaced_folder(target) as folder:
        (folder / "report.json").write_text("new")
    assert [p.name for p in target.iterdir()] == ["report.json"]  # nothing of the old run stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face"]  # nothing left aside
