"""The runner's claims on its runs: kept alive by a heartbeat while frames compute.

`Pipeline.run` claims each run key before computing it (`astrid.catalog.claims`); a key
another process holds is waited for, not computed twice. `Heartbeat` renews this process's
claims every third of the lease from a background thread, so a frame that takes longer than
the lease keeps its claim, and a process that dies stops renewing: its claims lapse after
one lease and another process takes the runs over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from astrid import __version__
from astrid.catalog import Catalog
from astrid.catalog.claims import Claim, claim_run, renew_claim
from astrid.errors import AstridError, ClaimLostError
from astrid.pipeline.inputs import FrameSource
from astrid.pipeline.run_reports import FrameReport

__all__ = ["Heartbeat", "RunClaims", "Wanted", "shared_memory_catalog"]

log = logging.getLogger(__name__)


class Heartbeat:
    """Calls ``beat`` every ``interval_s`` seconds from a background thread while open.

    A failing beat (the database away for a moment) is logged and tried again next time.
    With ``enabled=False`` (an in-memory SQLite catalog: one shared connection, one process,
    no one to lose a claim to) no thread is started.
    """

    def __init__(
        self, beat: Callable[[], None], interval_s: float, *, enabled: bool = True
    ) -> None:
        self.beat = beat
        self.interval_s = interval_s
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except AstridError as e:
                log.warning("heartbeat: %s", e)

    def __enter__(self) -> Heartbeat:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="astrid-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def shared_memory_catalog(catalog: Catalog) -> bool:
    """Whether ``catalog`` is an in-memory SQLite database (one process holds it all)."""
    url = catalog.engine.url
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


@dataclass(frozen=True)
class Wanted:
    """A science frame's run a batch wants: its report, source, key and observation."""

    report: FrameReport
    source: FrameSource
    key: str
    science_id: int


class RunClaims:
    """The runs one `Pipeline` holds (run id → claim), and how it takes and waits for them.

    Parameters
    ----------
    catalog : Catalog
        Where the runs are.
    owner : str
        This process, ``host:pid:start`` (`astrid.pipeline.recovery.current_owner`).
    lease_s, poll_s : float
        How long a claim holds without renewal; how often a run another process holds is
        looked at again.
    """

    def __init__(self, catalog: Catalog, owner: str, lease_s: float, poll_s: float) -> None:
        self.catalog = catalog
        self.owner = owner
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.held: dict[int, Claim] = {}

    def heartbeat(self) -> Heartbeat:
        """A heartbeat renewing these claims every third of the lease (a context manager)."""
        return Heartbeat(
            self._renew, self.lease_s / 3.0, enabled=not shared_memory_catalog(self.catalog)
        )

    def _renew(self) -> None:
        for claim in list(self.held.values()):
            if not renew_claim(self.catalog, claim, self.lease_s):
                log.warning("run %d: claim lost (taken over or finished)", claim.run_id)
                self.held.pop(claim.run_id, None)

    def fence(self, run_id: int | None) -> int | None:
        """The fencing token of this process's claim on a run (None when it holds none)."""
        claim = self.held.get(-1 if run_id is None else run_id)
        return None if claim is None else claim.fence

    def release(self, run_id: int | None) -> None:
        """Forget a claim (its run finished or failed here)."""
        self.held.pop(-1 if run_id is None else run_id, None)

    def claim(self, wanted: Wanted, reference_id: int | None, config: dict[str, Any]) -> bool:
        """Claim a run for this process; False (and the report says why) when it is done
        or another process holds it."""
        report = wanted.report
        result = claim_run(
            self.catalog,
            key=wanted.key,
            science_id=wanted.science_id,
            reference_id=reference_id,
            config=config,
            code_version=__version__,
            owner=self.owner,
            lease_s=self.lease_s,
        )
        report.run_id = result.run.id
        if result.claim is not None:
            self.held[result.claim.run_id] = result.claim
            return True
        if result.reason == "done":
            report.status, report.n_candidates = "skipped", result.run.n_candidates
        elif report.status != "waiting":
            report.status = "waiting"
            log.info("%s: run %d is computed by %s", report.path, report.run_id, result.run.owner)
        return False

    def await_free(
        self,
        waiting: list[Wanted],
        reference_id: int | None,
        config: dict[str, Any],
        on_frame: Callable[[FrameReport], None] | None,
    ) -> list[tuple[FrameReport, FrameSource]]:
        """Poll the runs other processes hold until one is done (reported as skipped) or
        comes free (claimed here and returned, to compute); empties ``waiting`` over calls."""
        while waiting:
            taken: list[tuple[FrameReport, FrameSource]] = []
            for wanted in list(waiting):
                if self.claim(wanted, reference_id, config):
                    waiting.remove(wanted)
                    taken.append((wanted.report, wanted.source))
                elif wanted.report.status == "skipped":
                    waiting.remove(wanted)
                    if on_frame:
                        on_frame(wanted.report)
            if taken or not waiting:
                return taken
            time.sleep(self.poll_s)
        return []

    def begin(self, run_id: int) -> bool:
        """Mark a claimed run running; False when its claim was taken over meanwhile."""
        try:
            self.catalog.begin_run(run_id, owner=self.owner, fence=self.fence(run_id))
        except ClaimLostError as e:
            log.warning("%s", e)
            return False
        return True
