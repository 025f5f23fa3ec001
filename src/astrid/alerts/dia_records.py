"""Rubin ``diaSource``, ``diaForcedSource`` and ``diaObject`` records from AstrID's values.

Every record starts with every field of its schema null (`blank_record`) and fills what
AstrID measures; the rest stays null, so a record always carries exactly the schema's
fields. What AstrID does not measure but the schema requires is written as documented in
docs/alerts.md: ``detector`` 0 (one image per visit), ``psfNdata``, ``trailNdata``,
``dipoleNdata`` and ``bboxSize`` 0 (not measured).

Fluxes become nJy with each measurement's own zero point (`astrid.alerts.units`); without
one they are null. A ``diaObject``'s per-band statistics are filled for Rubin's bands
``ugrizy`` only, matched by the exact lower-case band name (``"r"``); a measurement in any
other band keeps its name in ``band`` but enters no per-band field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from astrid.alerts.inputs import Detection, ForcedMeasurement, ObjectSummary
from astrid.alerts.schema import AlertSchema
from astrid.alerts.units import nanojansky_per_unit, tai_mjd
from astrid.errors import AlertError

__all__ = ["RUBIN_BANDS", "blank_record", "dia_forced_source", "dia_object", "dia_source"]

#: The bands whose per-band statistics a diaObject has.
RUBIN_BANDS = ("u", "g", "r", "i", "z", "y")


def blank_record(schema: AlertSchema, name: str) -> dict[str, Any]:
    """Every field of the record type ``name`` (``"diaSource"``, ...) of the schema, None."""
    fields = schema.record_types.get(name)
    if fields is None:
        raise AlertError(f"{schema.name} has no record type {name!r}", record=name)
    return dict.fromkeys(fields)


def _float(value: float | None, factor: float | None = 1.0) -> float | None:
    """A finite value times ``factor`` for an Avro ``float`` field, or None (no value, no
    factor, or not finite). Rounded to 32 bits as Avro stores it, so that a packet read
    back equals the record it was written from."""
    if value is None or factor is None:
        return None
    scaled = float(np.float32(float(value) * factor))
    return scaled if math.isfinite(scaled) else None


def _mjd(mjd: float | None, what: str, ident: int) -> float:
    if mjd is None or not math.isfinite(mjd):
        raise AlertError(f"{what} {ident} has no observation time (MJD)", id=ident)
    return tai_mjd(float(mjd))


def dia_source(schema: AlertSchema, detection: Detection) -> dict[str, Any]:
    """The ``diaSource`` record of a detection.

    Raises
    ------
    AlertError
        If the detection has no observation time (``midpointMjdTai`` is required).
    """
    record = blank_record(schema, "diaSource")
    njy = nanojansky_per_unit(detection.zero_point)
    record.update(
        diaSourceId=int(detection.id),
        visit=int(detection.visit),
        detector=0,
        diaObjectId=int(detection.object_id),
        midpointMjdTai=_mjd(detection.mjd, "detection", detection.id),
        exposureTime=_float(detection.exposure_time),
        ra=float(detection.ra),
        dec=float(detection.dec),
        x=_float(detection.x),
        y=_float(detection.y),
        isNegative=detection.sign < 0,
        snr=_float(detection.snr),
        psfFlux=_float(detection.flux, njy),
        psfFluxErr=_float(detection.flux_err, njy),
        psfNdata=0,
        trailNdata=0,
        dipoleNdata=0,
        reliability=_float(detection.rb),
        reliabilityVersion=detection.model_version,
        band=detection.band,
        timeProcessedMjdTai=tai_mjd(detection.processed),
        bboxSize=0,
        pixelFlags_bad=detection.n_bad_pixels > 0,
    )
    return record


def dia_forced_source(schema: AlertSchema, point: ForcedMeasurement) -> dict[str, Any]:
    """The ``diaForcedSource`` record of a forced measurement.

    Raises
    ------
    AlertError
        If the measurement has no observation time.
    """
    record = blank_record(schema, "diaForcedSource")
    njy = nanojansky_per_unit(point.zero_point)
    record.update(
        diaForcedSourceId=int(point.id),
        diaObjectId=int(point.object_id),
        ra=float(point.ra),
        dec=float(point.dec),
        visit=int(point.visit),
        detector=0,
        psfFlux=_float(point.flux, njy),
        psfFluxErr=_float(point.flux_err, njy),
        midpointMjdTai=_mjd(point.mjd, "forced measurement", point.id),
        band=point.band,
        timeProcessedMjdTai=tai_mjd(point.processed),
    )
    return record


def _band_fluxes(
    records: Sequence[dict[str, Any]], band: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mjd, flux, flux_err)`` in nJy of the records of one band with a usable flux."""
    rows = [
        (r["midpointMjdTai"], r["psfFlux"], r["psfFluxErr"])
        for r in records
        if r["band"] == band and r["psfFlux"] is not None and r["psfFluxErr"] is not None
    ]
    if not rows:
        empty = np.array([], dtype=float)
        return empty, empty, empty
    t, f, e = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    return t, f, e


def _weighted_mean(flux: np.ndarray, err: np.ndarray) -> tuple[float | None, float | None]:
    good = err > 0
    if not np.any(good):
        return None, None
    weights = 1.0 / err[good] ** 2
    mean = float(np.sum(weights * flux[good]) / np.sum(weights))
    return mean, float(1.0 / math.sqrt(float(np.sum(weights))))


def dia_object(
    schema: AlertSchema,
    summary: ObjectSummary,
    sources: Sequence[dict[str, Any]],
    forced: Sequence[dict[str, Any]],
    *,
    validity_start: float,
) -> dict[str, Any]:
    """The ``diaObject`` record of an object from its diaSource and diaForcedSource records.

    Parameters
    ----------
    schema : AlertSchema
    summary : ObjectSummary
        The object's id and position.
    sources, forced : sequence of dict
        Its ``diaSource`` records up to and including the alert's, and its
        ``diaForcedSource`` records before it (as `dia_source`, `dia_forced_source` made
        them: fluxes in nJy, times TAI).
    validity_start : float
        ``validityStartMjdTai``: when this state of the object was computed (TAI MJD).
    """
    record = blank_record(schema, "diaObject")
    times = [r["midpointMjdTai"] for r in sources]
    record.update(
        diaObjectId=int(summary.id),
        validityStartMjdTai=float(validity_start),
        ra=float(summary.ra),
        dec=float(summary.dec),
        nDiaSources=len(sources),
        firstDiaSourceMjdTai=min(times) if times else None,
        lastDiaSourceMjdTai=max(times) if times else None,
    )
    for band in RUBIN_BANDS:
        t, f, e = _band_fluxes(sources, band)
        record[f"{band}_psfFluxNdata"] = len(f)
        if len(f):
            mean, mean_err = _weighted_mean(f, e)
            order = np.argsort(t)
            dt, df = np.diff(t[order]), np.diff(f[order])
            slopes = np.abs(df[dt > 0] / dt[dt > 0])
            record.update(
                {
                    f"{band}_psfFluxMean": _float(mean),
                    f"{band}_psfFluxMeanErr": _float(mean_err),
                    f"{band}_psfFluxSigma": _float(np.std(f, ddof=1)) if len(f) > 1 else None,
                    f"{band}_psfFluxMin": _float(np.min(f)),
                    f"{band}_psfFluxMax": _float(np.max(f)),
                    f"{band}_psfFluxMaxSlope": _float(np.max(slopes)) if len(slopes) else None,
                    f"{band}_psfFluxErrMean": _float(np.mean(e)),
                }
            )
        _, ff, fe = _band_fluxes(forced, band)
        if len(ff):
            mean, mean_err = _weighted_mean(ff, fe)
            record.update(
                {f"{band}_fpFluxMean": _float(mean), f"{band}_fpFluxMeanErr": _float(mean_err)}
            )
    return record
