"""Health, readiness, metrics, the OpenAPI schema, model versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from astrid.catalog.models import ModelVersion, utcnow
from astrid.pipeline import dask_frames
from service_env import Env, build_env

API = "/api/v1"


def test_health_and_ready(env: Env) -> None:
    health = env.client.get(f"{API}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = env.client.get(f"{API}/ready").json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "store": "ok"}}


@pytest.mark.local_store  # it replaces the store folder by a file
def test_ready_is_503_when_the_store_is_gone(tmp_path: Path) -> None:
    for env in build_env(tmp_path / "s"):
        store_root = Path(env.service.store.root)
        for p in sorted(store_root.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        store_root.rmdir()
        store_root.write_text("not a folder")  # the store cannot be written
        r = env.client.get(f"{API}/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["store"].startswith("error")
        assert r.json()["checks"]["database"] == "ok"


def test_metrics_count_requests_by_route_template(env: Env) -> None:
    h = env.headers("viewer")
    for cid in env.seeded.candidate_ids[:3]:
        env.client.get(f"{API}/candidates/{cid}", headers=h)
    env.client.get(f"{API}/candidates/99999", headers=h)
    text = env.client.get("/metrics").text
    route = "/api/v1/candidates/{candidate_id}"
    ok = f'astrid_http_requests_total{{method="GET",route="{route}",status="200"}}'
    assert any(line.startswith(ok) and float(line.split()[-1]) >= 3 for line in text.splitlines())
    assert f'route="{route}",status="404"' in text
    assert "astrid_http_request_duration_seconds_bucket" in text
    assert '/api/v1/candidates/1"' not in text, "paths are not labels"


def test_openapi_documents_every_route_and_security(env: Env) -> None:
    schema = env.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/ready",
        "/api/v1/observations",
        "/api/v1/observations/{observation_id}",
        "/api/v1/runs/{run_id}",
        "/api/v1/jobs/{job_id}",
        "/api/v1/candidates",
        "/api/v1/candidates/cone",
        "/api/v1/candidates/{candidate_id}/cutouts/{kind}.png",
        "/api/v1/candidates/{candidate_id}/labels",
        "/api/v1/review/next",
        "/api/v1/exports/candidates.{fmt}",
        "/api/v1/models",
        "/api/v1/keys",
        "/api/v1/audit",
    ):
        assert path in paths, path
    assert {"ApiKey", "Bearer"} <= set(schema["components"]["securitySchemes"])
    assert not any(p == "/" or p.startswith("/review/{") for p in paths), "pages are not API"


def test_models_list_and_active(fresh: Env) -> None:
    h = fresh.headers("viewer")
    assert fresh.client.get(f"{API}/models", headers=h).json() == []
    with fresh.service.catalog.session() as session, session.begin():
        for version, active in ((1, False), (2, True)):
            session.add(
                ModelVersion(
                    name="rb_cnn",
                    version=version,
                    file_key=f"models/rb_cnn.{version}.onnx",
                    data_hash="ab" * 32,
                    metrics_json=json.dumps({"auc": 0.9 + version / 100, "fnr_at_fpr1": 0.1}),
                    card_json=None,
                    active=active,
                    created_at=utcnow(),
                )
            )
    listed = fresh.client.get(f"{API}/models", headers=h).json()
    assert [(m["version"], m["active"]) for m in listed] == [(2, True), (1, False)]
    assert listed[0]["metrics"]["auc"] == 0.92
    assert "file_key" not in listed[0]
    one = fresh.client.get(f"{API}/models/{listed[1]['id']}", headers=h).json()
    assert one["version"] == 1
    assert fresh.client.get(f"{API}/models/999", headers=h).status_code == 404
    assert fresh.client.get(f"{API}/models", params={"name": "other"}, headers=h).json() == []


def test_admin_key_validation(env: Env) -> None:
    h = env.headers("admin")
    for body in (
        {"name": "", "role": "viewer"},
        {"name": "x", "role": "root"},
        {"name": "a\nb", "role": "viewer"},
        {"name": "x" * 101, "role": "viewer"},
    ):
        assert env.client.post(f"{API}/keys", json=body, headers=h).status_code == 422, body
    keys = env.client.get(f"{API}/keys", headers=h).json()
    assert {k["role"] for k in keys} == {"viewer", "curator", "admin"}
    assert all("key" not in k and "key_sha256" not in k for k in keys)


def _gauge(text: str, name: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[-1])


def test_every_replica_reports_the_queues_as_the_catalog_holds_them(tmp_path: Path) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from astrid.catalog.jobs import enqueue_job
    from astrid.catalog.models import Job

    first = build_env(tmp_path / "s")
    env = next(first)
    # a second replica on the same data dir (catalog and store)
    second = build_env(tmp_path / "s", seed_catalog=False)
    replica = next(second)
    try:
        for _ in range(3):
            enqueue_job(env.service.catalog, kind="process", payload={}, observation_id=None,
                        actor="test")  # fmt: skip
        with env.service.catalog.session() as session, session.begin():
            session.execute(update(Job).values(created_at=utcnow() - timedelta(minutes=5)))
        texts = [e.client.get("/metrics").text for e in (env, replica)]
        for text in texts:
            assert _gauge(text, "astrid_catalog_up") == 1.0
            assert _gauge(text, 'astrid_queue_jobs{status="queued"}') == 3.0
            assert _gauge(text, 'astrid_queue_jobs{status="running"}') == 0.0
            assert 290 <= _gauge(text, "astrid_queue_oldest_queued_job_age_seconds") < 400
            done = _gauge(text, 'astrid_runs{status="done"}')
            assert done == len(env.seeded.run_ids)
        assert texts[0].count("astrid_queue_jobs{") == len(("queued", "running", "done", "failed"))
    finally:
        second.close()
        first.close()


def test_the_grafana_dashboard_uses_only_metrics_the_service_exposes(env: Env) -> None:
    import re

    dashboard = json.loads(
        (Path(__file__).parents[2] / "docs" / "grafana" / "astrid-service.json").read_text()
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"astrid_[a-z_]+", e)}
    text = env.client.get("/metrics").text
    declared = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")}
    exposed = declared | {f"{n}_total" for n in declared} | {f"{n}_bucket" for n in declared}
    assert used and used <= exposed, used - exposed


def test_ready_checks_the_dask_scheduler_when_frames_run_on_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(dask_frames, "CONNECT_TIMEOUT_S", 1.0)
    unreachable = "tcp://127.0.0.1:9"  # the discard port: nothing listens
    for env in build_env(tmp_path / "gone", seed_catalog=False, scheduler_address=unreachable):
        r = env.client.get(f"{API}/ready")
        assert r.status_code == 503
        assert r.json()["checks"] == {
            "database": "ok",
            "store": "ok",
            "scheduler": "error: unreachable",
        }
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        address = str(cluster.scheduler_address)
        for env in build_env(tmp_path / "up", seed_catalog=False, scheduler_address=address):
            r = env.client.get(f"{API}/ready")
            assert r.status_code == 200, r.json()
            assert r.json()["checks"]["scheduler"] == "ok"
