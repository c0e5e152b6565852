"""Tests for pulse_teach.runtime's thread policy and warm-up: what a fresh process gets from ``import pulse_teach``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pulse_teach import runtime

ROOT = Path(__file__).resolve().parents[1]
REPORT = ("import os, sys, pulse_teach, torch; "
          "print(torch.get_num_threads(), os.environ.get('OMP_WAIT_POLICY'), pulse_teach.runtime.auto_threads())")


def fresh(code: str, **env: str) -> list[str]:
    """Run ``code`` in a fresh interpreter with only ``env`` among the thread settings; its printed words."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "PULSE_TEACH_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.split()


def test_import_picks_threads_and_passive_waiting():
    threads, policy, auto = fresh(REPORT)
    assert int(threads) == int(auto) == max(1, len(os.sched_getaffinity(0)) - 1)
    assert policy == "PASSIVE"  # set before torch loaded: idle OpenMP threads sleep instead of spinning


@pytest.mark.parametrize("env", [{"PULSE_TEACH_THREADS": "torch"}, {"PULSE_TEACH_THREADS": "2"}])
def test_users_choice_wins(env):
    threads, policy, _ = fresh(REPORT, **env)
    assert policy == "None"  # torch's waiting, as asked
    if env["PULSE_TEACH_THREADS"] == "2":
        assert threads == "2"


def test_omp_num_threads_is_respected(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert runtime.configure_threads("auto") == 2  # not replaced by auto_threads()
    finally:
        torch.set_num_threads(before)


def test_torch_imported_first_keeps_its_waiting_policy():
    _, policy, _ = fresh("import torch; " + REPORT)
    assert policy == "None"  # too late for OpenMP to read it: not pretended


def test_bad_setting_is_one_clear_error():
    with pytest.raises(ValueError, match="PULSE_TEACH_THREADS must be 'auto', 'torch' or a number"):
        runtime.configure_threads("many")
    before = torch.get_num_threads()
    assert runtime.configure_threads("torch") == before


def test_warm_up_imports_dynamo_in_the_background():
    assert fresh("import sys, pulse_teach, time; t = [x for x in __import__('threading').enumerate() "
                 "if x.name == 'pulse_teach-warm-up']; [x.join() for x in t]; print('torch._dynamo' in sys.modules)"
                 ) == ["True"]
    assert fresh("import sys, pulse_teach; print('torch._dynamo' in sys.modules)", PULSE_TEACH_WARMUP="0") == ["False"]


STEP_FAULTS = """
import resource, torch, pulse_teach
faults = []
pulse_teach.upsample(pulse_teach.load_generator("faces64"), torch.rand(3, 8, 8),
                     pulse_teach.PulseConfig(steps=6, num_seeds=16, image_every=0),
                     callbacks=lambda step: faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
print((faults[-1] - faults[2]) // 3)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or __import__("platform").libc_ver()[0] != "glibc",
                    reason="the allocator setting is for glibc's malloc")
def test_allocator_keeps_freed_memory_for_reuse():
    """Page faults per PULSE step (16 seeds, faces64), after the first steps: what the setting removes."""
    kept = int(fresh(STEP_FAULTS, PULSE_TEACH_WARMUP="0")[0])
    returned = int(fresh(STEP_FAULTS, PULSE_TEACH_WARMUP="0", PULSE_TEACH_MALLOC="off")[0])
    assert returned > 5_000  # measured 10,000-14,500: ~50 MB of fresh, zeroed pages every step
    assert kept < 2_000  # measured 0-700
    assert "malloc: freed memory kept for reuse" in " ".join(fresh("import pulse_teach; print(pulse_teach.device_report())"))


def test_allocator_setting_errors_and_user_choice():
    with pytest.raises(ValueError, match="PULSE_TEACH_MALLOC must be 'auto' or 'off'"):
        runtime.configure_allocator("big")
    assert runtime.configure_allocator("off") is False
    assert fresh("import pulse_teach; print(pulse_teach.runtime.configure_allocator())",
                 MALLOC_ARENA_MAX="2") == ["False"]  # the user's own malloc settings win
