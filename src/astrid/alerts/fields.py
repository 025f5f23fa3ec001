"""The fields of an alert that filters test: one flat record per packet.

`alert_fields` reads them from a packet's Rubin record and AstrID's sidecar (so the same
fields exist for packets AstrID made and, later, packets it ingests); `ALERT_FIELDS` names
each with its kind (``number``, ``text``, ``bool``) and meaning, for the filter language's
type checks (`astrid.alerts.filter_language`) and for docs/alerts.md.

Conventions: fluxes are those of the packet (nJy when the frame had a zero point, else the
image's units, ``flux_units``); ``mag`` is the AB magnitude of the difference flux's size
(``|psfFlux|`` in nJy, so a fading source has one too; ``is_negative`` says which way),
None without a zero point or for a zero flux; times are MJD (TAI, as the packet has them);
a value the packet does not have is None (a filter's comparison with it is false).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from astrid.alerts.filter_language import FieldKind
from astrid.alerts.units import AB_MAG_OF_ONE_NJY

__all__ = ["ALERT_FIELDS", "alert_fields"]

#: Every filter field: its kind and what it holds.
ALERT_FIELDS: dict[str, tuple[FieldKind, str]] = {
    "alert_id": ("number", "AstrID's alert id"),
    "dia_source_id": ("number", "the detection's id (diaSource.diaSourceId)"),
    "object_id": ("number", "the object's id (diaObject.diaObjectId)"),
    "object_name": ("text", "the object's public name, e.g. ASTRID2026aab"),
    "ra": ("number", "detection right ascension, degrees ICRS"),
    "dec": ("number", "detection declination, degrees ICRS"),
    "mjd": ("number", "mid-exposure time of the detection, MJD (TAI)"),
    "band": ("text", "filter band of the detection, e.g. 'r'"),
    "flux": ("number", "difference PSF flux (nJy when flux_units is 'nJy')"),
    "flux_err": ("number", "its 1-sigma error"),
    "flux_units": ("text", "'nJy', or 'image' when the frame had no zero point"),
    "snr": ("number", "signal-to-noise ratio of the detection"),
    "mag": ("number", "AB magnitude of |flux| (None without a zero point)"),
    "mag_err": ("number", "its 1-sigma error, magnitudes"),
    "is_negative": ("bool", "fainter than in the reference (a negative difference)"),
    "rb": ("number", "real/bogus score, 0 (bogus) to 1 (real)"),
    "ood": ("number", "out-of-distribution score, 0 (like training data) to 1"),
    "ood_msp": ("number", "OOD component: maximum softmax probability score"),
    "ood_energy": ("number", "OOD component: energy score"),
    "ood_mahalanobis": ("number", "OOD component: Mahalanobis score"),
    "model_version": ("text", "the real/bogus model that scored it, 'name vN'"),
    "context_class": ("text", "context class of the object, e.g. 'supernova_candidate'"),
    "host_name": ("text", "name of the host galaxy, when one is matched"),
    "host_sep_arcsec": ("number", "separation from the host's centre, arcsec"),
    "host_dlr": ("number", "separation in directional light radii of the host"),
    "host_distance_mpc": ("number", "luminosity distance of the host, Mpc"),
    "abs_mag": ("number", "mag at the host's distance: mag - 5 log10(d / 10 pc)"),
    "match_name": ("text", "the first catalogue match that is not a galaxy, e.g. a VSX star"),
    "match_catalogue": ("text", "its catalogue, e.g. 'vsx'"),
    "match_type": ("text", "its type in that catalogue, e.g. 'RRAB'"),
    "match_sep_arcsec": ("number", "its separation, arcsec"),
    "n_detections": ("number", "detections of the object up to and including this one"),
    "n_forced": ("number", "forced measurements of the object before this detection"),
    "n_upper_limits": ("number", "of those, the ones below 5 sigma (non-detections)"),
    "first_detection_mjd": ("number", "MJD of the object's first detection"),
    "days_since_first_detection": ("number", "mjd minus first_detection_mjd, days"),
    "days_since_previous_detection": ("number", "days since the detection before this one"),
    "mag_rate": (
        "number",
        "mag per day from the first detection in this band to this one (negative: brightening)",
    ),
    "schema_version": ("text", "Rubin alert schema version of the packet, e.g. '11.1'"),
    "survey": ("text", "who made the packet: 'astrid' for AstrID's own"),
}


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _magnitude(flux: float | None, err: float | None) -> tuple[float | None, float | None]:
    if flux is None or flux == 0.0:
        return None, None
    mag = AB_MAG_OF_ONE_NJY - 2.5 * math.log10(abs(flux))
    mag_err = None if err is None else 2.5 / math.log(10.0) * abs(err / flux)
    return mag, mag_err


def _first_match(context: Mapping[str, Any]) -> Mapping[str, Any]:
    for match in context.get("matches") or []:
        if isinstance(match, Mapping) and match.get("kind") != "galaxy":
            return match
    return {}


def _rate(
    previous: list[Mapping[str, Any]], band: Any, mjd: float | None, mag: float | None
) -> float | None:
    """Mag per day from the first positive detection in ``band`` before this one."""
    if mjd is None or mag is None:
        return None
    earlier = []
    for point in previous:
        t, f = _number(point.get("midpointMjdTai")), _number(point.get("psfFlux"))
        if point.get("band") == band and t is not None and f is not None and f > 0 and t < mjd:
            earlier.append((t, f))
    if not earlier:
        return None
    t0, f0 = min(earlier)
    first_mag = AB_MAG_OF_ONE_NJY - 2.5 * math.log10(f0)
    return (mag - first_mag) / (mjd - t0)


def alert_fields(record: Mapping[str, Any], sidecar: Mapping[str, Any]) -> dict[str, Any]:
    """The filter fields of one packet (every name of `ALERT_FIELDS`, None where unknown).

    Parameters
    ----------
    record : mapping
        The packet's Rubin alert record (``diaSource``, ``prvDiaSources``, ...).
    sidecar : mapping
        AstrID's sidecar of the packet (empty for a packet without one).
    """
    source: Mapping[str, Any] = record.get("diaSource") or {}
    previous = list(record.get("prvDiaSources") or [])
    forced = list(record.get("prvDiaForcedSources") or [])
    obj: Mapping[str, Any] = record.get("diaObject") or {}
    host: Mapping[str, Any] = sidecar.get("host") or {}
    ood: Mapping[str, Any] = sidecar.get("ood_components") or {}
    flux, flux_err = _number(source.get("psfFlux")), _number(source.get("psfFluxErr"))
    units = sidecar.get("flux_units", "nJy")
    if units == "image":  # no zero point: the packet's fluxes are null, the sidecar's are not
        flux, flux_err = _number(sidecar.get("image_flux")), _number(sidecar.get("image_flux_err"))
    mag, mag_err = _magnitude(flux, flux_err) if units == "nJy" else (None, None)
    mjd = _number(source.get("midpointMjdTai"))
    earlier = [t for t in (_number(p.get("midpointMjdTai")) for p in previous) if t is not None]
    first = min([*earlier, mjd] if mjd is not None else earlier, default=None)
    limits = 0
    for point in forced:
        f, e = _number(point.get("psfFlux")), _number(point.get("psfFluxErr"))
        if f is not None and e is not None and e > 0 and f / e < 5.0:
            limits += 1
    negative = source.get("isNegative")
    rb = _number(sidecar.get("rb"))
    distance = _number(host.get("distance_mpc"))
    match = _first_match(sidecar.get("context") or {})
    abs_mag = None
    if mag is not None and distance is not None and distance > 0:
        abs_mag = mag - 5.0 * math.log10(distance * 1e5)
    rate = None
    if units == "nJy" and not negative:
        rate = _rate(previous, source.get("band"), mjd, mag)
    return {
        "alert_id": sidecar.get("alertId"),
        "dia_source_id": source.get("diaSourceId"),
        "object_id": obj.get("diaObjectId", source.get("diaObjectId")),
        "object_name": sidecar.get("object_name"),
        "ra": _number(source.get("ra")),
        "dec": _number(source.get("dec")),
        "mjd": mjd,
        "band": source.get("band"),
        "flux": flux,
        "flux_err": flux_err,
        "flux_units": units,
        "snr": _number(source.get("snr")),
        "mag": mag,
        "mag_err": mag_err,
        "is_negative": None if negative is None else bool(negative),
        "rb": rb if rb is not None else _number(source.get("reliability")),
        "ood": _number(sidecar.get("ood")),
        "ood_msp": _number(ood.get("msp")),
        "ood_energy": _number(ood.get("energy")),
        "ood_mahalanobis": _number(ood.get("mahalanobis")),
        "model_version": sidecar.get("model_version") or source.get("reliabilityVersion"),
        "context_class": sidecar.get("context_class"),
        "host_name": host.get("name"),
        "host_sep_arcsec": _number(host.get("sep_arcsec")),
        "host_dlr": _number(host.get("dlr")),
        "host_distance_mpc": distance,
        "abs_mag": abs_mag,
        "match_name": match.get("name"),
        "match_catalogue": match.get("catalogue"),
        "match_type": match.get("type"),
        "match_sep_arcsec": _number(match.get("sep_arcsec")),
        "n_detections": len(previous) + 1,
        "n_forced": len(forced),
        "n_upper_limits": limits,
        "first_detection_mjd": first,
        "days_since_first_detection": None if mjd is None or first is None else mjd - first,
        "days_since_previous_detection": (
            None if mjd is None or not earlier else mjd - max(earlier)
        ),
        "mag_rate": rate,
        "schema_version": sidecar.get("schema_version"),
        "survey": sidecar.get("survey", "astrid"),
    }
