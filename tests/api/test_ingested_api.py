"""Candidates ingested from survey packets are served like the pipeline's own, with
their provenance, by the API and the candidate page."""

from __future__ import annotations

from pathlib import Path

from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet
from astrid.pipeline.ingest_stage import IngestStage
from service_env import Env, login


def test_ingested_candidates_in_the_api_and_page(fresh: Env, tmp_path: Path) -> None:
    packet = ztf_packet(123456789, ra=45.0, dec=-10.0)
    write_ztf_packets(tmp_path / "p.avro", [packet])
    report = IngestStage(fresh.service.catalog, fresh.service.store).ingest([tmp_path])
    assert report.stored == 1
    (cand,) = [c for c in fresh.service.catalog.candidates() if c["survey"] == "ztf"]
    body = fresh.client.get(
        f"/api/v1/candidates/{cand['id']}", headers=fresh.headers("viewer")
    ).json()
    assert body["survey"] == "ztf" and body["source_id"] == 123456789
    assert body["packet_id"] == "123456789" and body["survey_score"] is not None
    assert body["object_name"] and body["observation_name"].startswith("ztf ")
    listed = fresh.client.get(
        "/api/v1/candidates?limit=1000", headers=fresh.headers("viewer")
    ).json()
    assert cand["id"] in [c["id"] for c in listed["items"]]
    login(fresh.client, fresh.keys["viewer"])
    page = fresh.client.get(f"/candidates/{cand['id']}").text
    assert "From a ZTF alert packet: detection 123456789" in page
