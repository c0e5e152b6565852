"""Figures in a cell's output: shown once (``show_figure``), or redrawn in place on a throttle (``LivePanel``).

A figure is rendered to PNG and shown through a display handle, redrawn at most every ``period``
seconds (a redraw costs ~33 ms or more, never once per step) and always once at the end, so the last
frame stays in the notebook as an ordinary output. Inside a Run button's callback the same panel
draws into Image/HTML widgets instead, which update from callbacks.
"""
from __future__ import annotations

import html
import io
import math
import time
from typing import Callable

import ipywidgets as widgets
import torch
from IPython.display import Image, display
from matplotlib.figure import Figure

from ..figures import gallery_figure, images_figure
from ..pulse import PulseResult
from . import context


def figure_png(fig: Figure, dpi: int = 72) -> bytes:
    """A matplotlib Figure as PNG bytes (no pyplot, no backend state)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})  # speed over size
    return buffer.getvalue()


def png_width(png: bytes) -> int:
    """The width in pixels written in a PNG's header."""
    return int.from_bytes(png[16:20], "big")


def show_figure(fig: Figure, dpi: int = 80, as_widget: bool | None = None) -> None:
    """Display a matplotlib Figure as an ordinary PNG output (an Image widget inside a Run callback)."""
    png = figure_png(fig, dpi=dpi)
    as_widget = context.in_run_callback() if as_widget is None else as_widget
    display(widgets.Image(value=png, format="png", width=str(png_width(png))) if as_widget
            else Image(data=png, format="png"))


def show_images(images: torch.Tensor, title: str = "", ncol: int | None = None, width: float = 8.0,
                labels: list[str] | None = None) -> None:
    """Display (N, 3, H, W) images in [0, 1] as one grid, an ordinary PNG output (``images_figure``)."""
    show_figure(images_figure(images, title, ncol, width, labels))


def show_gallery(result: PulseResult) -> None:
    """Display ``gallery_figure(result)``."""
    show_figure(gallery_figure(result))


class _Status:
    """A status line with an HTML and a plain-text form (nbval compares the text)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_html_(self) -> str:
        return f"<code>{self.text}</code>"

    def __repr__(self) -> str:
        return html.unescape(self.text)


class LivePanel:
    """A status line and one figure, updated in place, redrawn at most every ``period`` seconds.

    Shown through display handles (an ordinary cell output that keeps the last frame), or through
    Image/HTML widgets when ``use_widgets`` (default: inside a control panel's Run callback).
    """

    def __init__(self, period: float = 0.25, use_widgets: bool | None = None, dpi: int = 72,
                 status_period: float = 0.1):
        self.period, self.dpi, self.status_period = period, dpi, status_period
        self.use_widgets = context.in_run_callback() if use_widgets is None else use_widgets
        self.last_draw, self.draw_cost, self.draws, self.last_status = -math.inf, 0.0, 0, -math.inf
        self._status_handle = self._figure_handle = None
        if self.use_widgets:
            self.status_widget = widgets.HTML()
            self.image_widget = widgets.Image(format="png")

    def show(self) -> "LivePanel":
        if self.use_widgets:
            display(widgets.VBox([self.status_widget, self.image_widget]))
        else:
            self._status_handle = display(_Status("starting ..."), display_id=True)
        return self

    def due(self) -> bool:
        """Time for a redraw? At most every ``period`` s, and drawing at most ~25 % of the time."""
        return time.perf_counter() - self.last_draw >= max(self.period, 3 * self.draw_cost)

    def update(self, status: str, make_figure: Callable[[], Figure] | None = None, force: bool = False) -> bool:
        """Set the status line (at most every ``status_period`` s) and, when due or forced, redraw the figure.

        Returns True if the figure was redrawn.
        """
        start = time.perf_counter()
        if not (force or self.due()):
            if start - self.last_status >= self.status_period:
                self._set_status(status)
            return False
        png = figure_png(make_figure(), self.dpi) if make_figure is not None else None
        self._set_status(status)
        if png is not None and self.use_widgets:
            self.image_widget.value, self.image_widget.width = png, str(png_width(png))  # not stretched
        elif png is not None and self._figure_handle is None:
            self._figure_handle = display(Image(data=png, format="png"), display_id=True)
        elif png is not None:
            self._figure_handle.update(Image(data=png, format="png"))
        self.last_draw = time.perf_counter()
        self.draw_cost, self.draws = self.last_draw - start, self.draws + 1
        return True

    def _set_status(self, status: str) -> None:
        self.last_status = time.perf_counter()
        if self.use_widgets:
            self.status_widget.value = f"<code>{status}</code>"
        else:
            self._status_handle.update(_Status(status))
