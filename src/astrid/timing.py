"""A stopwatch for per-step timings that stages report in their statistics."""

from __future__ import annotations

import time

__all__ = ["Stopwatch"]


class Stopwatch:
    """Accumulates wall-clock seconds per named step; ``lap(name)`` closes the current step.

    Examples
    --------
    >>> watch = Stopwatch()
    >>> watch.lap("load")
    >>> sorted(watch.seconds)
    ['load']
    >>> timings = {"load": 1.0}
    >>> again = Stopwatch(timings)
    >>> again.lap("load")
    >>> timings["load"] > 1.0
    True
    """

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        #: seconds per step; a dict given is added to (a report's timings)
        self.seconds: dict[str, float] = {} if seconds is None else seconds
        self._last = time.perf_counter()

    def restart(self) -> None:
        """Start the next step now: the time since the last lap is charged to no step."""
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap (or creation) to `name`."""
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def as_stats(self, prefix: str = "seconds_") -> dict[str, float]:
        """The timings as ``{prefix + name: seconds}``."""
        return {f"{prefix}{k}": v for k, v in self.seconds.items()}
