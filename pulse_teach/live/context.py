"""The context a live panel runs in: inside a Run button's callback or not, and whether Stop was pressed.

Inside a callback, display handles do not update (the output goes to an Output widget), so panels
draw into Image/HTML widgets instead; ``in_run_callback()`` tells them. A Stop button can only be
clicked during a run where ``jupyter_ui_poll`` lets front-end events through; elsewhere Stop is the
kernel's interrupt, which every run catches.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import ipywidgets as widgets

STOP_HINT = "stop: interrupt the kernel (&#9632;)"

_callback_depth = 0  # > 0 while a control panel's Run callback runs: panels then draw into widgets
_stop_poll: Callable[[], bool] | None = None  # set while a ui-poll Stop button is live


def in_run_callback() -> bool:
    """Whether a control panel's Run callback is running (panels then draw into widgets)."""
    return _callback_depth > 0


@contextlib.contextmanager
def run_callback() -> Iterator[None]:
    """Mark the code inside as running in a Run callback."""
    global _callback_depth
    _callback_depth += 1
    try:
        yield
    finally:
        _callback_depth -= 1


def stop_requested() -> bool:
    """Whether a ui-poll Stop button was pressed (always False where there is none)."""
    return bool(_stop_poll and _stop_poll())


@contextlib.contextmanager
def ui_poll_stop(button: widgets.Button | None) -> Iterator[None]:
    """While a run lasts, let a Stop button's clicks through (jupyter_ui_poll), where it is installed."""
    global _stop_poll
    if button is None:
        yield
        return
    from jupyter_ui_poll import ui_events

    pressed = []

    def press(_) -> None:
        pressed.append(True)

    button.on_click(press)
    with ui_events() as poll:
        def check() -> bool:
            poll(10)  # handle up to 10 queued front-end events, e.g. the click
            return bool(pressed)

        _stop_poll = check
        try:
            yield
        finally:
            _stop_poll = None
            button.on_click(press, remove=True)
