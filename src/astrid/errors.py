"""The one exception hierarchy of AstrID.

Messages name the file / HDU / field, what was expected and what was found; the numbers
that explain a failure are kept as attributes so callers can record them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlertError",
    "AlignmentError",
    "AstridError",
    "CalibrationError",
    "ClaimLostError",
    "ConfigurationError",
    "ConflictError",
    "DifferencingError",
    "IncompatibleImagesError",
    "IngestError",
    "InvalidImageError",
    "ModelError",
    "OnlineServiceError",
    "PSFError",
    "StorageError",
]


class AstridError(Exception):
    """Base class of every error AstrID raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details
        for key, value in details.items():
            setattr(self, key, value)


class InvalidImageError(AstridError):
    """A file is not a usable image: not FITS, corrupt, truncated, no data, no WCS, all NaN."""


class IncompatibleImagesError(AstridError):
    """Reference and science images cannot be differenced: no overlap, different bands."""


class AlignmentError(AstridError):
    """The reference could not be aligned to the science image (too few matched stars...)."""


class PSFError(AstridError):
    """No PSF could be measured (too few usable stars)."""


class DifferencingError(AstridError):
    """Image differencing failed (degenerate noise, empty overlap after masking)."""


class StorageError(AstridError):
    """The object store or catalog could not read or write an object."""


class ClaimLostError(StorageError):
    """A write refused because the run was claimed by another process since this one
    claimed it (its fencing token is stale): the other process's result stands."""


class ConflictError(StorageError):
    """A write the catalog refuses because of what it holds: a name already taken, a row
    still in use."""


class ConfigurationError(AstridError):
    """A setting has an invalid value."""


class ModelError(AstridError):
    """A model file is missing, corrupt, of the wrong shape or for other inputs."""


class OnlineServiceError(AstridError):
    """An online catalogue service (SIMBAD, NED, VizieR, TNS) did not answer usably: a
    timeout, an HTTP error or a malformed response. ``service`` names it."""


class AlertError(AstridError):
    """An alert packet could not be built: a required value missing (no MJD), a cutout of the
    wrong shape, or a record the alert schema refuses."""


class IngestError(AstridError):
    """A survey alert packet or file cannot be read: truncated, a required field missing,
    a corrupt cutout, an unknown schema."""


class CalibrationError(AstridError):
    """A frame cannot be calibrated photometrically: too few catalogue stars match it, or the
    catalogue lacks the frame's band. The run goes on without a catalogue zero point."""
