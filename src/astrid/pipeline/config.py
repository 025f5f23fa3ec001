"""The science configuration of a pipeline run and its content hash (part of the run key)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from astrid.config import Settings
from astrid.difference.subtract import SubtractConfig
from astrid.preprocess.pair import PrepareConfig

__all__ = ["PipelineConfig"]


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting that changes the science products (and so the idempotency key)."""

    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    subtract: SubtractConfig = field(default_factory=SubtractConfig)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        threshold: float | None = None,
        detector: str | None = None,
    ) -> PipelineConfig:
        """The configuration every entry point (CLI, service worker) runs with.

        Parameters
        ----------
        settings : Settings
            Gives the |S_corr| threshold (``ASTRID_THRESHOLD``) and the candidate detector
            (``ASTRID_DETECTOR``).
        threshold, detector : optional
            Overrides from the caller (command-line flags); None keeps the setting.
        """
        base = cls()
        subtract = replace(
            base.subtract,
            threshold=settings.threshold if threshold is None else threshold,
            detector=settings.detector if detector is None else detector,
        )
        return replace(base, subtract=subtract)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able settings; thread counts are left out (they do not change results)."""
        data = asdict(self)
        data["subtract"]["zogy"].pop("workers", None)
        return json.loads(json.dumps(data, default=str))

    def digest(self) -> str:
        """sha256 of the canonical JSON of `as_dict`."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
