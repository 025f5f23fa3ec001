"""Objects: the sources that candidates of many frames belong to.

Pure code over numpy arrays (no SQL): `associate` assigns candidates to the nearest
existing object within a radius or to new objects, `weighted_position` is an object's
flux-weighted mean position, `object_name` its public name. The catalog stores objects and
runs the association under its lock (:mod:`astrid.catalog.objects`).
"""

from astrid.objects.association import (
    DEFAULT_RADIUS_ARCSEC,
    Association,
    associate,
    weighted_position,
)
from astrid.objects.features import (
    LightCurveError,
    LightCurveFeatures,
    Magnitudes,
    light_curve_features,
    magnitudes,
)
from astrid.objects.forced import ForcedPhotometry, forced_photometry, object_pixels
from astrid.objects.moving import TrackError, Tracks, find_tracks, vanished_within_night
from astrid.objects.names import NAME_PREFIX, object_name, sequence_letters

__all__ = [
    "DEFAULT_RADIUS_ARCSEC",
    "NAME_PREFIX",
    "Association",
    "ForcedPhotometry",
    "LightCurveError",
    "LightCurveFeatures",
    "Magnitudes",
    "TrackError",
    "Tracks",
    "associate",
    "find_tracks",
    "forced_photometry",
    "light_curve_features",
    "magnitudes",
    "object_name",
    "object_pixels",
    "sequence_letters",
    "vanished_within_night",
    "weighted_position",
]
