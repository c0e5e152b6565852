"""pulse_teach: learn PULSE (Menon et al., CVPR 2020) by running it."""
from .downscale import bicubic_downsample, downscale
from .models import list_models, load_generator
from .probe import load_probe
from .pulse import PulseConfig, PulseResult, PulseStep, lr_multiplier, upsample
from .samples import list_samples, load_sample
from .sphere import geocross, project_to_sphere
from .stylegan2 import Generator

__version__ = "0.1.0"
__all__ = ["Generator", "PulseConfig", "PulseResult", "PulseStep", "bicubic_downsample", "downscale", "geocross",
           "list_models", "list_samples", "load_generator", "load_probe", "load_sample", "lr_multiplier",
           "project_to_sphere", "upsample"]
