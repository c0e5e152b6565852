"""Controls built from a config: one widget per dataclass field, and a control panel with a Run button.

``run(config, device=..., **extra_values)`` is called on Run with the values shown; what it displays
(live panels included) goes to the panel's output area. The presets below are the PulseConfig fields
a lesson offers, with slider ranges and choices.

    control_panel(PulseConfig(), run, fields=PULSE_FIELDS, ranges=PULSE_RANGES, options=PULSE_OPTIONS)
"""
from __future__ import annotations

import dataclasses
import html
import importlib.util
import math
import traceback
from typing import Any, Callable

import ipywidgets as widgets
from IPython.display import display

from ..pulse import OPTIMIZERS, SCHEDULES
from ..runtime import available_devices, default_device
from .context import STOP_HINT, run_callback, ui_poll_stop

# The PulseConfig fields a lesson panel offers, with slider ranges ("log" for a log slider) and choices.
PULSE_FIELDS = ("num_seeds", "steps", "learning_rate", "lr_schedule", "optimizer", "eps", "seed", "noise_type",
                "tile_latent")
PULSE_RANGES = {"num_seeds": (1, 16), "steps": (10, 500, 10), "learning_rate": (1e-3, 2.0, "log"),
                "eps": (1e-4, 2e-2, "log"), "seed": (0, 999)}
PULSE_OPTIONS = {"lr_schedule": SCHEDULES, "optimizer": tuple(OPTIMIZERS), "noise_type": ("zero", "fixed", "trainable")}


def model_choices() -> list[str]:
    """Model names a lesson offers: the bundled ones, plus the FFHQ downloads when a GPU is present."""
    from ..models import KNOWN_MODELS

    gpu = default_device() != "cpu"
    return [name for name, source in KNOWN_MODELS.items() if source.kind == "bundled" or gpu]


def uploaded_files(upload) -> list[tuple[str, bytes]]:
    """[(name, bytes)] from a FileUpload widget or its value, in ipywidgets 7 (a dict) or 8 (a tuple) form."""
    value = upload.value if isinstance(upload, widgets.FileUpload) else upload
    if isinstance(value, dict):  # 7.x: {name: {"metadata": {...}, "content": bytes}}
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]  # 8.x: ({"name", "content": memoryview}, ...)


def _label(name: str) -> str:
    return name.replace("_", " ")


def config_widgets(config, fields=None, ranges: dict | None = None, options: dict | None = None) -> dict[str, widgets.Widget]:
    """One control per dataclass field: Dropdown (options), Checkbox (bool), slider (with a range) or text box.

    ranges: name -> (low, high) or (low, high, step), or (low, high, "log") for a log slider.

    Raises TypeError for a non-dataclass or a field with no control, ValueError for unknown field names.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance such as PulseConfig(), got {config!r}")
    names = [f.name for f in dataclasses.fields(config)]
    fields = list(fields) if fields is not None else names
    unknown = [n for n in fields if n not in names]
    if unknown:
        raise ValueError(f"{type(config).__name__} has no field(s) {unknown}; fields are {names}")
    ranges, options = ranges or {}, options or {}
    style, layout = {"description_width": "initial"}, widgets.Layout(width="auto")
    controls = {}
    for name in fields:
        value, common = getattr(config, name), dict(description=_label(name), style=style, layout=layout)
        span = ranges.get(name)
        if name in options:
            control = widgets.Dropdown(options=list(options[name]), value=value, **common)
        elif isinstance(value, bool):
            control = widgets.Checkbox(value=value, indent=False, **common)
        elif isinstance(value, int) and span:
            step = span[2] if len(span) > 2 else 1
            control = widgets.IntSlider(value=value, min=span[0], max=span[1], step=step, continuous_update=False, **common)
        elif isinstance(value, int):
            control = widgets.IntText(value=value, **common)
        elif isinstance(value, float) and span and len(span) > 2 and span[2] == "log":
            control = widgets.FloatLogSlider(value=value, base=10, min=math.log10(span[0]), max=math.log10(span[1]),
                                             step=0.05, readout_format=".2g", continuous_update=False, **common)
        elif isinstance(value, float) and span:
            step = span[2] if len(span) > 2 else (span[1] - span[0]) / 100
            control = widgets.FloatSlider(value=value, min=span[0], max=span[1], step=step, continuous_update=False,
                                          **common)
        elif isinstance(value, float):
            control = widgets.FloatText(value=value, **common)
        elif isinstance(value, str):
            control = widgets.Text(value=value, **common)
        else:
            raise TypeError(f"field {name!r} holds a {type(value).__name__}, which has no control; "
                            "leave it out of fields")
        controls[name] = control
    return controls


def read_config(config, controls: dict[str, widgets.Widget]):
    """A copy of ``config`` with the values the controls show."""
    names = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{n: c.value for n, c in controls.items() if n in names})


class ControlPanel:
    """Controls for a config's fields, extra widgets, a device choice and a Run button calling ``run``.

    ``run(config, device=..., **extra_values)`` is called on Run with the values shown; its output
    (live panels included) goes to the panel's output area, and its return value to ``.result``.
    """

    def __init__(self, config, run: Callable[..., Any], *, fields=None, ranges=None, options=None,
                 extra: dict[str, widgets.Widget] | None = None, device: bool = True, title: str | None = None):
        self.base, self.run, self.result = config, run, None
        self.controls = config_widgets(config, fields, ranges, options)
        self.extra = dict(extra or {})
        if device:
            self.extra["device"] = widgets.Dropdown(options=available_devices(), value=default_device(),
                                                    description="device")
        self.run_button = widgets.Button(description="Run", button_style="success", icon="play")
        self.stop_button = (widgets.Button(description="Stop", button_style="danger", icon="stop")
                            if importlib.util.find_spec("jupyter_ui_poll") else None)
        hint = widgets.HTML(f"<small>Run starts a fresh run with these settings; {STOP_HINT} keeps what it has "
                            "found so far.</small>")
        self.output = widgets.Output()
        self.run_button.on_click(lambda _: self.click())
        buttons = [self.run_button] + ([self.stop_button] if self.stop_button else []) + [hint]
        items = list(self.extra.values()) + list(self.controls.values())
        grid = widgets.GridBox(items, layout=widgets.Layout(grid_template_columns="repeat(auto-fill, minmax(280px, 1fr))"))
        header = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = widgets.VBox(header + [grid, widgets.HBox(buttons), self.output])

    def config(self):
        """The config the controls show now."""
        return read_config(self.base, self.controls)

    def values(self) -> dict[str, Any]:
        """The extra widgets' values (device included), as ``run`` receives them."""
        return {name: control.value for name, control in self.extra.items()}

    def click(self) -> None:
        """What the Run button does: run with the current settings, inside the output area."""
        self.output.clear_output()
        with self.output:
            self.run_button.disabled = True
            try:
                with run_callback(), ui_poll_stop(self.stop_button):
                    self.result = self.run(self.config(), **self.values())
            except KeyboardInterrupt:
                print("stopped")
            except Exception:  # errors in widget callbacks are otherwise invisible in JupyterLab
                traceback.print_exc()
            finally:
                self.run_button.disabled = False

    def _ipython_display_(self) -> None:
        display(self.widget)


def control_panel(config, run: Callable[..., Any], **options) -> ControlPanel:
    """The one-liner of every lesson: ``control_panel(PulseConfig(), run, fields=..., ranges=...)``."""
    return ControlPanel(config, run, **options)
