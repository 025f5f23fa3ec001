"""Alert packets from plain records: valid Rubin records, fields mapped, sidecar, bad input."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import fastavro
import lsst.alert.packet
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from alert_records import (
    DETECTIONS,
    FORCED,
    NJY,
    PROCESSED,
    STAMPS,
    ZERO_POINT,
    build,
)
from astrid.alerts import (
    AlertPacket,
    Cutouts,
    container_bytes,
    nanojansky_per_unit,
    read_container,
    rubin_schema,
    tai_mjd,
)
from astrid.errors import AlertError


def test_the_schema_is_the_newest_lsst_alert_packet_ships() -> None:
    schema = rubin_schema()
    assert schema.version == lsst.alert.packet.get_latest_schema_version()
    major, minor = schema.version
    assert schema.name == f"lsst.v{major}_{minor}.alert"
    assert schema.label == f"{major}.{minor}"


def test_packet_validates_and_round_trips() -> None:
    schema = rubin_schema()
    packet = build()
    parsed = fastavro.parse_schema(lsst.alert.packet.Schema.from_file().definition)
    assert fastavro.validation.validate(packet.record, parsed, raise_errors=True)
    assert lsst.alert.packet.Schema.from_file().validate(packet.record)
    writer_schema, records = read_container(packet.avro_bytes(schema))
    assert writer_schema["name"] == schema.name
    assert records == [packet.record]
    # the package's own (schemaless) serialisation reads it back identically too
    rubin = lsst.alert.packet.Schema.from_file()
    assert rubin.deserialize(rubin.serialize(packet.record)) == packet.record


def test_detection_fields_are_mapped() -> None:
    record = build().record
    source = record["diaSource"]
    assert record["diaSourceId"] == source["diaSourceId"] == 2
    assert source["diaObjectId"] == 7 and source["visit"] == 102
    assert source["ra"] == DETECTIONS[1].ra and source["dec"] == -2.3
    assert (source["x"], source["y"]) == (40.5, 61.25)
    expected_tai = Time(60001.1, format="mjd", scale="utc").tai.mjd
    assert source["midpointMjdTai"] == pytest.approx(expected_tai, abs=1e-9)
    assert (source["midpointMjdTai"] - 60001.1) * 86400 == pytest.approx(37.0, abs=1e-3)
    assert source["psfFlux"] == pytest.approx(240.0 * NJY, rel=1e-6)
    assert source["psfFluxErr"] == pytest.approx(6.0 * NJY, rel=1e-6)
    assert source["band"] == "r" and source["isNegative"] is False
    assert source["reliability"] == pytest.approx(0.97)
    assert source["reliabilityVersion"] == "realbogus v2"
    assert source["timeProcessedMjdTai"] == pytest.approx(tai_mjd(PROCESSED))


def test_history_is_what_came_before_thedetection() -> None:
    record = build().record
    assert [s["diaSourceId"] for s in record["prvDiaSources"]] == [1]
    assert [f["diaForcedSourceId"] for f in record["prvDiaForcedSources"]] == [11, 12]
    forced = record["prvDiaForcedSources"][1]
    assert forced["psfFlux"] == pytest.approx(120.0 * NJY, rel=1e-6)
    assert forced["diaObjectId"] == 7 and forced["visit"] == 212
    # the first detection has no earlier detection, one earlier forced point
    first = build(DETECTIONS[0]).record
    assert first["prvDiaSources"] == []
    assert [f["diaForcedSourceId"] for f in first["prvDiaForcedSources"]] == [11]


def test_dia_object_summarises_the_detections_so_far() -> None:
    obj = build().record["diaObject"]
    assert obj["diaObjectId"] == 7 and (obj["ra"], obj["dec"]) == (150.1, -2.3)
    assert obj["nDiaSources"] == 2 and obj["r_psfFluxNdata"] == 2 and obj["g_psfFluxNdata"] == 0
    fluxes = np.array([120.0, 240.0]) * NJY
    assert obj["r_psfFluxMean"] == pytest.approx(fluxes.mean(), rel=1e-6)  # equal errors
    assert obj["r_psfFluxMeanErr"] == pytest.approx(6.0 * NJY / np.sqrt(2), rel=1e-6)
    assert obj["r_psfFluxMin"] == pytest.approx(fluxes[0], rel=1e-6)
    assert obj["r_psfFluxMaxSlope"] == pytest.approx(120.0 * NJY, rel=1e-6)  # per day
    assert obj["r_fpFluxMean"] == pytest.approx(np.mean([1.0, 120.0]) * NJY, rel=1e-6)
    assert obj["firstDiaSourceMjdTai"] == pytest.approx(tai_mjd(60000.1))
    assert obj["lastDiaSourceMjdTai"] == pytest.approx(tai_mjd(60001.1))


def test_cutouts_are_63_pixel_fits_in_nanojansky() -> None:
    record = build().record
    for field, expected in (
        ("cutoutScience", STAMPS),
        ("cutoutTemplate", STAMPS * 0.5),
        ("cutoutDifference", STAMPS - 1.0),
    ):
        with fits.open(io.BytesIO(record[field])) as hdus:
            assert hdus[0].data.shape == (63, 63)
            assert hdus[0].header["BUNIT"] == "nJy"
            np.testing.assert_allclose(hdus[0].data, expected * NJY, rtol=1e-6)


def test_stamps_carry_the_science_wcs_shifted_to_them() -> None:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.1, -2.3]
    wcs.wcs.crpix = [200.0, 150.0]
    wcs.wcs.cdelt = [-0.25 / 3600, 0.25 / 3600]
    record = build(cutouts=Cutouts(STAMPS, STAMPS, STAMPS, wcs=wcs)).record
    x, y = DETECTIONS[1].x, DETECTIONS[1].y
    for field in ("cutoutScience", "cutoutTemplate", "cutoutDifference"):
        with fits.open(io.BytesIO(record[field])) as hdus:
            stamp = WCS(hdus[0].header)
        # the stamp's centre pixel (31, 31) is the science pixel nearest the detection
        expected = wcs.pixel_to_world_values(round(x), round(y))
        np.testing.assert_allclose(stamp.pixel_to_world_values(31, 31), expected, atol=1e-10)


def test_sidecar_carries_astrid_values() -> None:
    packet = build()
    sidecar = json.loads(packet.sidecar_json())
    assert sidecar["alertId"] == 42 and sidecar["diaSourceId"] == 2
    assert sidecar["diaObjectId"] == 7 and sidecar["object_name"] == "ASTRID2026ab"
    assert sidecar["schema"] == rubin_schema().name
    assert sidecar["rb"] == pytest.approx(0.97) and sidecar["ood"] == pytest.approx(0.2)
    assert sidecar["ood_components"] == {"msp": 0.1, "energy": 0.3, "mahalanobis": 0.25}
    assert sidecar["model_version"] == "realbogus v2"
    assert sidecar["context_class"] == "supernova_candidate"
    assert sidecar["context"]["matches"][0]["name"] == "G1"
    assert sidecar["host"]["dlr"] == pytest.approx(0.6)
    assert sidecar["flux_units"] == "nJy" and sidecar["missing_cutouts"] == []
    assert sidecar["nanojansky_per_unit"] == pytest.approx(NJY)


def test_no_zero_point_leaves_fluxes_null_and_says_so() -> None:
    detection = replace(DETECTIONS[1], zero_point=None)
    forced = [replace(p, zero_point=None) for p in FORCED]
    packet = build(detection, forced=forced)
    source = packet.record["diaSource"]
    assert source["psfFlux"] is None and source["psfFluxErr"] is None
    assert all(f["psfFlux"] is None for f in packet.record["prvDiaForcedSources"])
    sidecar = json.loads(packet.sidecar_json())
    assert sidecar["flux_units"] == "image" and sidecar["nanojansky_per_unit"] is None
    assert sidecar["image_flux"] == pytest.approx(240.0)
    with fits.open(io.BytesIO(packet.record["cutoutScience"])) as hdus:
        assert hdus[0].header["BUNIT"] == "image"
        np.testing.assert_array_equal(hdus[0].data, STAMPS)
    assert read_container(packet.avro_bytes(rubin_schema()))[1] == [packet.record]


def test_missing_stamp_is_null_and_listed() -> None:
    packet = build(cutouts=Cutouts(STAMPS, None, STAMPS))
    assert packet.record["cutoutTemplate"] is None
    assert packet.record["cutoutScience"] is not None
    assert json.loads(packet.sidecar_json())["missing_cutouts"] == ["template"]
    assert read_container(packet.avro_bytes(rubin_schema()))[1] == [packet.record]


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(AlertError, match="science stamp: expected 63×63 pixels"):
        build(cutouts=Cutouts(STAMPS[:40], STAMPS, STAMPS))
    with pytest.raises(AlertError, match="detection 2 has no observation time"):
        build(replace(DETECTIONS[1], mjd=None))
    with pytest.raises(AlertError, match="belongs to object 8, not 7"):
        build(replace(DETECTIONS[1], object_id=8))
    with pytest.raises(AlertError, match="not a readable Avro"):
        read_container(b"Obj\x01 truncated")


def test_non_finite_values_are_null() -> None:
    detection = replace(DETECTIONS[1], snr=float("nan"), flux=float("inf"), rb=None)
    packet = build(detection)
    source = packet.record["diaSource"]
    assert source["snr"] is None and source["psfFlux"] is None and source["reliability"] is None
    assert read_container(packet.avro_bytes(rubin_schema()))[1] == [packet.record]


def test_a_record_the_schema_refuses_is_named() -> None:
    packet = build()
    broken = AlertPacket(42, {**packet.record, "diaSourceId": "not a long"}, packet.sidecar)
    with pytest.raises(AlertError, match=r"does not follow lsst\.v"):
        broken.avro_bytes(rubin_schema())


def test_nanojansky_conversion() -> None:
    assert nanojansky_per_unit(31.4) == pytest.approx(1.0)
    # AB: m = -2.5 log10(f_nu / erg s^-1 cm^-2 Hz^-1) - 48.6; 1 Jy = 1e-23 cgs
    cgs = 10 ** (-0.4 * (ZERO_POINT + 48.6))
    assert nanojansky_per_unit(ZERO_POINT) == pytest.approx(cgs / 1e-23 * 1e9, rel=1e-12)
    assert nanojansky_per_unit(float("nan")) is None and nanojansky_per_unit(None) is None


@pytest.mark.parametrize("n_records", [0, 1, 3])
def test_container_is_what_fastavro_writes(n_records: int) -> None:
    """`container_bytes` lays the container out itself (the schema's JSON serialised once
    per process): what `fastavro.writer` writes (the same metadata, embedded schema and
    records, read back by fastavro), in one block where fastavro cuts one every 16 kB."""
    schema = rubin_schema()
    records = [build().record] * n_records
    ours = container_bytes(schema, records, metadata={"astrid.alertId": "7"})
    sync = ours[-16:]  # a container ends with its sync marker, records or not
    theirs = io.BytesIO()
    fastavro.writer(
        theirs, schema.parsed, records, metadata={"astrid.alertId": "7"}, sync_marker=sync
    )
    reader = fastavro.reader(io.BytesIO(ours))
    assert [dict(r) for r in reader] == records
    assert reader.metadata["astrid.alertId"] == "7" and reader.metadata["avro.codec"] == "null"
    expected = fastavro.reader(io.BytesIO(theirs.getvalue()))
    assert reader.metadata == expected.metadata
    assert reader.writer_schema == expected.writer_schema
    assert ours.startswith(b"Obj\x01") and len(ours) <= len(theirs.getvalue())  # one block
