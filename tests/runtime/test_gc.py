"""What a gateway process does once it has started (smtpeter.runtime.freezeStartup)."""

from __future__ import annotations

import subprocess
import sys

# The collector's settings belong to the process: tried in a process of its own.
CODE = """
import gc
from twisted.internet.task import Clock
from smtpeter.runtime import GC_EVERY, GC_YOUNG, freezeStartup

clock = Clock()
freezeStartup(clock)
assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
assert gc.get_threshold() == (GC_YOUNG, 10, 10), gc.get_threshold()
started = []
gc.callbacks.append(lambda phase, info: phase == "start" and started.append(info["generation"]))
clock.advance(GC_EVERY - 0.1)
assert started == [], started
clock.advance(0.1)
assert started == [1], started
print("ok")
"""


def test_startup_is_frozen_and_young_objects_are_collected_seldom_but_surely():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
