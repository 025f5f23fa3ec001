"""Alert files read ahead in a child process while the caller stores what was read.

Parsing a packet (Avro decoding, three gzip FITS stamps, the history) is pure Python and
NumPy work that takes about a quarter of broker-mode ingestion; the rest (the catalog, the
object store, the model) happens in the calling process. `read_alert_files` moves the
parsing to one child process that reads the next files while the caller handles the
packets already read, so the two overlap on two cores. The items come back exactly as
`astrid.ingest.read_alert_file` yields them, in file order.

Files are handed out in groups (`file_groups`) of up to ``GROUP_BYTES`` of packets, so a
folder of one-packet files (ZTF's public archive) costs one round trip per group, not per
file; at most ``AHEAD`` groups are read ahead (what is held is bounded). One file, or
``processes=0``, is read in the calling process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from astrid.ingest.files import read_alert_file
from astrid.ingest.records import IngestProblem, SurveyAlert

__all__ = ["GROUP_BYTES", "file_groups", "read_alert_files"]

log = logging.getLogger(__name__)

#: Bytes of packet files per group handed to the child (~500 ZTF packets).
GROUP_BYTES = 32 * 2**20
#: Groups read ahead of the one the caller is handling.
AHEAD = 2

Item = SurveyAlert | IngestProblem


def file_groups(files: Sequence[Path], group_bytes: int = GROUP_BYTES) -> list[list[Path]]:
    """``files`` in order, in consecutive groups of up to ``group_bytes`` (at least one file
    each; a file that cannot be sized counts as empty, its reader reports it)."""
    groups: list[list[Path]] = []
    size = 0
    for path in files:
        try:
            nbytes = path.stat().st_size
        except OSError:
            nbytes = 0
        if not groups or size + nbytes > group_bytes:
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += nbytes
    return groups


def _read_group(paths: list[Path]) -> list[Item]:
    return [item for path in paths for item in read_alert_file(path)]


def read_alert_files(files: Sequence[Path], *, processes: int = 1) -> Iterator[Item]:
    """Every item of every file, in order, read ahead by a child process.

    Parameters
    ----------
    files : sequence of Path
        Alert files (`astrid.ingest.alert_paths`).
    processes : int
        0 reads in this process; 1 (the default) in one child process when there are two
        groups or more. A child that dies (killed, out of memory) is reported and the
        files it had not returned are read here.

    Yields
    ------
    SurveyAlert or IngestProblem
        As `astrid.ingest.read_alert_file` yields them, file after file.
    """
    groups = file_groups(files)
    if processes < 1 or len(groups) < 2:
        for group in groups:
            yield from _read_group(group)
        return
    # spawn: the caller may hold threads (the model's, a heartbeat) that fork would copy
    # mid-lock; the child imports only the readers.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        queue: deque[tuple[list[Path], Future[list[Item]]]] = deque()
        upcoming = iter(groups)
        broken = False
        for group in upcoming:
            queue.append((group, pool.submit(_read_group, group)))
            if len(queue) > AHEAD:
                break
        while queue:
            group, future = queue.popleft()
            try:
                items = future.result()
            except BrokenProcessPool as e:
                if not broken:
                    log.warning(
                        "alert reader process died (%s): reading here (pid %d)", e, os.getpid()
                    )
                broken = True
                items = _read_group(group)
            if not broken:
                for following in upcoming:
                    queue.append((following, pool.submit(_read_group, following)))
                    break
            else:
                queue.extend((g, _failed()) for g in upcoming)
            yield from items


def _failed() -> Future[list[Item]]:
    """A future already broken: its group is read in this process."""
    future: Future[list[Item]] = Future()
    future.set_exception(BrokenProcessPool("reader process gone"))
    return future
