"""The science configuration of a pipeline run and its content hash (part of the run key)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from astrid.config import Settings
from astrid.difference.subtract import SubtractConfig
from astrid.errors import ConfigurationError
from astrid.observations.fits_reader import DEFAULT_MAX_PIXELS
from astrid.observations.hashing import file_sha256
from astrid.preprocess.pair import PrepareConfig
from astrid.preprocess.zero_point import BANDS

__all__ = ["PhotometricCatalogueSpec", "PhotometricServiceSpec", "PipelineConfig"]

#: Survey catalogues zero points can be calibrated against online.
PHOTOMETRIC_SERVICES = ("ps1",)


@dataclass(frozen=True)
class PhotometricServiceSpec:
    """An online survey whose stars of each field calibrate zero points
    (`astrid.context.online.reference_stars`): its name (what the run key holds), its TAP
    endpoint (None: the public one), the request timeout, the folder its answers are cached
    in, and the band (None: each frame's own)."""

    name: str
    cache_dir: str
    url: str | None = None
    timeout_s: float = 60.0
    band: str | None = None


@dataclass(frozen=True)
class PhotometricCatalogueSpec:
    """A reference-star file to calibrate zero points against
    (`astrid.preprocess.photometric_catalogue`): its path, the SHA-256 of its content
    (what the run key holds, so a changed file makes new runs and a moved one does not)
    and its band (None: each frame's own, from its filter)."""

    path: str
    sha256: str
    band: str | None = None

    @classmethod
    def of_file(cls, path: str | Path, band: str | None = None) -> PhotometricCatalogueSpec:
        """The spec of ``path``, hashed now.

        Raises
        ------
        ConfigurationError
            Naming the file when it does not exist.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(f"{path}: photometric catalogue file not found")
        if band is not None and band.lower() not in BANDS:
            raise ConfigurationError(f"{path}: unknown band {band!r} (use one of {BANDS})")
        return cls(str(path.resolve()), file_sha256(path), None if band is None else band.lower())


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
    photometric_catalogue: PhotometricCatalogueSpec | None = None
    photometric_service: PhotometricServiceSpec | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        threshold: float | None = None,
        detector: str | None = None,
        photometric_catalogue: Path | None = None,
        photometric_band: str | None = None,
        photometric_service: str | None = None,
    ) -> PipelineConfig:
        """The configuration every entry point (CLI, service worker) runs with.

        Parameters
        ----------
        settings : Settings
            Gives the |S_corr| threshold (``ASTRID_THRESHOLD``), the candidate detector
            (``ASTRID_DETECTOR``), the pixel budget (``ASTRID_MAX_IMAGE_PIXELS``) and the
            association radius (``ASTRID_ASSOCIATION_RADIUS_ARCSEC``).
        threshold, detector, photometric_catalogue, photometric_band, photometric_service
            Overrides from the caller (command-line flags); None keeps the setting
            (``ASTRID_PHOTOMETRIC_CATALOGUE``, ``ASTRID_PHOTOMETRIC_BAND``,
            ``ASTRID_PHOTOMETRIC_SERVICE``). A catalogue file wins over a service.

        Raises
        ------
        ConfigurationError
            When the photometric catalogue file does not exist, or the band or the service
            is unknown.
        """
        base = cls()
        subtract = replace(
            base.subtract,
            threshold=settings.threshold if threshold is None else threshold,
            detector=settings.detector if detector is None else detector,
        )
        catalogue = photometric_catalogue or settings.photometric_catalogue
        band = photometric_band or settings.photometric_band
        service = photometric_service or settings.photometric_service
        if service is not None and service not in PHOTOMETRIC_SERVICES:
            raise ConfigurationError(
                f"photometric service {service!r} is unknown (use one of {PHOTOMETRIC_SERVICES})"
            )
        if band is not None and band.lower() not in BANDS:
            raise ConfigurationError(f"unknown band {band!r} (use one of {BANDS})")
        online = None
        if service is not None and catalogue is None:
            online = PhotometricServiceSpec(
                service,
                cache_dir=str(settings.data_dir.resolve() / "reference_stars"),
                url=settings.context_vizier_url,
                timeout_s=settings.photometric_timeout_s,
                band=None if band is None else band.lower(),
            )
        return replace(
            base,
            photometric_catalogue=(
                None if catalogue is None else PhotometricCatalogueSpec.of_file(catalogue, band)
            ),
            photometric_service=online,
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
        if data.get("photometric_catalogue") is None:
            data.pop("photometric_catalogue", None)  # run keys without one stay as they were
        else:
            data["photometric_catalogue"].pop("path")
        if data.get("photometric_service") is None:
            data.pop("photometric_service", None)
        else:  # where it is asked and cached does not change the stars
            data["photometric_service"] = {
                k: data["photometric_service"][k] for k in ("name", "band")
            }
        return json.loads(json.dumps(data, default=str))

    def digest(self) -> str:
        """sha256 of the canonical JSON of `as_dict`."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
