"""The science configuration of a pipeline run and its content hash (part of the run key)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from astrid.config import Settings
from astrid.difference.subtract import SubtractConfig
from astrid.observations.fits_reader import DEFAULT_MAX_PIXELS
from astrid.preprocess.pair import PrepareConfig

__all__ = ["PipelineConfig"]


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting that changes the science products (and so the idempotency key).

    ``max_image_pixels`` (the reader's pixel budget) is carried here too, so every read of
    a run honours ``ASTRID_MAX_IMAGE_PIXELS``; it refuses images, it does not change the
    products of those it reads, so it is not part of `as_dict` or the digest. Neither is
    ``association_radius_arcsec`` (``ASTRID_ASSOCIATION_RADIUS_ARCSEC``): it groups stored
    candidates into objects and does not change a frame's products, so run keys stay as
    they were.
    """

    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    subtract: SubtractConfig = field(default_factory=SubtractConfig)
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    association_radius_arcsec: float = 1.5

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
            Gives the |S_corr| threshold (``ASTRID_THRESHOLD``), the candidate detector
            (``ASTRID_DETECTOR``), the pixel budget (``ASTRID_MAX_IMAGE_PIXELS``) and the
            association radius (``ASTRID_ASSOCIATION_RADIUS_ARCSEC``).
        threshold, detector : optional
            Overrides from the caller (command-line flags); None keeps the setting.
        """
        base = cls()
        subtract = replace(
            base.subtract,
            threshold=settings.threshold if threshold is None else threshold,
            detector=settings.detector if detector is None else detector,
        )
        return replace(
            base,
            subtract=subtract,
            max_image_pixels=settings.max_image_pixels,
            association_radius_arcsec=settings.association_radius_arcsec,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able settings; thread counts and the pixel budget are left out (they do
        not change results)."""
        data = asdict(self)
        data["subtract"]["zogy"].pop("workers", None)
        data.pop("max_image_pixels", None)
        data.pop("association_radius_arcsec", None)
        return json.loads(json.dumps(data, default=str))

    def digest(self) -> str:
        """sha256 of the canonical JSON of `as_dict`."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
