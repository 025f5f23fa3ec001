"""The objects API: pages and filters, one object, light curves (JSON, CSV), cones, classes."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import httpx
import pytest

from astrid.api.routes.objects import _magnitudes
from astrid.catalog.lightcurves import LightCurvePointRecord, record_points
from astrid.catalog.object_records import list_objects, update_summaries
from service_catalog import FIELD_DEC, FIELD_RA
from service_env import Env

API = "/api/v1"


@pytest.fixture(scope="module")
def objs(env: Env) -> Env:
    """``env`` with points on the newest object and summaries on the two newest."""
    catalog = env.service.catalog
    newest = list_objects(catalog, limit=1000)
    assert len(newest) >= 3, "the seed makes objects"
    a, b = newest[0].id, newest[1].id
    run0, run1 = env.seeded.run_ids
    sci0, sci1 = env.seeded.science_ids
    common = {"x": 10.0, "y": 20.0, "band": "r"}
    record_points(
        catalog,
        [
            # detection: mag 25 - 2.5 log10(1000) = 17.5, err 1.0857 * 50 / 1000
            common
            | {
                "object_id": a,
                "run_id": run0,
                "observation_id": sci0,
                "candidate_id": env.seeded.candidate_ids[0],
                "mjd": 60300.2,
                "flux": 1000.0,
                "flux_err": 50.0,
                "zero_point": 25.0,
                "detected": True,
            },
            # non-detection: limit 25 - 2.5 log10(5 * 20) = 20
            common
            | {
                "object_id": a,
                "run_id": run1,
                "observation_id": sci1,
                "candidate_id": None,
                "mjd": 60301.3,
                "flux": -3.0,
                "flux_err": 20.0,
                "zero_point": 25.0,
                "detected": False,
            },
            # no zero point: no magnitudes
            common
            | {
                "object_id": b,
                "run_id": run0,
                "observation_id": sci0,
                "candidate_id": None,
                "mjd": 60300.2,
                "flux": 500.0,
                "flux_err": 50.0,
                "zero_point": None,
                "detected": True,
            },
        ],
    )
    update_summaries(
        catalog,
        {
            a: {"context_class": "sn_candidate", "peak_mag": 17.5, "features": {"n_bands": 1}},
            b: {"context_class": "variable", "peak_mag": 19.0, "moving": True},
        },
    )
    return env


def _get(env: Env, path: str, role: str = "viewer", **params: Any) -> httpx.Response:
    return env.client.get(f"{API}{path}", params=params, headers=env.headers(role))


def test_list_pages_newest_first(objs: Env) -> None:
    everything = objs.client.get(
        f"{API}/objects", params={"limit": 1000}, headers=objs.headers("viewer")
    ).json()
    ids = [o["id"] for o in everything["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 3
    assert everything["next_before"] is None
    seen: list[int] = []
    before = None
    while True:
        params: dict[str, int] = {"limit": 2} | ({"before": before} if before else {})
        page = objs.client.get(f"{API}/objects", params=params, headers=objs.headers("viewer"))
        assert page.status_code == 200
        body = page.json()
        seen += [o["id"] for o in body["items"]]
        before = body["next_before"]
        if before is None:
            break
    assert seen == ids
    exact = _get(objs, "/objects", limit=len(ids)).json()
    assert exact["next_before"] is None, "no empty page after a full last one"
    assert _get(objs, "/objects", before=min(ids)).json() == {"items": [], "next_before": None}


def test_list_filters(objs: Env) -> None:
    h = objs.headers("viewer")

    def ids(**params: object) -> list[int]:
        r = objs.client.get(f"{API}/objects", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [o["id"] for o in r.json()["items"]]

    a, b = ids(limit=2)
    assert ids(context_class="sn_candidate") == [a]
    assert ids(moving="true") == [b]
    assert a in ids(moving="false") and b not in ids(moving="false")
    assert ids(peak_mag_min=18.0) == [b]
    assert ids(peak_mag_max=18.0) == [a]
    assert ids(peak_mag_min=17.0, peak_mag_max=20.0) == [a, b]
    assert ids(min_detections=10**6) == []
    total = len(ids(limit=1000))
    assert len(ids(last_mjd_min=0, last_mjd_max=10**6, limit=1000)) == total
    assert ids(last_mjd_min=10**6) == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"before": 0},
        {"min_detections": -1},
        {"peak_mag_min": "nan"},
        {"last_mjd_max": "inf"},
        {"moving": "perhaps"},
        {"peak_mag_min": 20, "peak_mag_max": 18},
    ],
)
def test_list_bad_params_422(objs: Env, params: dict[str, object]) -> None:
    r = objs.client.get(f"{API}/objects", params=params, headers=objs.headers("viewer"))
    assert r.status_code == 422, params
    assert isinstance(r.json()["detail"], list)


def test_one_object_by_id_or_name(objs: Env) -> None:
    h = objs.headers("viewer")
    first = objs.client.get(f"{API}/objects", params={"limit": 1}, headers=h).json()["items"][0]
    by_id = objs.client.get(f"{API}/objects/{first['id']}", headers=h)
    assert by_id.status_code == 200 and by_id.json() == first
    by_name = objs.client.get(f"{API}/objects/{first['name']}", headers=h)
    assert by_name.json() == first
    assert first["features"] == {"n_bands": 1} and first["context_class"] == "sn_candidate"
    assert objs.client.get(f"{API}/objects/999999", headers=h).status_code == 404
    assert objs.client.get(f"{API}/objects/ASTRID1900zz", headers=h).status_code == 404
    assert objs.client.get(f"{API}/objects/{2**63}", headers=h).status_code == 422
    assert objs.client.get(f"{API}/objects/bad-name!", headers=h).status_code in (404, 422)


def test_lightcurve_json(objs: Env) -> None:
    h = objs.headers("viewer")
    a, b = (o["id"] for o in _get(objs, "/objects", limit=2).json()["items"])
    body = objs.client.get(f"{API}/objects/{a}/lightcurve", headers=h).json()
    assert body["object_id"] == a
    det, non = body["points"]
    assert det["mjd"] < non["mjd"]
    assert det["mag"] == pytest.approx(17.5)
    assert det["mag_err"] == pytest.approx(2.5 / math.log(10) * 50 / 1000)
    assert det["upper_limit_mag"] is None
    assert det["candidate_id"] == objs.seeded.candidate_ids[0]
    assert non["mag"] is None and non["mag_err"] is None
    assert non["upper_limit_mag"] == pytest.approx(20.0)
    assert non["detected"] is False
    nozp = objs.client.get(f"{API}/objects/{b}/lightcurve", headers=h).json()["points"]
    assert [(p["mag"], p["mag_err"], p["upper_limit_mag"]) for p in nozp] == [(None, None, None)]
    # an object without points has an empty light curve
    c = _get(objs, "/objects", limit=3).json()["items"][2]["id"]
    assert objs.client.get(f"{API}/objects/{c}/lightcurve", headers=h).json()["points"] == []


def test_lightcurve_csv(objs: Env) -> None:
    h = objs.headers("viewer")
    first = _get(objs, "/objects", limit=1).json()["items"][0]
    r = objs.client.get(
        f"{API}/objects/{first['name']}/lightcurve", params={"format": "csv"}, headers=h
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert first["name"] in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "object_id",
        "mjd",
        "band",
        "flux",
        "flux_err",
        "mag",
        "mag_err",
        "upper_limit_mag",
        "detected",
        "candidate_id",
    ]
    assert len(rows) == 2
    assert float(rows[0]["mag"]) == pytest.approx(17.5)
    assert rows[0]["upper_limit_mag"] == "" and rows[1]["mag"] == ""
    assert float(rows[1]["upper_limit_mag"]) == pytest.approx(20.0)
    assert rows[1]["candidate_id"] == "" and rows[0]["object_id"] == str(first["id"])


def test_lightcurve_404_422(objs: Env) -> None:
    h = objs.headers("viewer")
    assert objs.client.get(f"{API}/objects/999999/lightcurve", headers=h).status_code == 404
    first = _get(objs, "/objects", limit=1).json()["items"][0]["id"]
    r = objs.client.get(f"{API}/objects/{first}/lightcurve", params={"format": "xml"}, headers=h)
    assert r.status_code == 422


def test_cone_search(objs: Env) -> None:
    h = objs.headers("viewer")
    r = objs.client.get(
        f"{API}/objects/cone",
        params={"ra": FIELD_RA, "dec": FIELD_DEC, "radius": 600},
        headers=h,
    )
    assert r.status_code == 200, r.text
    found = r.json()
    total = len(_get(objs, "/objects", limit=1000).json()["items"])
    assert len(found) == total, "the whole seeded field lies within 0.1 deg"
    seps = [m["separation_arcsec"] for m in found]
    assert seps == sorted(seps) and seps[-1] <= 600
    nearest = found[0]["object"]
    tight = objs.client.get(
        f"{API}/objects/cone",
        params={"ra": nearest["ra"], "dec": nearest["dec"], "radius": 0.5, "limit": 1},
        headers=h,
    ).json()
    assert [m["object"]["id"] for m in tight] == [nearest["id"]]
    empty = objs.client.get(
        f"{API}/objects/cone", params={"ra": 10.0, "dec": -40.0, "radius": 5}, headers=h
    )
    assert empty.json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"ra": 360, "dec": 0, "radius": 1},
        {"ra": -1, "dec": 0, "radius": 1},
        {"ra": 10, "dec": 91, "radius": 1},
        {"ra": 10, "dec": 0, "radius": 0},
        {"ra": 10, "dec": 0, "radius": 36001},
        {"ra": "nan", "dec": 0, "radius": 1},
        {"dec": 0, "radius": 1},
    ],
)
def test_cone_bad_params_422(objs: Env, params: dict[str, object]) -> None:
    r = objs.client.get(f"{API}/objects/cone", params=params, headers=objs.headers("viewer"))
    assert r.status_code == 422, params


def test_labels(objs: Env) -> None:
    oid = _get(objs, "/objects", limit=3).json()["items"][2]["id"]
    url = f"{API}/objects/{oid}/labels"
    assert objs.client.get(url, headers=objs.headers("viewer")).json() == {
        "object_id": oid,
        "labels": [],
    }
    posted = objs.client.post(
        url, json={"label": "sn_ia", "comment": "Si II"}, headers=objs.headers("curator")
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["label"] == "sn_ia" and posted.json()["curator"] == "curator-user"
    objs.client.post(url, json={"label": "agn"}, headers=objs.headers("admin"))
    body = objs.client.get(url, headers=objs.headers("viewer")).json()
    assert [(x["curator"], x["label"]) for x in body["labels"]] == [
        ("curator-user", "sn_ia"),
        ("admin-user", "agn"),
    ]
    assert body["labels"][0]["comment"] == "Si II"
    audit = _get(objs, "/audit", role="admin", action="object_label.create").json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert {e["target"] for e in entries} == {f"object:{oid}"}
    assert len(entries) == 2


def test_labels_errors(objs: Env) -> None:
    oid = _get(objs, "/objects", limit=1).json()["items"][0]["id"]
    cur = objs.headers("curator")
    url = f"{API}/objects/{oid}/labels"
    assert objs.client.post(url, json={"label": "unicorn"}, headers=cur).status_code == 422
    assert objs.client.post(url, json={}, headers=cur).status_code == 422
    extra = {"label": "agn", "curator": "someone-else"}
    assert objs.client.post(url, json=extra, headers=cur).status_code == 422
    missing = f"{API}/objects/999999/labels"
    assert objs.client.post(missing, json={"label": "agn"}, headers=cur).status_code == 404
    assert objs.client.get(missing, headers=cur).status_code == 404
    viewer = objs.client.post(url, json={"label": "agn"}, headers=objs.headers("viewer"))
    assert viewer.status_code == 403
    assert objs.client.get(url, headers=cur).json()["labels"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/objects",
        "/objects/1",
        "/objects/1/lightcurve",
        "/objects/1/labels",
        "/objects/cone?ra=1&dec=1&radius=1",
    ],
)
def test_auth_required(objs: Env, path: str) -> None:
    r = objs.client.get(f"{API}{path}")
    assert r.status_code == 401


def test_post_label_needs_auth(objs: Env) -> None:
    r = objs.client.post(f"{API}/objects/1/labels", json={"label": "agn"})
    assert r.status_code == 401


def test_openapi_documents_objects(objs: Env) -> None:
    paths = objs.client.get("/openapi.json").json()["paths"]
    for path in ("/objects", "/objects/cone", "/objects/{key}", "/objects/{key}/lightcurve"):
        assert f"{API}{path}" in paths
    lc = paths[f"{API}/objects/{{key}}/lightcurve"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in lc and "application/json" in lc


def _p(**kw: Any) -> LightCurvePointRecord:
    base: dict[str, Any] = {
        "id": 1,
        "object_id": 1,
        "run_id": 1,
        "observation_id": 1,
        "candidate_id": None,
        "mjd": 60000.0,
        "band": "g",
        "x": 0.0,
        "y": 0.0,
        "flux": 100.0,
        "flux_err": 10.0,
        "zero_point": 30.0,
        "detected": True,
    }
    return LightCurvePointRecord(**(base | kw))


def test_magnitudes_edge_cases() -> None:
    mag, err, lim = _magnitudes(_p())
    assert mag == pytest.approx(25.0) and err == pytest.approx(0.10857, rel=1e-4)
    assert lim is None
    assert _magnitudes(_p(flux=0.0)) == (None, None, None), "no magnitude of a zero flux"
    assert _magnitudes(_p(flux=-5.0)) == (None, None, None)
    assert _magnitudes(_p(flux=None)) == (None, None, None)
    assert _magnitudes(_p(zero_point=None)) == (None, None, None)
    assert _magnitudes(_p(flux_err=None)) == (pytest.approx(25.0), None, None)
    # non-detections: a 5-sigma limit whatever the (possibly negative) flux
    _, _, lim = _magnitudes(_p(detected=False, flux=-40.0, flux_err=2.0))
    assert lim == pytest.approx(30.0 - 2.5 * math.log10(10.0))
    assert _magnitudes(_p(detected=False, flux_err=0.0)) == (None, None, None)
    assert _magnitudes(_p(detected=False, zero_point=None)) == (None, None, None)


def test_object_operations_need_credentials_in_openapi(objs: Env) -> None:
    paths = objs.client.get("/openapi.json").json()["paths"]
    mine = [item for p, item in paths.items() if p.startswith(f"{API}/objects")]
    ops = [op for item in mine for op in item.values()]
    assert len(ops) == 6
    assert all({"ApiKey", "Bearer"} <= {k for s in op["security"] for k in s} for op in ops)


@pytest.mark.parametrize("fmt", ["csv", "fits", "votable"])
def test_objects_export_reads_back(objs: Env, fmt: str) -> None:
    import io

    from astropy.table import Table

    response = _get(objs, f"/exports/objects.{fmt}", context_class="sn_candidate")
    assert response.status_code == 200, response.text
    if fmt == "csv":
        table = Table.read(response.content.decode(), format="ascii.csv")
    else:
        table = Table.read(io.BytesIO(response.content), format=fmt)
    assert len(table) == 1
    assert table["context_class"][0] == "sn_candidate"
    assert float(table["peak_mag"][0]) == pytest.approx(17.5)
    everything = _get(objs, "/exports/objects.csv")
    n_objects = len(list_objects(objs.service.catalog, limit=1000))
    assert len(Table.read(everything.content.decode(), format="ascii.csv")) == n_objects
    assert _get(objs, "/exports/objects.csv", peak_mag_min=20, peak_mag_max=10).status_code == 422
