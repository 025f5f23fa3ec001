"""Alerts of `astrid run`: packets under OUT/alerts/, sent once, the rule, bad input.

Three epochs of one simulated field against its reference (zero point 28): the plain
science frame, then twice the frame with three bright point sources injected. Every
scored detection above the model's operating point gets one packet; the injected sources'
second detections carry the first in their history.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import text

from alert_field import Field
from astrid.alerts import PublicationRule, operating_threshold, read_container, rubin_schema
from astrid.catalog import Catalog, active_model, connect
from astrid.catalog.alerts import alerts_of_runs, alerts_to_send
from astrid.pipeline.alerts_stage import AlertsStage
from astrid.pipeline.runner import Pipeline, RunReport
from astrid.store import ObjectStore

NJY_PER_ADU = 10 ** (0.4 * (31.4 - 28.0))  # the simulator's MAGZP is 28


@dataclass(frozen=True)
class Published:
    root: Path
    report: RunReport
    packets: dict[int, dict[str, Any]]  # alert id → the packet's record
    sidecars: dict[int, dict[str, Any]]
    candidates: list[dict[str, str]]
    threshold: float


def _pipeline(catalog: Catalog, root: Path, **options: Any) -> Pipeline:
    return Pipeline(catalog, ObjectStore(str(root / "store")), workers=1, **options)


def _packets(directory: Path) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    packets, sidecars = {}, {}
    for path in sorted(directory.glob("*.avro")):
        schema, records = read_container(path.read_bytes())
        assert schema["name"] == rubin_schema().name and len(records) == 1
        packets[int(path.stem)] = records[0]
        sidecars[int(path.stem)] = json.loads(path.with_suffix(".astrid.json").read_text())
    return packets, sidecars


@pytest.fixture(scope="module")
def published(field: Field, tmp_path_factory: pytest.TempPathFactory) -> Published:
    root = tmp_path_factory.mktemp("published")
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        report = _pipeline(catalog, root).run(field.reference, field.frames, root / "out")
        model = active_model(catalog, "realbogus")
        assert model is not None
        threshold = operating_threshold(model.card)
    assert report.alerts is not None and report.alerts_dir == root / "out" / "alerts"
    with (root / "out" / "candidates.csv").open(newline="") as handle:
        candidates = list(csv.DictReader(handle))
    packets, sidecars = _packets(report.alerts_dir)
    return Published(root, report, packets, sidecars, candidates, threshold)


def test_one_packet_per_detection_that_passes_the_rule(published: Published) -> None:
    report = published.report.alerts
    assert report is not None and not report.failed and report.error is None
    passing = {
        int(c["candidate_id"])
        for c in published.candidates
        if c["object_id"] and c["rb"] and float(c["rb"]) > published.threshold
    }
    failing = {int(c["candidate_id"]) for c in published.candidates if c["object_id"]} - passing
    assert passing and failing, "the field should have detections on both sides of the rule"
    sent = [p["diaSourceId"] for p in published.packets.values()]
    assert sorted(sent) == sorted(passing)  # each once, none that fails the rule
    assert report.not_published == len(failing)
    assert sorted(report.alert_ids) == sorted(published.packets)
    assert {s["alertId"] for s in published.sidecars.values()} == set(published.packets)


def test_packets_follow_the_schema_and_map_the_candidates(published: Published) -> None:
    parsed = rubin_schema().parsed
    rows = {int(c["candidate_id"]): c for c in published.candidates}
    for alert_id, packet in published.packets.items():
        assert fastavro.validation.validate(packet, parsed, raise_errors=True)
        source, row = packet["diaSource"], rows[packet["diaSourceId"]]
        assert source["diaObjectId"] == int(row["object_id"]) == packet["diaObject"]["diaObjectId"]
        assert source["ra"] == pytest.approx(float(row["ra"]), abs=1e-9)
        assert source["dec"] == pytest.approx(float(row["dec"]), abs=1e-9)
        assert source["midpointMjdTai"] == pytest.approx(float(row["mjd"]) + 37 / 86400, abs=1e-7)
        assert source["psfFlux"] == pytest.approx(float(row["flux"]) * NJY_PER_ADU, rel=1e-6)
        assert source["band"] == "r" and source["reliability"] == pytest.approx(float(row["rb"]))
        sidecar = published.sidecars[alert_id]
        assert sidecar["rb"] == pytest.approx(float(row["rb"]))
        assert sidecar["ood"] == pytest.approx(float(row["ood"]))
        assert set(sidecar["ood_components"]) == {"msp", "energy", "mahalanobis"}
        assert sidecar["model_version"] == row["model_version"]
        assert sidecar["context_class"] and "matches" in sidecar["context"]
        for field in ("cutoutScience", "cutoutTemplate", "cutoutDifference"):
            with fits.open(io.BytesIO(packet[field])) as hdus:
                assert hdus[0].data.shape == (63, 63) and hdus[0].header["BUNIT"] == "nJy"
                centre = WCS(hdus[0].header).pixel_to_world(31, 31)
            # the centre pixel is within a pixel (0.7") of the detection
            separation = centre.separation(SkyCoord(source["ra"], source["dec"], unit="deg"))
            assert separation.arcsec < 0.7 * 0.71


def test_a_second_detection_carries_the_first_in_its_history(published: Published) -> None:
    by_object: dict[int, list[dict[str, Any]]] = {}
    for packet in published.packets.values():
        by_object.setdefault(packet["diaSource"]["diaObjectId"], []).append(packet)
    twice = [p for p in by_object.values() if len(p) == 2]
    assert len(twice) >= 3  # the injected sources, at least
    for first, second in (sorted(p, key=lambda p: p["diaSource"]["midpointMjdTai"]) for p in twice):
        assert first["prvDiaSources"] == []
        assert [s["diaSourceId"] for s in second["prvDiaSources"]] == [first["diaSourceId"]]
        assert second["prvDiaSources"][0] == first["diaSource"]
        forced_times = [f["midpointMjdTai"] for f in second["prvDiaForcedSources"]]
        assert all(t < second["diaSource"]["midpointMjdTai"] for t in forced_times)
        assert (
            second["diaObject"]["nDiaSources"] == 2 and second["diaObject"]["r_psfFluxNdata"] == 2
        )


def test_a_repeated_run_sends_nothing_twice(published: Published, field: Field) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in published.report.alerts_dir.iterdir()}  # type: ignore[union-attr]
    with connect(f"sqlite:///{published.root / 'astrid.sqlite'}") as catalog:
        pipeline = _pipeline(catalog, published.root)
        again = pipeline.run(field.reference, field.frames, published.root / "out")
        elsewhere = pipeline.run(field.reference, field.frames, published.root / "other")
        run_ids = [f.run_id for f in again.frames if f.run_id is not None]
        alerts = alerts_of_runs(catalog, run_ids)
        assert alerts_to_send(catalog, run_ids) == []
    assert again.alerts is not None and again.alerts.written == []
    assert elsewhere.alerts is not None and elsewhere.alerts.written == []
    assert list((published.root / "other" / "alerts").iterdir()) == []
    after = {p.name: p.stat().st_mtime_ns for p in published.report.alerts_dir.iterdir()}  # type: ignore[union-attr]
    assert after == before
    assert sorted(a.id for a in alerts) == sorted(published.packets)
    assert len({(a.run_id, a.candidate_number) for a in alerts}) == len(alerts)


def _without(source: Path, root: Path, name: str, *keys: str) -> Path:
    with fits.open(source) as hdus:
        header = hdus[0].header.copy()
        data = hdus[0].data.copy()
    for key in keys:
        del header[key]
    path = root / name
    fits.PrimaryHDU(data, header=header).writeto(path)
    return path


def test_rule_missing_stamp_no_zero_point_and_no_time(
    field: Field, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no zero point anywhere (the science frame's may come from the reference's)
    reference = _without(field.reference, tmp_path, "reference.fits", "MAGZP")
    no_zp = _without(field.frames[1], tmp_path, "no-zp.fits", "MAGZP")
    no_time = _without(field.frames[1], tmp_path, "no-time.fits", "MJD-OBS", "MAGZP")
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        strict = PublicationRule(min_rb=1.0)  # rb > 1: nothing passes
        report = _pipeline(catalog, tmp_path, alert_rule=strict).run(
            reference, [no_zp, no_time], tmp_path / "out"
        )
        assert report.alerts is not None and report.alerts.written == []
        assert report.alerts.not_published > 0
        assert not any((tmp_path / "out" / "alerts").iterdir())
        # the stored difference stamp of one detection is lost before the default rule runs
        run_ids = [f.run_id for f in report.frames if f.run_id is not None]
        no_zp_run = report.frames[0].run_id
        lost = max(
            (c for c in catalog.candidates(run_id=no_zp_run) if c["object_id"] is not None),
            key=lambda c: c["rb"],
        )
        store = ObjectStore(str(tmp_path / "store"))
        gone = "sha256/00/00/" + "0" * 64 + ".fits.pack#0+17280"  # a member of a lost pack
        assert not store.exists(gone)
        with catalog.engine.begin() as conn:
            conn.execute(
                text("UPDATE candidates SET cutout_difference_key = :key WHERE id = :id"),
                {"key": gone, "id": lost["id"]},
            )
        stage = AlertsStage(catalog, store)
        monkeypatch.setattr("astrid.pipeline.alerts_stage.PACK_BYTES", 1)  # a pack an alert
        published = stage.publish(run_ids, tmp_path / "out")
        assert published.error is None and published.written
        kept: dict[int, str] = {}
        for a in alerts_of_runs(catalog, run_ids):
            if a.avro_key is not None:
                kept[a.id] = a.avro_key
        assert len({key.split("#")[0] for key in kept.values()}) == len(kept) > 1
        for alert_id, key in kept.items():  # the store holds what the folder holds
            assert store.get_bytes(key) == (published.directory / f"{alert_id}.avro").read_bytes()
        # the frame without a time: its alerts are not built, recorded, and tried again
        no_time_ids = {c["id"] for c in catalog.candidates(run_id=report.frames[1].run_id)}
        assert published.failed
        assert all("has no observation time" in e for e in published.failed.values())
        unsent = alerts_to_send(catalog, run_ids)
        assert {a.candidate_id for a in unsent} <= no_time_ids
        assert all(a.error and "observation time" in a.error for a in unsent)
        assert stage.publish(run_ids, tmp_path / "out").written == []
    packets, sidecars = _packets(tmp_path / "out" / "alerts")
    assert packets and all(p["diaSourceId"] not in no_time_ids for p in packets.values())
    for alert_id, packet in packets.items():
        assert packet["diaSource"]["psfFlux"] is None  # no zero point: no nJy
        assert sidecars[alert_id]["flux_units"] == "image"
        assert sidecars[alert_id]["image_flux"] is not None
        with fits.open(io.BytesIO(packet["cutoutScience"])) as hdus:
            assert hdus[0].header["BUNIT"] == "image"
        if packet["diaSourceId"] == lost["id"]:
            assert packet["cutoutDifference"] is None
            assert sidecars[alert_id]["missing_cutouts"] == ["difference"]
        else:
            assert sidecars[alert_id]["missing_cutouts"] == []
    assert any(p["diaSourceId"] == lost["id"] for p in packets.values())
