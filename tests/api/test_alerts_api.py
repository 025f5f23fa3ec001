"""The alerts API: filters checked when saved (422 with the position), tried, deleted;
subscriptions that never show their secret; alerts and their packets."""

from __future__ import annotations

from typing import Any

import pytest

from astrid.catalog import set_objects_stage
from astrid.catalog.alerts import SentAlert, alerts_of_runs, create_alerts, mark_alerts_sent
from service_env import Env


def _publish(env: Env) -> list[int]:
    """Alerts for the seeded candidates, built with made-up fields (rb from 0.1 to 0.9)."""
    catalog, store = env.service.catalog, env.service.store
    runs = list(env.seeded.run_ids)
    for run_id in runs:
        set_objects_stage(catalog, run_id, "done")
    create_alerts(
        catalog, [c["id"] for c in catalog.candidates() if c.get("object_id") is not None]
    )
    alerts = alerts_of_runs(catalog, runs)
    sent = []
    for k, alert in enumerate(alerts):
        fields: dict[str, Any] = {
            "alert_id": alert.id,
            "rb": 0.1 + 0.8 * k / max(1, len(alerts) - 1),
        }
        fields |= {"band": "r", "mag": 19.0 + k * 0.1, "n_detections": 1 + k % 3}
        avro = store.put_bytes(b"Obj\x01" + bytes([k]), suffix=".avro")
        sidecar = store.put_bytes(b"{}", suffix=".json")
        sent.append(SentAlert(alert.id, avro, sidecar, fields))
    mark_alerts_sent(catalog, sent, schema_version="11.1")
    return [a.id for a in alerts]


def test_a_bad_filter_is_a_422_with_the_position(fresh: Env) -> None:
    response = fresh.client.post(
        "/api/v1/alert-filters",
        json={"name": "typo", "expression": "rb > 0.5 and rbb < 3"},
        headers=fresh.headers("curator"),
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "expression"] and error["type"] == "filter_syntax"
    assert error["ctx"]["position"] == 13 and "rbb" in error["msg"]
    syntax = fresh.client.post(
        "/api/v1/alert-filters",
        json={"name": "syntax", "expression": "rb > "},
        headers=fresh.headers("curator"),
    )
    assert syntax.status_code == 422
    assert syntax.json()["detail"][0]["ctx"]["position"] == 5


def test_filters_are_saved_listed_tried_and_deleted(fresh: Env) -> None:
    ids = _publish(fresh)
    assert ids
    curator = fresh.headers("curator")
    body = {"name": "bright", "expression": "rb > 0.5 and mag < 30", "description": "test"}
    created = fresh.client.post("/api/v1/alert-filters", json=body, headers=curator)
    assert created.status_code == 201 and created.json()["owner"] == "curator-user"
    again = fresh.client.post("/api/v1/alert-filters", json=body, headers=curator)
    assert again.status_code == 409
    listed = fresh.client.get("/api/v1/alert-filters", headers=fresh.headers("viewer"))
    assert [f["name"] for f in listed.json()] == ["bright"]
    tried = fresh.client.post(
        "/api/v1/alert-filters/try",
        json={"expression": "rb > 0.5", "days": 1},
        headers=fresh.headers("viewer"),
    ).json()
    assert tried["total"] == len(ids)
    assert tried["passed"] == sum(
        0.1 + 0.8 * k / max(1, len(ids) - 1) > 0.5 for k in range(len(ids))
    )
    assert all(e["rb"] > 0.5 for e in tried["examples"])
    viewer_post = fresh.client.post(
        "/api/v1/alert-filters", json={**body, "name": "v"}, headers=fresh.headers("viewer")
    )
    assert viewer_post.status_code == 403
    gone = fresh.client.delete("/api/v1/alert-filters/bright", headers=curator)
    assert gone.status_code == 204
    assert fresh.client.delete("/api/v1/alert-filters/bright", headers=curator).status_code == 404


def test_subscriptions_hide_their_secret_and_check_the_destination(fresh: Env) -> None:
    curator = fresh.headers("curator")
    fresh.client.post(
        "/api/v1/alert-filters", json={"name": "all", "expression": "rb >= 0"}, headers=curator
    )
    hook = {
        "name": "hook",
        "filter": "all",
        "kind": "webhook",
        "target": "https://example.org/astrid",
        "secret": "very-secret",
    }
    created = fresh.client.post("/api/v1/subscriptions", json=hook, headers=curator)
    assert created.status_code == 201, created.text
    assert created.json()["has_secret"] is True and "very-secret" not in created.text
    listed = fresh.client.get("/api/v1/subscriptions", headers=fresh.headers("viewer"))
    assert "very-secret" not in listed.text and listed.json()[0]["filter_name"] == "all"
    bad_kind = fresh.client.post(
        "/api/v1/subscriptions", json={**hook, "name": "x", "kind": "pigeon"}, headers=curator
    )
    assert bad_kind.status_code == 422 and "pigeon" in bad_kind.text
    bad_url = fresh.client.post(
        "/api/v1/subscriptions",
        json={**hook, "name": "y", "target": "ftp://example.org/x"},
        headers=curator,
    )
    assert bad_url.status_code == 422
    no_filter = fresh.client.post(
        "/api/v1/subscriptions", json={**hook, "name": "z", "filter": "nope"}, headers=curator
    )
    assert no_filter.status_code == 409
    in_use = fresh.client.delete("/api/v1/alert-filters/all", headers=curator)
    assert in_use.status_code == 409 and "hook" in in_use.text
    deliveries = fresh.client.get(
        "/api/v1/subscriptions/hook/deliveries?status=dead", headers=fresh.headers("viewer")
    )
    assert deliveries.status_code == 200 and deliveries.json() == []
    assert fresh.client.delete("/api/v1/subscriptions/hook", headers=curator).status_code == 204


@pytest.mark.parametrize("days", [0, -1, 1000])
def test_alert_listing_refuses_bad_windows(fresh: Env, days: float) -> None:
    response = fresh.client.get(f"/api/v1/alerts?days={days}", headers=fresh.headers("viewer"))
    assert response.status_code == 422


def test_alerts_and_their_packets(fresh: Env) -> None:
    ids = _publish(fresh)
    listed = fresh.client.get("/api/v1/alerts?days=1", headers=fresh.headers("viewer")).json()
    assert [a["id"] for a in listed] == sorted(ids, reverse=True)
    assert listed[0]["fields"]["alert_id"] == listed[0]["id"]
    packet = fresh.client.get(f"/api/v1/alerts/{ids[0]}/packet", headers=fresh.headers("viewer"))
    assert packet.status_code == 200 and packet.content.startswith(b"Obj\x01")
    assert packet.headers["content-type"] == "application/avro"
    missing = fresh.client.get("/api/v1/alerts/999999/packet", headers=fresh.headers("viewer"))
    assert missing.status_code == 404
