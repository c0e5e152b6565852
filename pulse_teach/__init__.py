"""pulse_teach: learn PULSE (Menon et al., CVPR 2020) by running it."""
from .downscale import bicubic_downsample, downscale, null_space_part, project_consistent
from .gan2d import Gan2D, Gan2DConfig
from .inputs import InputError, PreparedInput, prepare_input
from .models import format_models, list_models, load_generator
from .probe import load_probe
from .pulse import PRESETS, PulseConfig, PulseResult, PulseStep, lr_multiplier, upsample
from .runtime import default_device, device_report, fast_mode, set_seed
from .samples import list_samples, load_sample
from .sphere import geocross, project_to_sphere
from .stylegan2 import Generator

__version__ = "0.1.0"
__all__ = ["PRESETS", "Gan2D", "Gan2DConfig", "Generator", "InputError", "PreparedInput", "PulseConfig", "PulseResult",
           "PulseStep", "bicubic_downsample", "default_device", "device_report", "downscale", "fast_mode",
           "format_models", "geocross", "list_models", "list_samples", "load_generator", "load_probe", "load_sample",
           "lr_multiplier", "null_space_part", "prepare_input", "project_consistent", "project_to_sphere", "set_seed",
           "upsample"]
