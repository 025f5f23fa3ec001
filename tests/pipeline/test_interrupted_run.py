"""``kill -9`` of ``astrid run`` mid-batch (issue 12 item 9): no orphaned worker processes,
frames not begun stay ``queued``, and the next run recovers: the dead process's runs are
marked interrupted and redone in place, its stale temporary objects are removed, and every
frame ends ``done`` once, in one candidates.csv.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from astropy.io import fits

from astrid.catalog import connect
from astrid.simulation import simulate_pair
from small_field import SMALL_FIELD

pytestmark = pytest.mark.slow

_ASTRID = [sys.executable, "-c", "from astrid.cli import app; app()"]


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.sqlite  # the killed `astrid run` is a child process on its own SQLite file
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_mid_run_leaves_nothing_behind_and_the_next_run_recovers(tmp_path: Path) -> None:
    paths = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path / "pair")
    sciences = [paths["science"]]
    for k in (1, 2):
        with fits.open(paths["science"]) as hdul:
            hdul[0].header["TESTNAME"] = f"copy {k}"  # other content, another frame
            hdul.writeto(tmp_path / f"science{k}.fits")
        sciences.append(tmp_path / f"science{k}.fits")
    data, out = tmp_path / "data", tmp_path / "out"
    command = [*_ASTRID, "run", "--reference", str(paths["reference"]), "--out", str(out)]
    command += ["--data-dir", str(data), *map(str, sciences)]
    env = {**os.environ, "ASTRID_WORKERS": "2"}

    batch = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        db = data / "astrid.sqlite"

        def two_frames_running() -> bool:
            assert batch.poll() is None, batch.stderr.read() if batch.stderr else ""
            if not db.exists():
                return False
            with connect(f"sqlite:///{db}") as catalog:
                statuses = sorted(run.status for run in catalog.runs())
            return statuses == ["queued", "running", "running"]

        _wait(two_frames_running, 120, "two frames to begin")
        workers = _children(batch.pid)
        assert len(workers) >= 2, workers
    finally:
        batch.send_signal(signal.SIGKILL)
        batch.wait()
        if batch.stderr:
            batch.stderr.close()

    # The workers die with their parent, not when their frame is done (seconds later).
    def describe() -> str:
        alive = [p for p in workers if _alive(p)]
        return str({p: Path(f"/proc/{p}/cmdline").read_bytes()[:200] for p in alive})

    try:
        _wait(lambda: not any(_alive(pid) for pid in workers), 2, "workers to die")
    except AssertionError:
        raise AssertionError(describe()) from None

    with connect(f"sqlite:///{db}") as catalog:
        left = {run.id: run for run in catalog.runs()}
    assert sorted(run.status for run in left.values()) == ["queued", "running", "running"]
    assert all(run.owner and run.owner.split(":")[1] == str(batch.pid) for run in left.values())

    # A temporary object the dead process was writing, an hour ago.
    key = next(iter(p for p in (data / "store" / "sha256").rglob("*") if p.is_file()))
    stale = key.with_name(f".{key.name}.tmp-0123456789abcdef")
    stale.write_bytes(b"half an object")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not stale.exists()
    with connect(f"sqlite:///{db}") as catalog:
        runs = catalog.runs()
        assert {run.id: run.status for run in runs} == {run_id: "done" for run_id in left}
        interrupted = catalog.events(type="RunInterrupted")
        assert sorted(e.payload["run_id"] for e in interrupted) == sorted(left)
        n_candidates = sum(run.n_candidates for run in runs)
    with (out / "candidates.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == n_candidates > 0
    assert {row["observation_file"] for row in rows} == {str(p) for p in sciences}
    assert len({row["candidate_id"] for row in rows}) == len(rows)
