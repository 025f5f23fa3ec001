"""Benchmark building, serialising and reading back Rubin-schema alert packets.

Pure packet code only (`astrid.alerts.build_alert` + `AlertPacket.avro_bytes` + the
sidecar), no catalog reads: each packet has ``--history`` earlier detections and forced
points and three 63×63 stamps carrying the frame's WCS shifted to them (the frame's header
rendered once, `astrid.difference.CutoutWcsCards`, as the alerts stage does). Usage:
``python benchmarks/alert_packets.py [--packets 1000] [--history 10]``
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np
from astropy.wcs import WCS

from astrid.alerts import (
    AstridValues,
    Cutouts,
    Detection,
    ForcedMeasurement,
    ObjectSummary,
    build_alert,
    read_container,
    rubin_schema,
)
from astrid.difference import CutoutWcsCards


def _frame_wcs() -> WCS:
    """A 2048² frame's TAN WCS with SIP distortion, like a survey frame's."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [1024.5, 1024.5]
    wcs.wcs.cd = [[-0.7 / 3600, 0.0], [0.0, 0.7 / 3600]]
    header = wcs.to_header(relax=True)
    header.update({"A_ORDER": 2, "B_ORDER": 2, "A_2_0": 2e-6, "B_0_2": -1e-6})
    return WCS(header)


def main() -> None:
    """Print packets per second built + serialised, and read back, on one core."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1000, help="packets to build")
    parser.add_argument("--history", type=int, default=10, help="earlier points per object")
    args = parser.parse_args()
    schema = rubin_schema()
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    stamps = Cutouts(
        *(rng.normal(size=(3, 63, 63)).astype(np.float32)), wcs=CutoutWcsCards(_frame_wcs())
    )
    obj = ObjectSummary(id=1, name="ASTRID2026a", ra=150.0, dec=2.0)
    values = AstridValues(0.9, 0.3, {"msp": 0.2, "energy": 0.3, "mahalanobis": 0.4}, "rb v1", "x")
    detections = [
        Detection(
            id=k,
            object_id=1,
            visit=k,
            mjd=60000.0 + k,
            band="gr"[k % 2],
            exposure_time=30.0,
            ra=150.0,
            dec=2.0,
            x=100.0,
            y=100.0,
            flux=1000.0 + k,
            flux_err=30.0,
            snr=30.0,
            sign=1,
            n_bad_pixels=0,
            zero_point=28.0,
            rb=0.9,
            model_version="rb v1",
            processed=now,
        )
        for k in range(args.history + 1)
    ]
    forced = [
        ForcedMeasurement(k, 1, k, 60000.0 + k - 0.5, "r", 150.0, 2.0, 10.0, 30.0, 28.0, now)
        for k in range(args.history)
    ]
    files = []
    t0 = time.perf_counter()
    for n in range(args.packets):
        packet = build_alert(
            schema,
            alert_id=n,
            detection=detections[-1],
            obj=obj,
            detections=detections,
            forced=forced,
            cutouts=stamps,
            values=values,
        )
        files.append(packet.avro_bytes(schema))
        packet.sidecar_json()
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    for data in files:
        read_container(data)
    read = time.perf_counter() - t0
    size = np.mean([len(f) for f in files]) / 1024
    print(f"schema {schema.label}; {args.packets} packets, {args.history} earlier points each")
    print(f"built + serialised (+ sidecar): {args.packets / built:.0f} packets/s")
    print(f"read back: {args.packets / read:.0f} packets/s; {size:.1f} KiB per file")


if __name__ == "__main__":
    main()
