"""Live panels for notebook runs: curves and images that update in place, and controls built from a config.

The widget layer: the only package that imports ipywidgets and IPython.display. The library reports
progress through callbacks (``upsample(callbacks=...)``, ``Trainer.run(callback=...)``) and this
package draws it. Patterns that work on JupyterLab 4 (ipywidgets 8), Colab (ipywidgets 7.7.1) and
headless nbval:

- a figure rendered to PNG and shown through a display handle, redrawn at most every ``period``
  seconds and always once at the end, so the last frame stays in the notebook (``panel``);
- inside a Run button's callback the same panel uses Image/HTML widgets, which update from callbacks;
- Stop = the kernel's interrupt (the square button), caught: the search returns the best so far and
  training saves a checkpoint. A Stop button is added only where ``jupyter_ui_poll`` is installed
  (``context``);
- no threads.

Modules: ``panel`` (show_figure, LivePanel), ``monitors`` (PulseMonitor, live_upsample, TrainMonitor,
live_train), ``controls`` (config_widgets, control_panel, the PULSE presets, uploads), ``playground``
(the 2-D GAN playground), ``rating`` (lesson 06's blind rating and "which is real?" screens), ``context``
(Run callbacks and Stop).

    result = live_upsample(load_generator("faces64"), load_sample("face0").low_res[8], PulseConfig())
    control_panel(PulseConfig(), run, fields=PULSE_FIELDS, ranges=PULSE_RANGES, options=PULSE_OPTIONS)
"""
from __future__ import annotations

from .context import STOP_HINT, in_run_callback, stop_requested
from .controls import (
                       PULSE_FIELDS,
                       PULSE_OPTIONS,
                       PULSE_RANGES,
                       ControlPanel,
                       config_widgets,
                       control_panel,
                       model_choices,
                       read_config,
                       uploaded_files,
)
from .monitors import PulseMonitor, TrainMonitor, live_train, live_upsample
from .panel import LivePanel, figure_png, png_width, show_figure, show_gallery, show_images
from .playground import Gan2DPlayground, gan2d_playground, gan2d_status
from .rating import MOSWidget, PollWidget

__all__ = ["PULSE_FIELDS", "PULSE_OPTIONS", "PULSE_RANGES", "STOP_HINT", "ControlPanel", "Gan2DPlayground", "LivePanel",
           "MOSWidget", "PollWidget", "PulseMonitor", "TrainMonitor", "config_widgets", "control_panel", "figure_png",
           "gan2d_playground", "gan2d_status", "in_run_callback", "live_train", "live_upsample", "model_choices",
           "png_width", "read_config", "show_figure", "show_gallery", "show_images", "stop_requested",
           "uploaded_files"]
