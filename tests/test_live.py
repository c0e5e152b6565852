"""The live layer: widgets from configs, throttled panels on real PULSE runs, Stop, uploads in both widget versions."""
import contextlib
import dataclasses
import importlib.machinery
import importlib.util
import sys
import types

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from pulse_teach import PulseConfig, PulseStep, live, load_generator, load_sample, upsample
from pulse_teach.live import (
    PULSE_FIELDS,
    PULSE_OPTIONS,
    PULSE_RANGES,
    ControlPanel,
    LivePanel,
    PulseMonitor,
    TrainMonitor,
    config_widgets,
    read_config,
    uploaded_files,
)
from pulse_teach.runtime import by_mode, default_device, fast_mode, shrink
from pulse_teach.train import TrainConfig, Trainer, TrainEvent

PNG = b"\x89PNG"
TINY = PulseConfig(num_seeds=2, steps=6, gaussian_fit_samples=2000, image_every=2)


class FakeDisplay:
    """Stands in for IPython's display: records what was shown and every handle update."""

    def __init__(self):
        self.shown = []  # (kind, object): kind is "display" or "update"

    def __call__(self, obj, display_id=False):
        self.shown.append(("display", obj))
        outer = self

        class Handle:
            def update(self, new):
                outer.shown.append(("update", new))

        return Handle() if display_id else None

    def images(self):
        return [o.data for _, o in self.shown if hasattr(o, "data") and isinstance(o.data, bytes)]

    def statuses(self):
        return [repr(o) for _, o in self.shown if isinstance(o, live.panel._Status)]


@pytest.fixture
def fake_display(monkeypatch):
    fake = FakeDisplay()
    monkeypatch.setattr(live.panel, "display", fake)  # every figure and panel is shown through panel.display
    return fake


@pytest.fixture(scope="module")
def generator():
    return load_generator("faces64")


def test_controls_follow_field_types_and_read_back():
    controls = config_widgets(PulseConfig(), PULSE_FIELDS, PULSE_RANGES, PULSE_OPTIONS)
    assert list(controls) == list(PULSE_FIELDS)
    assert isinstance(controls["steps"], widgets.IntSlider) and controls["steps"].value == 100
    assert isinstance(controls["learning_rate"], widgets.FloatLogSlider)
    assert controls["learning_rate"].value == pytest.approx(0.4)
    assert isinstance(controls["lr_schedule"], widgets.Dropdown) and controls["lr_schedule"].value == "linear1cycledrop"
    assert isinstance(controls["tile_latent"], widgets.Checkbox)
    assert isinstance(config_widgets(PulseConfig(), ["restarts"])["restarts"], widgets.IntText)  # no range: a box
    controls["steps"].value, controls["lr_schedule"].value, controls["eps"].value = 30, "fixed", 1e-3
    config = read_config(PulseConfig(seed=5), controls)
    assert (config.steps, config.lr_schedule, config.seed) == (30, "fixed", 0)  # seed is a control too
    assert config.eps == pytest.approx(1e-3, rel=0.01)
    assert config.loss == PulseConfig().loss  # fields without a control keep the base value


def test_controls_refuse_unknown_and_unsupported_fields():
    with pytest.raises(ValueError, match="no field"):
        config_widgets(PulseConfig(), ["stepz"])
    with pytest.raises(TypeError, match="zero_noise_layers"):
        config_widgets(PulseConfig(), ["zero_noise_layers"])
    with pytest.raises(TypeError, match="dataclass instance"):
        config_widgets(PulseConfig)


def test_uploaded_files_reads_ipywidgets_7_and_8_values():
    v7 = {"me.png": {"metadata": {"name": "me.png", "size": 3}, "content": b"abc"}}
    v8 = ({"name": "me.png", "type": "image/png", "size": 3, "content": memoryview(b"abc"), "last_modified": 0},)
    assert uploaded_files(v7) == uploaded_files(v8) == [("me.png", b"abc")]
    assert uploaded_files(widgets.FileUpload()) == []


def test_panel_redraws_by_time_not_by_step(generator, fake_display):
    face = load_sample("face0")
    panel = LivePanel(period=60).show()  # a long period: the first step draws, then only the forced end
    monitor = PulseMonitor(panel, TINY, face.truth)
    result = upsample(generator, face.low_res[8], TINY, callbacks=monitor)
    monitor.finish(result)
    assert panel.draws == 2
    assert len(fake_display.images()) == 2 and all(png.startswith(PNG) for png in fake_display.images())
    assert fake_display.statuses()[-1].startswith("done: 6 steps")
    fast = LivePanel(period=0).show()  # no throttle: one draw per step, but never faster than 3x a draw's cost
    short = dataclasses.replace(TINY, steps=3)
    fast_monitor = PulseMonitor(fast, short)
    upsample(generator, face.low_res[8], short, callbacks=fast_monitor)
    assert 1 <= fast.draws <= short.steps
    assert len(fast_monitor.history["l2"]) == short.steps and fast_monitor.images.shape == (2, 3, 64, 64)


def test_large_generators_are_shown_small():
    """A 1024 px FFHQ search must not draw 1024 px cells on every redraw."""
    images = torch.rand(3, 3, 256, 256)
    event = PulseStep(step=0, steps=5, lr=0.1, attempt=0, seeds=[0, 1, 2], l2=torch.rand(3), geocross=torch.rand(3),
                           total=torch.rand(3), best_l2=torch.rand(3), accepted=torch.tensor([True, False, False]),
                           target=torch.rand(3, 16, 16), images=images, downscaled=torch.rand(3, 3, 16, 16))
    monitor = PulseMonitor(LivePanel(period=0, use_widgets=True), PulseConfig(steps=5), truth=torch.rand(3, 256, 256))
    monitor(event)
    canvas, cell = monitor.strip()
    assert cell == 128 + 4 and canvas.shape == (3 * cell + 4, 4 * cell + 4, 3)
    assert bytes(monitor.panel.image_widget.value).startswith(PNG)
    assert monitor.panel.image_widget.width == str(live.png_width(bytes(monitor.panel.image_widget.value)))
    assert live.png_width(bytes(monitor.panel.image_widget.value)) == round(monitor.figure().get_size_inches()[0] * 72)


def test_live_upsample_leaves_the_result_figure(generator, fake_display):
    face = load_sample("face1")
    result = live.live_upsample(generator, face.low_res[8], TINY, truth=face.truth, device="cpu")
    assert result.steps_run == TINY.steps and not result.interrupted
    assert fake_display.shown[-1][0] == "display"  # the result figure, after the panel's last update
    assert fake_display.shown[-1][1].data.startswith(PNG)


def test_stop_request_returns_the_best_so_far(generator, fake_display, monkeypatch):
    monkeypatch.setattr(live.context, "_stop_poll", lambda: True)  # as if the Stop button had been pressed
    result = live.live_upsample(generator, load_sample("face0").low_res[8], TINY, final_figure=False)
    assert result.interrupted and result.steps_run == 1
    assert "interrupted" in fake_display.statuses()[-1]


def test_control_panel_runs_with_the_values_shown(monkeypatch):
    calls = []

    def run(config, device, sample):
        calls.append((config, device, sample, LivePanel().use_widgets))
        return "result"

    panel = ControlPanel(PulseConfig(), run, fields=["steps"], ranges={"steps": (10, 50)},
                         extra={"sample": widgets.Dropdown(options=["face0", "face1"], value="face0")})
    panel.controls["steps"].value, panel.extra["sample"].value = 20, "face1"
    panel.click()
    (config, device, sample, in_widgets), = calls
    assert (config.steps, device, sample, in_widgets, panel.result) == (20, "cpu", "face1", True, "result")
    assert LivePanel().use_widgets is False and not panel.run_button.disabled

    def broken(config, device):
        raise ValueError("bad input")

    panel = ControlPanel(PulseConfig(), broken, fields=[])
    panel.click()  # printed into the output area, not raised: JupyterLab would hide it
    assert panel.result is None and not live.in_run_callback()


def test_stop_button_only_with_jupyter_ui_poll(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert ControlPanel(PulseConfig(), lambda config, device: None, fields=[]).stop_button is None
    monkeypatch.undo()
    fake, polls = types.ModuleType("jupyter_ui_poll"), []
    fake.__spec__ = importlib.machinery.ModuleSpec("jupyter_ui_poll", None)

    @contextlib.contextmanager
    def ui_events():
        yield polls.append  # poll(n) handles up to n front-end events

    fake.ui_events = ui_events
    monkeypatch.setitem(sys.modules, "jupyter_ui_poll", fake)
    seen = []

    def run(config, device):
        seen.append(live.stop_requested())
        panel.stop_button.click()  # as if clicked while the run is going on
        seen.append(live.stop_requested())

    panel = ControlPanel(PulseConfig(), run, fields=[])
    panel.click()
    assert seen == [False, True] and polls == [10, 10]
    assert not live.stop_requested()  # only while a run lasts


def test_train_monitor_draws_losses_and_status():
    panel = LivePanel(period=0, use_widgets=True, status_period=0)  # the status line follows every step
    monitor = TrainMonitor(panel, max_steps=20)
    monitor(TrainEvent("sample", 0, 0.0, {}, 0.0))  # before any step: a placeholder, no time estimate
    assert "waiting for the first step" in [t.get_text() for t in monitor.figure().axes[0].texts]
    for step in range(1, 5):  # 2 s per step
        monitor(TrainEvent("step", step, step * 0.032, {"G": 1.0 / step, "D": 1.2, "D_real": 0.5, "D_fake": -0.4},
                           2.0 * step))
    assert bytes(panel.image_widget.value).startswith(PNG) and "step 4 of 20" in panel.status_widget.value
    assert monitor.time_left() == 32.0 and "about 32 s left" in panel.status_widget.value  # 16 steps x 2 s
    assert not monitor.figure().axes[0].texts
    assert "done (max_steps)" in monitor.status("max_steps") and "left" not in monitor.status("max_steps")


def test_train_monitor_shows_a_readable_part_of_the_sample_grid(tmp_path):
    from pulse_teach.images import make_grid, save_image

    faces = torch.rand(64, 3, 32, 32)
    path = tmp_path / "step000010.png"
    save_image(make_grid(faces, ncol=8), path)  # as Trainer.write_samples writes it
    monitor = TrainMonitor(LivePanel(period=0, use_widgets=True), max_steps=20)
    monitor(TrainEvent("sample", 10, 0.3, {}, 5.0, path))
    assert monitor.grid.shape == (2 + 4 * 34, 2 + 4 * 34, 3)  # the first 4 x 4 faces, each 32 px + border
    np.testing.assert_array_equal(monitor.grid[2:34, 36:68], np.asarray(Image.open(path))[2:34, 36:68])  # face 1
    assert monitor.figure().axes[2].get_title() == "16 of G_ema's 64 samples (step000010)"
    save_image(faces[0], path)  # any other picture is shown whole
    monitor(TrainEvent("sample", 11, 0.3, {}, 5.0, path))
    assert monitor.grid.shape == (32, 32, 3) and monitor.grid_title == "G_ema samples (step000010)"


def test_fast_mode_follows_the_environment(monkeypatch):
    monkeypatch.delenv("PULSE_TEACH_FAST", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert not fast_mode() and by_mode(100, 5) == 100 and shrink(PulseConfig(), steps=5).steps == 100
    monkeypatch.setenv("CI", "true")
    assert fast_mode() and shrink(PulseConfig(), steps=5).steps == 5
    monkeypatch.setenv("PULSE_TEACH_FAST", "0")  # an explicit off wins over CI
    assert not fast_mode()
    monkeypatch.setenv("PULSE_TEACH_FAST", "1")
    assert by_mode(100, 5) == 5
    with pytest.raises(TypeError):
        shrink(PulseConfig, steps=5)


def test_model_choices_offer_downloads_only_with_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert live.model_choices() == [n for n in live.model_choices() if not n.startswith("ffhq")]
    assert "faces64" in live.model_choices()


def test_live_train_follows_a_real_run(tmp_path, fake_display):
    config = TrainConfig(
        generator=dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32, num_mapping_layers=2),
        discriminator=dict(channel_base=128, channel_max=32), batch=4, noise_max_res=8, max_minutes=None,
        max_steps=3, sample_minutes=60, checkpoint_minutes=60)
    reason = live.live_train(Trainer(config, tmp_path / "run"), period=60)
    assert reason == "max_steps"
    assert fake_display.statuses()[-1].startswith("done (max_steps): step 3 of 3")
    assert len(fake_display.images()) >= 2  # the first frame, the grid at the start, the final frame


def test_every_public_name_is_exported():
    assert all(hasattr(live, name) for name in live.__all__)


def test_show_figure_is_a_png_output_or_a_widget_in_a_run_callback(fake_display):
    fig = Figure(figsize=(2, 1))
    live.show_figure(fig)
    with live.context.run_callback():
        live.show_figure(fig)
    (_, image), (_, widget) = fake_display.shown
    assert image.data.startswith(PNG) and live.png_width(image.data) == 160  # 2 inches at 80 dpi
    assert isinstance(widget, widgets.Image) and widget.width == "160"


def test_gan2d_playground_buttons_and_controls():
    playground = live.gan2d_playground(rounds=10, press_every_button=True)
    lab = playground.lab
    assert (lab.steps_d, lab.steps_g) == (1 + 1 + 10, 1 + 1 + 10)  # step D, step G, 1 round, 10 rounds
    assert "round 11" in playground.panel.status_widget.value and "D steps 12" in playground.panel.status_widget.value
    assert bytes(playground.panel.image_widget.value).startswith(PNG)
    playground.controls["lr_g"].value = 0.01  # acts on the running game at once
    assert lab.opt_g.param_groups[0]["lr"] == pytest.approx(0.01, rel=0.05)
    playground.controls["data"].value, playground.points_box.value = "points", "-1, 1; 1, 1"
    playground.buttons["apply settings"].click()
    assert playground.lab is not lab and playground.lab.config.points == ((-1.0, 1.0), (1.0, 1.0))
    playground.points_box.value = "-1, 1; 2"
    playground.press("apply settings")  # a bad entry is shown in the status line, not raised
    assert "expected points as" in playground.panel.status_widget.value
    with pytest.raises(ValueError, match="unknown button"):
        playground.press("step Z")


def test_devices_resolve_and_unavailable_ones_are_refused(monkeypatch):
    from pulse_teach.cli.options import UsageError, pick_device
    from pulse_teach.runtime import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == pick_device("auto") == torch.device(default_device())
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'cuda' is not available here"):
        resolve_device("cuda")
    with pytest.raises(UsageError, match="--device: unknown device 'gpu0'"):
        pick_device("gpu0")


def test_image_grids_can_name_each_image():
    from pulse_teach.figures import images_figure

    fig = images_figure(torch.rand(5, 3, 8, 8), "five", ncol=3, labels=[f"face{i}" for i in range(5)])
    assert [t.get_text() for t in fig.axes[0].texts] == [f"face{i}" for i in range(5)]
    with pytest.raises(ValueError, match="one label per image"):
        images_figure(torch.rand(2, 3, 8, 8), labels=["only one"])


def test_result_figure_says_when_it_shows_only_some_seeds(generator):
    from pulse_teach.figures import pulse_figure

    result = upsample(generator, load_sample("face0").low_res[8], PulseConfig(steps=2, num_seeds=3, image_every=0))
    assert "(green; the first 2 shown)" in pulse_figure(result, max_seeds=2)._suptitle.get_text()
    assert "(green)" in pulse_figure(result)._suptitle.get_text()  # all 3 shown: nothing to say
