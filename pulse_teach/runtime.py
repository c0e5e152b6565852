"""How big and where a run is: fast mode for CI and smoke runs, and the device a session uses.

Fast mode (``PULSE_TEACH_FAST=1``, or ``CI`` set as on every CI service) shrinks steps and seeds so
that notebooks and commands run every code path in seconds; it never changes what is computed,
only how much. Notebooks write ``STEPS = by_mode(full=100, fast=20)`` or
``config = shrink(PulseConfig(), steps=20, num_seeds=2)``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import random
import signal
import sys
import threading
from typing import Callable, Iterator, TypeVar

import numpy as np
import torch

T = TypeVar("T")
_OFF = ("", "0", "false", "no", "off")


def fast_mode() -> bool:
    """True when PULSE_TEACH_FAST is set to a true value, or when CI is set (and PULSE_TEACH_FAST is not)."""
    flag = os.environ.get("PULSE_TEACH_FAST")
    if flag is not None:
        return flag.strip().lower() not in _OFF
    return os.environ.get("CI", "").strip().lower() not in _OFF


def by_mode(full: T, fast: T) -> T:
    """``fast`` in fast mode, else ``full``."""
    return fast if fast_mode() else full


def shrink(config: T, **fast_values) -> T:
    """A copy of the dataclass ``config`` with ``fast_values`` applied in fast mode; ``config`` itself otherwise.

    Raises TypeError for anything but a dataclass instance.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance such as PulseConfig(), got {config!r}")
    return dataclasses.replace(config, **fast_values) if fast_mode() else config


THREADS_ENV = "PULSE_TEACH_THREADS"  # "auto" (default), "torch" (torch's own choice) or a number of threads


def configure_threads(setting: str | int | None = None) -> int:
    """Set torch's CPU threads for a shared laptop (``import pulse_teach`` does); returns the threads in use.

    setting: None reads PULSE_TEACH_THREADS; "torch" leaves torch's choice; an int n (or "n") uses n threads;
    "auto" uses ``auto_threads()``, unless OMP_NUM_THREADS or MKL_NUM_THREADS says how many. Raises
    ValueError for anything else. Why: torch's default, one thread per core whose OpenMP workers spin while
    they wait, made lesson runs 6-50x slower on a 2-core machine with other work running
    (benchmarks/threads.py measures each choice, quiet and busy).
    """
    setting = os.environ.get(THREADS_ENV, "auto") if setting is None else setting
    setting = str(setting).strip().lower()
    if setting == "torch" or (setting == "auto" and ("OMP_NUM_THREADS" in os.environ or "MKL_NUM_THREADS" in os.environ)):
        return torch.get_num_threads()  # torch's choice, or the user's through OMP_NUM_THREADS
    if setting == "auto":
        torch.set_num_threads(auto_threads())
    elif setting.isdigit() and int(setting) >= 1:
        torch.set_num_threads(int(setting))
    else:
        raise ValueError(f"{THREADS_ENV} must be 'auto', 'torch' or a number of threads >= 1, got {setting!r}")
    return torch.get_num_threads()


def auto_threads() -> int:
    """The thread count ``configure_threads("auto")`` uses: all cores this process may run on but one, at least 1.

    The core left over keeps the notebook server and the browser responsive, and a run that shares a core
    with another busy process waits at every parallel region for its slowest thread: next to one busy
    process on 2 cores, lesson 04's search took 1.3x its time alone with 1 thread, 1.9x with 2 sleeping
    threads (benchmarks/threads.py, 2026-11-30).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


ALLOCATOR_ENV = "PULSE_TEACH_MALLOC"  # "auto" (default): keep freed memory for reuse; "off": the C library's own way
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters (malloc.h)
_allocator = "C library default"


def configure_allocator(setting: str | None = None) -> bool:
    """Let glibc's malloc keep freed memory for the next step instead of handing it back (``import pulse_teach`` does).

    By default glibc gives each large tensor (over 128 KiB, until its threshold adapts) fresh pages from the
    kernel and returns the heap's free top after every step, so every PULSE or training step paid ~16,000
    page faults that zero 64 MB: 16 seeds on faces64 took 180-190 ms a step, 148-156 ms with this
    (benchmarks/pulse_speed.py). Tensors up to 32 MiB now come from the heap, which keeps up to 1 GiB free.
    setting: None reads PULSE_TEACH_MALLOC; "auto" applies it; "off" (or "0") leaves malloc alone. Nothing
    happens on other C libraries (macOS, Windows, musl), or when MALLOC_*_ / GLIBC_TUNABLES are set (the
    user's own choice). Returns True when applied; ValueError for another setting.
    """
    global _allocator
    setting = (os.environ.get(ALLOCATOR_ENV, "auto") if setting is None else setting).strip().lower()
    if setting in _OFF:
        return False
    if setting != "auto":
        raise ValueError(f"{ALLOCATOR_ENV} must be 'auto' or 'off', got {setting!r}")
    if platform.libc_ver()[0] != "glibc" or any(k.startswith("MALLOC_") or k == "GLIBC_TUNABLES" for k in os.environ):
        return False
    import ctypes

    mallopt = ctypes.CDLL(None).mallopt  # this process's C library
    applied = all(mallopt(option, value) == 1 for option, value in
                  ((_M_MMAP_THRESHOLD, 32 * 2**20), (_M_TRIM_THRESHOLD, 2**30), (_M_TOP_PAD, 64 * 2**20)))
    if applied:
        _allocator = "freed memory kept for reuse"
    return applied


def warm_up_in_background() -> threading.Thread | None:
    """Import what torch's optimisers load on first use (torch._dynamo) in a daemon thread.

    ``import pulse_teach`` calls this, so a lesson's first PULSE step does not wait for it: in a fresh
    kernel the first ``torch.optim.Adam`` spent 2.8 s importing it (benchmarks/first_frame.py).
    PULSE_TEACH_WARMUP=0 turns it off. Returns the thread, or None when there is nothing to do.
    """
    if os.environ.get("PULSE_TEACH_WARMUP", "1").strip().lower() in _OFF or "torch._dynamo" in sys.modules:
        return None
    thread = threading.Thread(target=lambda: __import__("torch._dynamo"), name="pulse_teach-warm-up", daemon=True)
    thread.start()
    return thread


def available_devices() -> list[str]:
    """Devices torch can use here, the fastest first: 'cuda', 'mps' where present, then 'cpu'."""
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices + ["cpu"]


def default_device() -> str:
    """The GPU when there is one, else the CPU."""
    return available_devices()[0]


def resolve_device(name: str | None = "auto") -> torch.device:
    """'auto' (or None) is ``default_device()``; a name such as 'cuda' or 'cuda:1' must be available here.

    Raises ValueError (one line, listing what is available) for an unknown or unavailable device.
    """
    if name is None or name == "auto":
        return torch.device(default_device())
    available = available_devices()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; expected 'auto' or one of {available}") from None
    if device.type not in available:
        raise ValueError(f"device {name!r} is not available here; available: {', '.join(available)} (or 'auto')")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} is not available here: {torch.cuda.device_count()} CUDA device(s)")
    return device


def module_device(module: torch.nn.Module, device: str | torch.device | None = None) -> torch.device:
    """Where ``module``'s parameters are. With ``device``, check that this is where they are; nothing is moved.

    Raises ValueError (one line) when ``device`` is not available here, or when the module is elsewhere:
    moving a caller's model behind their back would leave it on another device after the call.
    """
    where = next(iter(module.parameters()), torch.empty(0)).device
    if device is None:
        return where
    wanted = resolve_device(device)
    if wanted.type != where.type or (wanted.index is not None and where.index is not None and wanted.index != where.index):
        raise ValueError(f"the model is on {where}, not {wanted}: move it there first (model.to({str(wanted)!r}), or "
                         f"load_generator(..., device={str(wanted)!r})), or leave device unset to run where it is")
    return where


def device_report() -> str:
    """One line: torch version, the device a run will use and, on CUDA, the GPU's name and memory."""
    device = default_device()
    line = f"torch {torch.__version__} on {platform.python_implementation()} {platform.python_version()}; device: {device}"
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        line += f" ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    else:
        idle = "sleep" if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" else "spin"
        line += (f" ({os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads whose idle workers {idle}; "
                 f"{THREADS_ENV}={os.environ.get(THREADS_ENV, 'auto')}; malloc: {_allocator})")
    return line + ("; fast mode" if fast_mode() else "")


def is_out_of_memory(error: BaseException) -> bool:
    """True for running out of GPU or main memory (torch's OutOfMemoryError, MemoryError, MPS/CUDA 'out of memory')."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def free_memory() -> None:
    """Hand cached GPU memory back after an out-of-memory error, so that a smaller retry can fit."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.empty_cache()


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) so a notebook cell gives the same numbers every run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def stop_requests(on_first: Callable[[], None] | None = None) -> Iterator[Callable[[], bool]]:
    """Make a first Ctrl-C a request to stop after the current step (``on_first`` runs); a second interrupts at once.

    Yields ``stop_requested()``. Long loops (training, a batch of PULSE runs) check it between steps,
    so whatever they save on the way out is whole. Outside the main thread signals cannot be caught,
    and Ctrl-C keeps its usual meaning.
    """
    requested = []

    def handler(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(True)
        if on_first is not None:
            on_first()

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield lambda: False
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(requested)
    finally:
        signal.signal(signal.SIGINT, previous)
