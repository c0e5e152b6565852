"""pulse_teach: learn PULSE (Menon et al., CVPR 2020) by running it."""
import os as _os
import sys as _sys

if _os.environ.get("PULSE_TEACH_THREADS", "auto").strip().lower() == "auto" and "torch" not in _sys.modules:
    # OpenMP reads this when torch loads: idle worker threads sleep instead of spinning, so a busy machine
    # slows a run in proportion (see runtime.configure_threads and benchmarks/threads.py).
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from .downscale import bicubic_downsample, downscale, null_space_part, project_consistent
from .gan2d import Gan2D, Gan2DConfig
from .inputs import InputError, PreparedInput, prepare_input
from .models import format_models, list_models, load_generator
from .probe import load_probe
from .pulse import PRESETS, PulseConfig, PulseResult, PulseStep, lr_multiplier, upsample
from .runtime import (
    configure_allocator,
    configure_threads,
    default_device,
    device_report,
    fast_mode,
    set_seed,
    warm_up_in_background,
)
from .samples import list_samples, load_sample
from .sphere import geocross, project_to_sphere
from .stylegan2 import Generator

configure_threads()
configure_allocator()
warm_up_in_background()
__version__ = "0.1.0"
__all__ = ["PRESETS", "Gan2D", "Gan2DConfig", "Generator", "InputError", "PreparedInput", "PulseConfig", "PulseResult",
           "PulseStep", "bicubic_downsample", "default_device", "device_report", "downscale", "fast_mode",
           "format_models", "geocross", "list_models", "list_samples", "load_generator", "load_probe", "load_sample",
           "lr_multiplier", "null_space_part", "prepare_input", "project_consistent", "project_to_sphere", "set_seed",
           "upsample"]
