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
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap (or creation) to `name`."""
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def as_stats(self, prefix: str = "seconds_") -> dict[str, float]:
        """The timings as ``{prefix + name: seconds}``."""
        return {f"{prefix}{k}": v for k, v in self.seconds.items()}
