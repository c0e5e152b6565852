"""The 2-D GAN playground of lesson 1: a GAN Lab in the notebook, built on ``pulse_teach.gan2d``.

Controls for a Gan2DConfig (data, loss, optimiser, learning rates, steps per round, network size,
seed), buttons that step D alone, G alone, one round or many, and a widget-mode LivePanel that
shows ``gan2d.draw``. Apply settings starts fresh networks; the learning-rate sliders act on the
running game at once.

    gan2d_playground(rounds=by_mode(300, 10), press_every_button=fast_mode())
"""
from __future__ import annotations

import dataclasses
import html

import ipywidgets as widgets
from IPython.display import display

from .. import gan2d
from ..gan2d import Gan2D, Gan2DConfig, draw
from .controls import config_widgets
from .panel import LivePanel

PLAYGROUND_FIELDS = ("data", "loss", "optimizer", "lr_d", "lr_g", "d_steps", "g_steps", "hidden", "layers", "seed")
PLAYGROUND_RANGES = {"lr_d": (1e-4, 1.0, "log"), "lr_g": (1e-4, 1.0, "log"), "d_steps": (0, 10), "g_steps": (0, 10),
                     "hidden": (4, 128), "layers": (0, 4), "seed": (0, 99)}
PLAYGROUND_OPTIONS = {"data": gan2d.PRESETS, "loss": gan2d.LOSSES, "optimizer": gan2d.OPTIMIZERS}
BUTTONS = ("apply settings", "step D", "step G", "1 round", "run")


def gan2d_status(lab: Gan2D) -> str:
    """One line: rounds, modes covered (where the data have modes), D's mean opinions, distance to the data."""
    row = lab.evaluate()
    covered = "modes covered {}/{} · ".format(*lab.coverage()) if gan2d.mode_centres(lab.config) is not None else ""
    return (f"round {len(lab.history['round'])} · {covered}mean D(real) {row['d_real']:.2f}, "
            f"D(fake) {row['d_fake']:.2f} · distance to data {lab.distance():.3f}")


def parse_points(text: str) -> list[tuple[float, float]]:
    """'x, y; x, y; ...' -> [(x, y), ...].

    Raises ValueError (quoting the bad pair) for text in another form.
    """
    points = []
    for pair in (p for p in text.split(";") if p.strip()):
        values = pair.split(",")
        try:
            if len(values) != 2:
                raise ValueError
            points.append((float(values[0]), float(values[1])))
        except ValueError:
            raise ValueError(f"expected points as 'x, y; x, y; ...', got {pair.strip()!r} in {text!r}") from None
    return points


class Gan2DPlayground:
    """Controls, buttons and a live picture of one Gan2D game; ``press(name)`` does what a button does."""

    def __init__(self, config: Gan2DConfig | None = None, rounds: int = 300, points: str = "-1, 1; 1, 1; 0, -1",
                 period: float = 0.3):
        self.base = config or Gan2DConfig()
        self.controls = config_widgets(self.base, PLAYGROUND_FIELDS, PLAYGROUND_RANGES, PLAYGROUND_OPTIONS)
        self.points_box = widgets.Text(value=points, description="points")
        self.rounds_slider = widgets.IntSlider(value=rounds, min=10, max=3000, step=10, description="rounds")
        self.arrows_box = widgets.Checkbox(value=True, description="gradient arrows", indent=False)
        self.buttons = {name: widgets.Button(description=name) for name in BUTTONS}
        self.panel = LivePanel(period=period, use_widgets=True, dpi=100)  # legends stay legible
        self.lab: Gan2D | None = None
        for name, button in self.buttons.items():
            button.on_click(lambda _, name=name: self.press(name))
        for name in ("lr_d", "lr_g"):
            self.controls[name].observe(lambda change, name=name: self.lab and self.lab.set_lr(**{name: change["new"]}),
                                        "value")
        grid = widgets.GridBox(list(self.controls.values()) + [self.points_box, self.rounds_slider, self.arrows_box],
                               layout=widgets.Layout(grid_template_columns="repeat(auto-fill, minmax(280px, 1fr))"))
        self.widget = widgets.VBox([grid, widgets.HBox(list(self.buttons.values())), self.panel.status_widget,
                                    self.panel.image_widget])

    def config(self) -> Gan2DConfig:
        """The config the controls show now (the points box only counts for data='points')."""
        values = {name: control.value for name, control in self.controls.items()}
        points = parse_points(self.points_box.value) if values["data"] == "points" else ()
        return dataclasses.replace(self.base, **values, points=points)

    def press(self, name: str) -> None:
        """What button ``name`` does; an error shows in the status line (button callbacks hide them otherwise).

        Raises ValueError for an unknown button name.
        """
        if name not in BUTTONS:
            raise ValueError(f"unknown button {name!r}; buttons are {BUTTONS}")
        try:
            if name == "apply settings" or self.lab is None:
                self.lab = Gan2D(self.config())
            if name == "step D":
                self.lab.step_d()
            elif name == "step G":
                self.lab.step_g()
            elif name == "1 round":
                self.lab.step()
            elif name == "run":
                self.lab.run(self.rounds_slider.value, lambda lab: self.panel.due() and self.redraw(force=False))
            self.redraw()
        except Exception as error:
            self.panel.status_widget.value = f"<b style='color:red'>{html.escape(str(error))}</b>"

    def redraw(self, force: bool = True) -> None:
        lab = self.lab
        self.panel.update(gan2d_status(lab) + f" · D steps {lab.steps_d}, G steps {lab.steps_g}",
                          lambda: draw(lab, arrows=self.arrows_box.value), force=force)

    def _ipython_display_(self) -> None:
        display(self.widget)


def gan2d_playground(config: Gan2DConfig | None = None, *, rounds: int = 300, points: str = "-1, 1; 1, 1; 0, -1",
                     period: float = 0.3, press_every_button: bool = False) -> Gan2DPlayground:
    """The playground, started with the current settings so its picture is never empty.

    ``press_every_button`` (for CI) presses step D, step G, 1 round and run once, so every code path runs.
    """
    playground = Gan2DPlayground(config, rounds, points, period)
    playground.press("apply settings")
    if press_every_button:
        for name in BUTTONS[1:]:
            playground.press(name)
    return playground
