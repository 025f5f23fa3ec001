"""Ingest that runs by itself: process the science frames that arrive in a folder or bucket.

`FolderWatcher` lists a local folder or any fsspec URL (``s3://bucket/prefix``,
``gs://…``, ``memory://…``) every ``poll_s`` seconds. A file is taken once it has
*settled*: the same size and modification time on two looks at least ``settle_s`` apart
(a frame still being written or uploaded is left for later). Settled files go through
`Pipeline.run` against the reference, in batches; a remote file is handed over by its
URL (the pipeline fetches, hashes and stores it: `astrid.pipeline.inputs.admit_frame`).
A restart re-lists everything, and the run keys (content hashes) make the frames already
processed come back as ``skipped``: nothing is computed twice, and frames that arrived
while the watcher was down are processed. ``once`` (the schedule mode: run from cron or a
timer against an archive) processes what is settled now and returns.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fsspec

from astrid.errors import ConfigurationError
from astrid.pipeline.run_reports import FrameInput, RunReport

__all__ = ["FolderWatcher", "WatchConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchConfig:
    """What is watched and how often: file name patterns, seconds a file must stay the
    same before it is taken, seconds between looks, most frames per batch."""

    patterns: tuple[str, ...] = ("*.fits", "*.fit", "*.fts", "*.fits.fz", "*.fits.gz")
    settle_s: float = 5.0
    poll_s: float = 2.0
    batch: int = 16


@dataclass
class _Seen:
    signature: tuple[Any, Any]
    since: float


class FolderWatcher:
    """Processes the frames that settle in ``source`` with ``run_batch``.

    Parameters
    ----------
    source : str
        A local folder or an fsspec URL of one.
    run_batch : callable
        ``run_batch(frames) -> RunReport``: processes local frame paths (e.g. a
        `Pipeline.run` against the reference, with the output folder bound).
    config : WatchConfig
    clock : callable
        Monotonic seconds (tests step it).
    """

    def __init__(
        self,
        source: str,
        run_batch: Callable[[list[FrameInput]], RunReport],
        *,
        config: WatchConfig = WatchConfig(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(source)
        self.remote = "file" not in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )
        if not self.fs.isdir(self.root):
            raise ConfigurationError(f"{source}: not a folder that can be watched")
        self.source = source
        self.run_batch = run_batch
        self.config = config
        self.clock = clock
        self._seen: dict[str, _Seen] = {}
        self._taken: set[tuple[str, Any]] = set()

    def settled(self) -> list[str]:
        """Files matching the patterns whose size and mtime held for ``settle_s``, not yet
        taken by this watcher (in name order)."""
        now = self.clock()
        ready = []
        listing = self.fs.ls(self.root, detail=True, refresh=True)
        present = set()
        for entry in sorted(listing, key=lambda e: str(e["name"])):
            name = str(entry["name"])
            base = name.rstrip("/").rsplit("/", 1)[-1]
            if entry.get("type") != "file" or not any(
                fnmatch.fnmatch(base, p) for p in self.config.patterns
            ):
                continue
            present.add(name)
            signature = (entry.get("size"), entry.get("mtime") or entry.get("LastModified"))
            seen = self._seen.get(name)
            if seen is None or seen.signature != signature:
                self._seen[name] = _Seen(signature, now)
                continue
            if now - seen.since >= self.config.settle_s and (name, signature) not in self._taken:
                ready.append(name)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return ready

    def _frame(self, name: str) -> str:
        """A listed file as the pipeline takes it: a local path, or the remote file's URL."""
        return str(self.fs.unstrip_protocol(name)) if self.remote else name

    def run_once(self) -> list[RunReport]:
        """Process every settled file now, in batches; the reports (none when none)."""
        reports = []
        ready = self.settled()
        for start in range(0, len(ready), self.config.batch):
            names = ready[start : start + self.config.batch]
            frames: list[FrameInput] = [self._frame(n) for n in names]
            log.info("%s: %d new frame(s)", self.source, len(frames))
            reports.append(self.run_batch(frames))
            for name in names:
                self._taken.add((name, self._seen[name].signature))
        return reports

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Watch until ``stop`` is set (or, with ``once``, until nothing is left to settle);
        the number of frames handed to the pipeline."""
        handled = 0
        while not stop.is_set():
            reports = self.run_once()
            handled += sum(len(r.frames) for r in reports)
            if once and not reports and not self._unsettled():
                break
            stop.wait(self.config.poll_s)
        return handled

    def _unsettled(self) -> bool:
        """Whether a seen file is still waiting to settle."""
        return any((n, s.signature) not in self._taken for n, s in self._seen.items())
