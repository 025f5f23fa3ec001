"""Plain alert records for tests: three detections and forced points of one object, r band.

`build` makes the packet of a detection from them (alert id 42).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from astrid.alerts import (
    AlertPacket,
    AstridValues,
    Cutouts,
    Detection,
    ForcedMeasurement,
    ObjectSummary,
    build_alert,
    rubin_schema,
)

PROCESSED = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
ZERO_POINT = 25.0
NJY = 10 ** (0.4 * (31.4 - ZERO_POINT))  # nJy per image unit at zero point 25


def detection(ident: int, mjd: float | None, **changes: object) -> Detection:
    values: dict[str, object] = {
        "id": ident,
        "object_id": 7,
        "visit": 100 + ident,
        "mjd": mjd,
        "band": "r",
        "exposure_time": 30.0,
        "ra": 150.1 + ident * 1e-6,
        "dec": -2.3,
        "x": 40.5,
        "y": 61.25,
        "flux": 120.0 * ident,
        "flux_err": 6.0,
        "snr": 20.0,
        "sign": 1,
        "n_bad_pixels": 0,
        "zero_point": ZERO_POINT,
        "rb": 0.97,
        "model_version": "realbogus v2",
        "processed": PROCESSED,
    }
    values.update(changes)
    return Detection(**values)  # type: ignore[arg-type]


def forced(ident: int, mjd: float, flux: float) -> ForcedMeasurement:
    return ForcedMeasurement(
        id=ident,
        object_id=7,
        visit=200 + ident,
        mjd=mjd,
        band="r",
        ra=150.1,
        dec=-2.3,
        flux=flux,
        flux_err=5.0,
        zero_point=ZERO_POINT,
        processed=PROCESSED,
    )


DETECTIONS = [detection(1, 60000.1), detection(2, 60001.1), detection(3, 60002.1)]
FORCED = [forced(11, 59999.1, 1.0), forced(12, 60000.1, 120.0), forced(13, 60002.1, 360.0)]
OBJECT = ObjectSummary(id=7, name="ASTRID2026ab", ra=150.1, dec=-2.3)
STAMPS = np.arange(63 * 63, dtype=np.float32).reshape(63, 63)
VALUES = AstridValues(
    rb=0.97,
    ood=0.2,
    ood_components={"msp": 0.1, "energy": 0.3, "mahalanobis": 0.25},
    model_version="realbogus v2",
    context_class="supernova_candidate",
    context={"matches": [{"catalogue": "glade", "name": "G1"}], "reason": "near a galaxy"},
    host={"name": "G1", "sep_arcsec": 2.1, "dlr": 0.6, "distance_mpc": 82.0},
)


def build(
    detection: Detection = DETECTIONS[1], cutouts: Cutouts | None = None, **changes: object
) -> AlertPacket:
    return build_alert(
        rubin_schema(),
        alert_id=42,
        detection=detection,
        obj=OBJECT,
        detections=changes.pop("detections", DETECTIONS),  # type: ignore[arg-type]
        forced=changes.pop("forced", FORCED),  # type: ignore[arg-type]
        cutouts=cutouts or Cutouts(STAMPS, STAMPS * 0.5, STAMPS - 1.0),
        values=VALUES,
    )
