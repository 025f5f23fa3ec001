"""Fault injection for the tests of crash isolation: frame functions that kill their process.

`crash_on_marked_frames` is `astrid.pipeline.frame.process_frame`, except that a science
frame whose file name contains ``segfault`` reads address 0 (SIGSEGV inside the C library,
as a broken C extension would) and one whose name contains ``abort`` calls ``os.abort()``
(SIGABRT, as "double free or corruption" does). It is passed as ``frame_function`` to
`astrid.pipeline.runner.Pipeline` or `astrid.api.worker.JobWorker`; it lives in a module of
its own so spawned child processes can import it by name.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

from astrid.pipeline.frame import FrameOutcome, process_frame
from astrid.pipeline.inputs import FrameSource


def crash_on_marked_frames(science: FrameSource, *args: Any, **kwargs: Any) -> FrameOutcome:
    """`process_frame`, or a native crash for a frame named ``*segfault*`` / ``*abort*``."""
    name = Path(science.path or science.label).name
    if "segfault" in name or "segfault" in (science.name or ""):
        on_stage = kwargs.get("on_stage")
        if on_stage is not None:
            on_stage("read")
        ctypes.string_at(0)  # SIGSEGV
    if "abort" in name or "abort" in (science.name or ""):
        os.abort()  # SIGABRT
    return process_frame(science, *args, **kwargs)
