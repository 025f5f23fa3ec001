"""Broker mode: ZTF and Rubin packets become scored candidates of objects with light curves."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from astrid.alerts import PublicationRule
from astrid.catalog import Catalog, connect, light_curves, objects_by_id
from astrid.catalog.alerts import alerts_of_runs
from astrid.cli import app
from astrid.ingest.kafka_source import KafkaAlertSource
from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet
from astrid.pipeline.alerts_stage import AlertsStage
from astrid.pipeline.ingest_stage import UNSCORED_NOTE, IngestStage
from astrid.pipeline.scoring import resolve_model
from astrid.store import ObjectStore
from fake_kafka import FakeConsumer, FakeError, FakeMessage

JD0 = 2460000.5


def _stamp(seed: int, amplitude: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:63, :63]
    star = amplitude * np.exp(-((x - 31) ** 2 + (y - 31) ** 2) / (2 * 1.2**2))
    return (star + rng.normal(0, 5, (63, 63))).astype(np.float32)


def _packet(
    candid: int,
    day: int,
    *,
    object_id: str,
    ra: float,
    earlier: tuple[int, ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    first = day - len(earlier)
    history: list[dict[str, Any]] = [
        # an upper limit the night before the first detection, then the earlier detections
        {
            "jd": JD0 + first - 1.0,
            "fid": 2,
            "pid": 9000 + first - 1,
            "candid": None,
            "programid": 1,
            "diffmaglim": 20.3,
            "magpsf": None,
            "sigmapsf": None,
            "isdiffpos": None,
            "ra": None,
            "dec": None,
            "rb": None,
        }
    ]
    for k, earlier_candid in enumerate(earlier):
        history.append(
            history[0]
            | {
                "jd": JD0 + first + k,
                "pid": 9000 + first + k,
                "candid": earlier_candid,
                "magpsf": 19.0,
                "sigmapsf": 0.05,
                "isdiffpos": "t",
                "ra": ra,
                "dec": 2.2,
                "rb": 0.8,
            }
        )
    packet = ztf_packet(
        candid,
        stamp=_stamp(candid, 500.0),
        prv_candidates=history,
        jd=JD0 + day,
        pid=9000 + day,
        ra=ra,
        dec=2.2,
        **fields,
    )
    packet["objectId"] = object_id
    return packet


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as cat:
        yield cat


def _stage(catalog: Catalog, root: Path, score: bool = True) -> IngestStage:
    store = ObjectStore(str(root / "store"))
    model = resolve_model(catalog, store) if score else None
    return IngestStage(catalog, store, model=model)


def test_packets_become_objects_with_light_curves(catalog: Catalog, tmp_path: Path) -> None:
    folder = tmp_path / "packets"
    folder.mkdir()
    write_ztf_packets(
        folder / "night1.avro",
        [
            _packet(101, 0, object_id="ZTF26aaaaaaa", ra=150.1),
            _packet(102, 0, object_id="ZTF26aaaaaab", ra=150.2, isdiffpos="f"),
        ],
    )
    write_ztf_packets(
        folder / "night2.avro",
        [_packet(103, 1, object_id="ZTF26aaaaaaa", ra=150.1000001, earlier=(101,))],
    )
    (folder / "broken.avro").write_bytes(b"not avro at all")
    report = _stage(catalog, tmp_path).ingest([folder])
    assert report.error is None
    assert (report.files, report.read, report.stored, report.duplicates) == (3, 3, 3, 0)
    assert len(report.problems) == 1 and "broken.avro" in report.problems[0].path
    candidates = {c["source_id"]: c for c in catalog.candidates()}
    assert set(candidates) == {101, 102, 103}
    first = candidates[101]
    assert first["survey"] == "ztf" and first["packet_id"] == "101"
    assert first["schema_version"] == "4.02" and first["survey_score"] == pytest.approx(0.95)
    assert first["rb"] is not None and 0.0 <= first["rb"] <= 1.0 and first["ood"] is not None
    assert candidates[102]["sign"] == -1
    # the two packets of ZTF26aaaaaaa join one object; the other is its own
    assert candidates[101]["object_id"] == candidates[103]["object_id"]
    assert candidates[102]["object_id"] != candidates[101]["object_id"]
    obj = candidates[101]["object_id"]
    points = light_curves(catalog, [obj])[obj]
    detected = sorted(p.mjd for p in points if p.detected)
    assert detected == pytest.approx([JD0 - 2400000.5, JD0 + 1 - 2400000.5])
    limits = [p for p in points if not p.detected]
    assert len(limits) == 1 and limits[0].flux is None
    # the 5σ limit reads back as the packet's diffmaglim
    assert 31.4 - 2.5 * np.log10(5 * limits[0].flux_err) == pytest.approx(20.3)
    record = objects_by_id(catalog, [obj])[obj]
    assert record.n_detections == 2 and record.peak_mag == pytest.approx(19.0, abs=0.01)
    # the same files again: nothing new
    again = _stage(catalog, tmp_path).ingest([folder])
    assert (again.read, again.stored, again.duplicates) == (3, 0, 3)
    assert len(catalog.candidates()) == 3


def test_rubin_and_ztf_together_and_unscored(catalog: Catalog, tmp_path: Path) -> None:
    import lsst.alert.packet

    sample = (
        Path(lsst.alert.packet.__file__).parent
        / "schema"
        / "11"
        / "1"
        / "sample_data"
        / "fakeAlert.avro"
    )
    write_ztf_packets(tmp_path / "z.avro", [_packet(7, 0, object_id="ZTF26x", ra=10.0)])
    report = _stage(catalog, tmp_path, score=False).ingest([sample, tmp_path / "z.avro"])
    assert report.error is None and report.stored == report.read >= 2
    surveys = {c["survey"] for c in catalog.candidates()}
    assert surveys == {"ztf", "rubin"}
    assert all(c["rb"] is None for c in catalog.candidates())


def test_a_packet_with_no_difference_pixel_is_stored_unscored(
    catalog: Catalog, tmp_path: Path
) -> None:
    blank = _packet(301, 0, object_id="ZTF26d", ra=40.0)
    blank["cutoutDifference"] = None
    whole = _packet(302, 0, object_id="ZTF26e", ra=41.0)
    write_ztf_packets(tmp_path / "d.avro", [blank, whole])
    report = _stage(catalog, tmp_path).ingest([tmp_path / "d.avro"])
    assert report.error is None and report.stored == 2
    by_id = {c["source_id"]: c for c in catalog.candidates()}
    assert by_id[301]["rb"] is None and by_id[301]["ood"] is None
    assert UNSCORED_NOTE in by_id[301]["notes"]
    assert 0 <= by_id[302]["rb"] <= 1 and UNSCORED_NOTE not in by_id[302]["notes"]
    # a batch of nothing but such packets stores them all, unscored
    only = _packet(303, 0, object_id="ZTF26f", ra=42.0)
    only["cutoutDifference"] = None
    write_ztf_packets(tmp_path / "o.avro", [only])
    assert _stage(catalog, tmp_path).ingest([tmp_path / "o.avro"]).stored == 1


def test_cli_writes_the_run_layout_with_provenance(tmp_path: Path) -> None:
    write_ztf_packets(
        tmp_path / "p.avro",
        [
            _packet(201, 0, object_id="ZTF26c", ra=30.0),
            _packet(202, 1, object_id="ZTF26c", ra=30.0),
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "ingest-alerts",
            str(tmp_path / "p.avro"),
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "d"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 packets from 1 file(s): 2 new" in result.output
    with (out / "candidates.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["source_id"] for r in rows) == ["201", "202"]
    assert {r["survey"] for r in rows} == {"ztf"} and rows[0]["object_name"]
    with (out / "objects.csv").open(newline="") as handle:
        objects = list(csv.DictReader(handle))
    assert len(objects) == 1
    assert (out / "ingest_problems.csv").read_text().startswith("file,record")
    with connect(f"sqlite:///{tmp_path / 'd' / 'astrid.sqlite'}") as catalog:
        runs = {c["run_id"] for c in catalog.candidates()}
        published = alerts_of_runs(catalog, runs)
    assert len(list((out / "alerts").glob("*.avro"))) == sum(
        a.sent_at is not None for a in published
    )


def _message(tmp_path: Path, packet: dict[str, Any]) -> bytes:
    path = tmp_path / f"m{packet['candid']}.avro"
    write_ztf_packets(path, [packet])
    return path.read_bytes()


def test_a_kafka_stream_is_committed_only_once_stored(catalog: Catalog, tmp_path: Path) -> None:
    messages = [
        _message(tmp_path, _packet(301 + k, k, object_id="ZTF26k", ra=60.0)) for k in range(4)
    ]
    stage = IngestStage(catalog, ObjectStore(str(tmp_path / "store")), batch=2)
    # a first reader takes two messages and dies before committing anything
    crashed = FakeConsumer.of(messages)
    source = KafkaAlertSource(["z"], bootstrap_servers="f:1", consumer=crashed, max_messages=2)
    first = stage.ingest_items(source.items())
    assert (first.read, first.stored) == (2, 2) and crashed.commits == []
    # the group starts again from offset 0: two duplicates, two new, all committed
    again = FakeConsumer.of(messages)
    source = KafkaAlertSource(["z"], bootstrap_servers="f:1", consumer=again, max_messages=4)
    stored_when_committed: list[int] = []

    def commit() -> None:
        stored_when_committed.append(len(catalog.candidates()))
        source.commit()

    report = stage.ingest_items(source.items(), after_batch=commit)
    assert report.error is None
    assert (report.read, report.stored, report.duplicates) == (4, 2, 2)
    assert again.commits[-1] == [("alerts", 0, 4)] and source.committed == 4
    assert stored_when_committed == [2, 4, 4]  # after each stored batch, and at the end
    assert sorted(c["source_id"] for c in catalog.candidates()) == [301, 302, 303, 304]
    assert len({c["object_id"] for c in catalog.candidates()}) == 1


def test_a_quiet_stream_ingests_what_it_holds_without_waiting(
    catalog: Catalog, tmp_path: Path
) -> None:
    consumer = FakeConsumer.of([_message(tmp_path, _packet(401, 0, object_id="Z4", ra=70.0))])
    consumer.script.append(None)
    stage = IngestStage(catalog, ObjectStore(str(tmp_path / "store")), batch=1000)
    source = KafkaAlertSource(["z"], bootstrap_servers="f:1", consumer=consumer, max_messages=1)
    items = source.items()
    seen: list[int] = []
    report = stage.ingest_items(items, after_batch=lambda: seen.append(len(catalog.candidates())))
    assert report.stored == 1 and seen == [1, 1]


def test_a_fatal_stream_error_stops_with_what_was_stored_kept(
    catalog: Catalog, tmp_path: Path
) -> None:
    consumer = FakeConsumer.of([_message(tmp_path, _packet(501, 0, object_id="Z5", ra=80.0))])
    consumer.script += [None, FakeMessage(None, problem=FakeError("TOPIC_AUTHORIZATION_FAILED"))]
    stage = IngestStage(catalog, ObjectStore(str(tmp_path / "store")))
    source = KafkaAlertSource(["z"], bootstrap_servers="f:1", consumer=consumer)
    report = stage.ingest_items(source.items(), after_batch=source.commit)
    assert report.error is not None and "TOPIC_AUTHORIZATION_FAILED" in report.error
    assert report.stored == 1 and consumer.commits == [[("alerts", 0, 1)]]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ([], "give packet files or folders, or --topic"),
        (["--topic", "ztf"], "no bootstrap server"),
    ],
)
def test_cli_refuses_to_read_nothing(tmp_path: Path, arguments: list[str], expected: str) -> None:
    result = CliRunner().invoke(
        app, ["ingest-alerts", *arguments, "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 2 and expected in result.output


def test_cli_reads_a_topic_until_idle(tmp_path: Path) -> None:
    pytest.importorskip("confluent_kafka")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(
        app,
        [
            "ingest-alerts",
            "--topic",
            "ztf",
            "--kafka-bootstrap",
            f"127.0.0.1:{port}",
            "--idle-timeout",
            "1",
            "--data-dir",
            str(tmp_path / "d"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "0 packets from 0 file(s)" in result.output


def test_alerts_carry_a_checked_rewrite_beside_the_summary(
    catalog: Catalog, tmp_path: Path
) -> None:
    write_ztf_packets(
        tmp_path / "r.avro",
        [_packet(601, 0, object_id="ZR", ra=90.0), _packet(602, 0, object_id="ZS", ra=91.0)],
    )
    stage = _stage(catalog, tmp_path)
    report = stage.ingest([tmp_path / "r.avro"])
    seen: list[str] = []

    def rewriter(summary: str, fields: Mapping[str, Any]) -> str:
        seen.append(summary)
        if fields["dia_source_id"] == candidate_ids[601]:
            return "In short: " + summary
        return summary.replace("real/bogus", "real/bogus 0.5, i.e.")  # a number made up

    candidate_ids = {c["source_id"]: c["id"] for c in catalog.candidates()}
    published = AlertsStage(
        catalog, stage.store, PublicationRule(min_rb=-1.0), rewriter=rewriter
    ).publish(report.run_ids, tmp_path / "out")
    assert published.error is None and len(published.written) == 2
    assert (published.rewrites.calls, published.rewrites.kept) == (2, 1)
    sidecars = {}
    for path in published.written:
        sidecar = json.loads(path.with_suffix(".astrid.json").read_text())
        sidecars[sidecar["diaSourceId"]] = sidecar
    kept = sidecars[candidate_ids[601]]
    assert kept["summary_rewritten"] == "In short: " + kept["summary"]
    assert "summary_rewritten" not in sidecars[candidate_ids[602]]
    assert sorted(seen) == sorted(s["summary"] for s in sidecars.values())
