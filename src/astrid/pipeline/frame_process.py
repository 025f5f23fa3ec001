"""Run frames in child processes, each in its own, so a native crash fails one frame only.

A segfault or abort inside a C extension (a corrupt image reaching astroscrappy, a broken
FFT plan) kills the process it happens in. `FrameProcesses` runs every frame in a fresh
process, at most ``n`` at a time: the parent reads the child's stage messages and
its `FrameOutcome` from a pipe, and a child that dies first becomes a failed outcome
naming the signal and the stage it was in ("worker process died: SIGSEGV ..."). The
others go on.

Children are forked from a multiprocessing *forkserver* that has already imported the
frame code (numpy, astropy, sep, onnxruntime...), so a frame starts in milliseconds instead
of the ~2 s a freshly spawned interpreter spends importing; the forkserver itself is a
clean process (no threads, no open catalog), so forking from it is safe.

Children die with the process that runs the batch: the forkserver exits when that process
goes away (its "alive" pipe closes), every child is bound to the forkserver by
``PR_SET_PDEATHSIG`` (Linux), and a thread in each child also watches the batch's pid,
so a ``kill -9`` of ``astrid run`` or ``astrid serve`` leaves no orphans.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from astrid.pipeline.frame import FrameOutcome, process_frame

__all__ = ["FrameFunction", "FrameProcesses", "FrameTask", "die_with_parent", "process_context"]

log = logging.getLogger(__name__)

#: The function a child runs: `astrid.pipeline.frame.process_frame` or one with its
#: signature. It must be importable by name in a spawned process (a module-level function).
FrameFunction = Callable[..., FrameOutcome]

_PR_SET_PDEATHSIG = 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_parent(owner_pid: int) -> None:
    """Make this process exit when ``owner_pid`` (the process running the batch) dies.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` binds it to its direct parent (the
    forkserver, which exits when the owner does); and a daemon thread polls the owner's pid
    twice a second, everywhere. An owner already gone exits at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not _alive(owner_pid):  # the owner died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while _alive(owner_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="astrid-owner-watch", daemon=True).start()


@dataclass(frozen=True)
class FrameTask:
    """One frame for a child: the frame function's arguments (picklable)."""

    label: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0  # the caller's identifier (the run id)


def _child(conn: Connection, parent_pid: int, function: FrameFunction, task: FrameTask) -> None:
    """Entry point of a child: run the frame, streaming "started", stage names, the outcome."""
    die_with_parent(parent_pid)
    conn.send(("started", os.getpid()))

    def on_stage(stage: str) -> None:
        conn.send(("stage", stage))

    outcome = function(*task.args, **task.kwargs, on_stage=on_stage)
    conn.send(("done", outcome))
    conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"{name} (signal {-exitcode})"
    return f"exit code {exitcode}"


@dataclass
class _Child:
    task: FrameTask
    process: BaseProcess
    stage: str = "start"


#: Modules the forkserver imports once, so that each forked frame starts with them loaded.
_PRELOAD = ["astrid.pipeline.frame"]


def process_context() -> ForkServerContext | SpawnContext:
    """The forkserver context (preloaded with the frame code) where there is one, else spawn."""
    try:
        context = get_context("forkserver")
    except ValueError:  # no forkserver on this platform
        spawn = get_context("spawn")
        assert isinstance(spawn, SpawnContext)
        return spawn
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(_PRELOAD)
    return context


class FrameProcesses:
    """Runs frames each in its own process, at most ``workers`` at a time.

    Parameters
    ----------
    workers : int
        Frames running at once.
    function : callable
        Called in the child as ``function(*task.args, **task.kwargs, on_stage=...)``; it
        returns a `FrameOutcome` (default `astrid.pipeline.frame.process_frame`).
    """

    def __init__(self, workers: int, function: FrameFunction = process_frame) -> None:
        self.workers = max(1, workers)
        self.function = function

    def run(
        self,
        tasks: list[FrameTask],
        *,
        on_start: Callable[[FrameTask, int], None] | None = None,
        on_stage: Callable[[FrameTask, str], None] | None = None,
    ) -> Iterator[tuple[FrameTask, FrameOutcome]]:
        """Yield each task with its outcome as it finishes (not in order).

        ``on_start(task, pid)`` is called when a child begins the task (it is bound to die
        with this process by then), ``on_stage(task, stage)`` as it starts a stage. A child
        that dies yields a failed outcome whose ``failed_stage`` is the stage it was in;
        closing the iterator kills the children.
        """
        context = process_context()
        queue = list(reversed(tasks))
        running: dict[Connection, _Child] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    task = queue.pop()
                    receiver, sender = context.Pipe(duplex=False)
                    process = context.Process(
                        target=_child,
                        args=(sender, os.getpid(), self.function, task),
                        name=f"astrid-frame {task.label}",
                        daemon=True,
                    )
                    process.start()
                    sender.close()
                    running[receiver] = _Child(task, process)
                for ready in wait(list(running)):
                    assert isinstance(ready, Connection)
                    child = running[ready]
                    try:
                        kind, value = ready.recv()
                    except (EOFError, OSError):
                        kind, value = "died", None
                    if kind == "started":
                        if on_start is not None:
                            on_start(child.task, value)
                        continue
                    if kind == "stage":
                        child.stage = value
                        if on_stage is not None:
                            on_stage(child.task, value)
                        continue
                    del running[ready]
                    ready.close()
                    child.process.join()
                    if kind == "done":
                        yield child.task, value
                        continue
                    error = (
                        f"worker process died: {_death(child.process.exitcode)} "
                        f"at stage {child.stage} of {child.task.label}"
                    )
                    log.error("%s", error)
                    yield (
                        child.task,
                        FrameOutcome(
                            child.task.label, ok=False, failed_stage=child.stage, error=error
                        ),
                    )
        finally:
            for receiver, child in running.items():
                child.process.kill()
                child.process.join()
                receiver.close()
