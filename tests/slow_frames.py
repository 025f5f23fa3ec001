"""A frame function that takes its time, for the lease tests: `process_frame`, after sleeping
``ASTRID_TEST_FRAME_SLEEP_S`` seconds for a science frame whose file name contains
``slow``. A module of its own so the child processes frames run in can import it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from astrid.pipeline.frame import FrameOutcome, process_frame
from astrid.pipeline.inputs import FrameSource


def slow_marked_frames(science: FrameSource, *args: Any, **kwargs: Any) -> FrameOutcome:
    """`process_frame`, late for a frame named ``*slow*``."""
    name = Path(science.path or science.label).name + (science.name or "")
    if "slow" in name:
        time.sleep(float(os.environ.get("ASTRID_TEST_FRAME_SLEEP_S", "3")))
    return process_frame(science, *args, **kwargs)
