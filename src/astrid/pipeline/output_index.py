"""Which runs' products went to an output folder, so its ``candidates.csv`` holds them all."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from astrid.pipeline.runner import FrameReport

__all__ = ["OutputIndex"]

log = logging.getLogger(__name__)


class OutputIndex:
    """Which runs' products went to an output folder: ``<out>/.astrid-runs.json``.

    It maps each frame (``"<science sha256>:<reference sha256>"``) to the key of its latest
    run there, in the order frames first came, so ``candidates.csv`` can be rebuilt from the
    catalog with every frame's rows once: a new frame adds rows, a re-run frame replaces
    its own.
    """

    NAME = ".astrid-runs.json"

    def __init__(self, out: Path) -> None:
        self.path = out / self.NAME
        self._frames: dict[str, str] = {}
        if self.path.is_file():
            try:
                loaded = json.loads(self.path.read_text())
            except (OSError, ValueError) as e:
                log.warning("%s is unreadable (%s): candidates.csv starts afresh", self.path, e)
                loaded = {}
            frames = loaded.get("frames") if isinstance(loaded, dict) else None
            if isinstance(frames, dict):
                self._frames = {str(k): str(v) for k, v in frames.items()}

    def add(self, reports: Iterable[FrameReport]) -> None:
        """Record the runs of ``reports`` (their latest run per frame) and save the index."""
        for report in reports:
            if report.frame_key is None or report.run_key is None:
                continue
            self._frames[report.frame_key] = report.run_key
        temporary = self.path.with_name(f"{self.NAME}.tmp-{os.getpid()}")
        temporary.write_text(json.dumps({"frames": self._frames}, indent=1))
        os.replace(temporary, self.path)

    def run_keys(self) -> list[str]:
        """Run keys, one per frame, in the order the frames first came."""
        return list(self._frames.values())
