"""One alert: a Rubin-schema packet for a detection, and AstrID's sidecar record beside it.

`build_alert` takes plain records (`astrid.alerts.inputs`) and returns an `AlertPacket`:

- ``record``: the alert as a record of the Rubin schema (`astrid.alerts.schema`):
  ``diaSourceId`` and ``diaSource`` (the detection), ``prvDiaSources`` (the object's
  detections before it), ``prvDiaForcedSources`` (its forced photometry on frames before
  it, detected or not), ``diaObject`` (the object as of this detection) and the three
  stamps as FITS bytes (``cutoutScience``, ``cutoutTemplate``, ``cutoutDifference``);
- ``sidecar``: AstrID's values the Rubin schema has no field for (real/bogus, OOD and its
  components, model version, context class, matches, host), keyed by ``alertId`` and
  ``diaSourceId``. A sidecar instead of extra fields keeps the packet a plain record of the
  published schema, which any consumer and schema registry accept (docs/alerts.md).

"Before" is by observation time (then by id for equal times), so a frame processed late
still gets only the history that precedes it. Stamps are 63×63 float32 FITS images,
multiplied into nJy when the detection's frame has a zero point (``BUNIT = 'nJy'``) and
left in the image's units otherwise (``BUNIT = 'image'``; the sidecar says so too), with
the science image's WCS shifted to the stamp when it is known. A
missing stamp makes its field null and is listed in the sidecar's ``missing_cutouts``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from astrid import __version__
from astrid.alerts.dia_records import dia_forced_source, dia_object, dia_source
from astrid.alerts.inputs import AstridValues, Cutouts, Detection, ForcedMeasurement, ObjectSummary
from astrid.alerts.schema import AlertSchema, container_bytes
from astrid.alerts.units import nanojansky_per_unit
from astrid.difference.cutouts import CUTOUT_SIZE, CutoutWcsCards, cutout_fits
from astrid.errors import AlertError

__all__ = ["SIDECAR_VERSION", "AlertPacket", "build_alert", "stamp_fits"]

#: Version of the sidecar record's layout (docs/alerts.md).
SIDECAR_VERSION = 1

#: Packet field of each stamp, by AstrID's name for it.
_STAMP_FIELDS = {
    "science": "cutoutScience",
    "template": "cutoutTemplate",
    "difference": "cutoutDifference",
}


@dataclass(frozen=True)
class AlertPacket:
    """A built alert: the Rubin-schema record and AstrID's sidecar record."""

    alert_id: int
    record: dict[str, Any]
    sidecar: dict[str, Any]

    def avro_bytes(self, schema: AlertSchema) -> bytes:
        """The packet as an Avro container file of one record (schema embedded).

        Raises
        ------
        AlertError
            If the record does not follow the schema.
        """
        metadata = {"astrid.alertId": str(self.alert_id), "astrid.version": __version__}
        return container_bytes(schema, [self.record], metadata=metadata)

    def sidecar_json(self) -> bytes:
        """The sidecar as UTF-8 JSON (non-finite numbers written as null)."""
        return (json.dumps(_finite(self.sidecar), indent=1, allow_nan=False) + "\n").encode()


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (anywhere inside it) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def stamp_fits(
    data: np.ndarray,
    kind: str,
    nanojansky: float | None,
    wcs_cards: bytes | None = None,
) -> bytes:
    """A stamp as the bytes of a FITS file (one float32 primary image).

    Parameters
    ----------
    data : ndarray
        ``(63, 63)`` pixels in the science image's units (NaN where masked or off-image).
    kind : str
        ``science``, ``template`` or ``difference`` (the ``STAMP`` header card).
    nanojansky : float or None
        nJy per image unit; None leaves the pixels in the image's units.
    wcs_cards : bytes, optional
        The stamp's own WCS as rendered header cards (`astrid.difference.CutoutWcsCards`).

    Raises
    ------
    AlertError
        If the stamp is not a 63×63 image.
    """
    array = np.asarray(data)
    if array.shape != (CUTOUT_SIZE, CUTOUT_SIZE):
        raise AlertError(
            f"{kind} stamp: expected {CUTOUT_SIZE}×{CUTOUT_SIZE} pixels, found shape {array.shape}",
            stamp=kind,
            shape=array.shape,
        )
    scaled = array.astype(np.float32) * np.float32(nanojansky if nanojansky else 1.0)
    cards = (
        ("STAMP", kind, "AstrID stamp: science, template or difference"),
        ("BUNIT", "nJy" if nanojansky else "image", "pixel units"),
    )
    return cutout_fits(scaled, cards, extra=wcs_cards)


def _before(mjd: float | None, ident: int, trigger: Detection) -> bool:
    """Whether a measurement at ``mjd`` comes before the trigger (times, then ids)."""
    if mjd is None or trigger.mjd is None or not math.isfinite(mjd):
        return False
    return (mjd, ident) < (trigger.mjd, trigger.id)


def build_alert(
    schema: AlertSchema,
    *,
    alert_id: int,
    detection: Detection,
    obj: ObjectSummary,
    detections: Sequence[Detection],
    forced: Sequence[ForcedMeasurement],
    cutouts: Cutouts,
    values: AstridValues,
) -> AlertPacket:
    """Build the alert of one detection of an object.

    Parameters
    ----------
    schema : AlertSchema
        The Rubin schema to build for (`astrid.alerts.rubin_schema`).
    alert_id : int
        AstrID's alert id (one per object and detection, from the catalog).
    detection : Detection
        The detection the alert announces.
    obj : ObjectSummary
        Its object.
    detections, forced : sequence
        The object's detections and forced measurements (its whole light curve; those
        after the alert's detection, and the detection itself, are left out here).
    cutouts : Cutouts
        The detection's stamps.
    values : AstridValues
        AstrID's values for the sidecar.

    Raises
    ------
    AlertError
        If the detection has no observation time, belongs to another object, or a stamp
        is not 63×63.
    """
    if detection.object_id != obj.id:
        raise AlertError(
            f"detection {detection.id} belongs to object {detection.object_id}, not {obj.id}",
            diaSourceId=detection.id,
        )
    source = dia_source(schema, detection)
    earlier = sorted(
        (d for d in detections if d.id != detection.id and _before(d.mjd, d.id, detection)),
        key=lambda d: (d.mjd, d.id),
    )
    previous = [dia_source(schema, d) for d in earlier]
    history = [
        dia_forced_source(schema, p)
        for p in sorted(forced, key=lambda p: (p.mjd or 0.0, p.id))
        if p.mjd is not None and detection.mjd is not None and p.mjd < detection.mjd
    ]
    nanojansky = nanojansky_per_unit(detection.zero_point)
    wcs_cards = None
    if cutouts.wcs is not None:
        frame_cards = (
            cutouts.wcs if isinstance(cutouts.wcs, CutoutWcsCards) else CutoutWcsCards(cutouts.wcs)
        )
        wcs_cards = frame_cards.at(detection.x, detection.y)
    stamps: dict[str, bytes | None] = {}
    for kind, field in _STAMP_FIELDS.items():
        data = getattr(cutouts, kind)
        stamps[field] = None if data is None else stamp_fits(data, kind, nanojansky, wcs_cards)
    record = dict.fromkeys(schema.record_types["alert"])
    record.update(
        diaSourceId=source["diaSourceId"],
        diaSource=source,
        prvDiaSources=previous,
        prvDiaForcedSources=history,
        diaObject=dia_object(
            schema,
            obj,
            [*previous, source],
            history,
            validity_start=source["timeProcessedMjdTai"],
        ),
        **stamps,
    )
    sidecar = {
        "sidecar_version": SIDECAR_VERSION,
        "alertId": int(alert_id),
        "diaSourceId": source["diaSourceId"],
        "diaObjectId": int(obj.id),
        "object_name": obj.name,
        "schema": schema.name,
        "schema_version": schema.label,
        "astrid_version": __version__,
        "rb": values.rb,
        "ood": values.ood,
        "ood_components": dict(values.ood_components),
        "model_version": values.model_version,
        "context_class": values.context_class,
        "context": dict(values.context),
        "host": dict(values.host),
        "flux_units": "nJy" if nanojansky else "image",
        "zero_point": detection.zero_point,
        "nanojansky_per_unit": nanojansky,
        "image_flux": detection.flux,
        "image_flux_err": detection.flux_err,
        "missing_cutouts": [kind for kind, f in _STAMP_FIELDS.items() if stamps[f] is None],
    }
    return AlertPacket(alert_id=int(alert_id), record=record, sidecar=sidecar)
