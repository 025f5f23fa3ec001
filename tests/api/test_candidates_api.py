"""Candidate routes: filters, sorting, cursor pagination, detail, cutouts, cone search."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image
from sqlalchemy import event, text

from astrid.catalog.candidates import cone_search
from astrid.catalog.sky_index import angular_separation_deg
from service_catalog import FIELD_DEC, FIELD_RA, N_PER_RUN, N_UNSCORED
from service_env import Env

API = "/api/v1"


def _all(env: Env, **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = env.client.get(f"{API}/candidates", params=query, headers=env.headers("viewer"))
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def test_list_needs_credentials(env: Env) -> None:
    r = env.client.get(f"{API}/candidates")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_pages_cover_every_candidate_once(env: Env) -> None:
    items = _all(env, limit=5)
    ids = [c["id"] for c in items]
    assert ids == sorted(env.seeded.candidate_ids)
    assert len(ids) == 2 * N_PER_RUN


@pytest.mark.parametrize("sort", ["rb", "ood", "scorr", "abs_scorr", "snr", "mag", "mjd"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorted_pages_in_order_with_nulls_last(env: Env, sort: str, order: str) -> None:
    items = _all(env, sort=sort, order=order, limit=4)
    assert len(items) == 2 * N_PER_RUN
    assert len({c["id"] for c in items}) == len(items)

    def value(c: dict[str, Any]) -> float | None:
        if sort in ("rb", "ood"):
            v: float | None = c["scores"][sort]
            return v
        if sort == "abs_scorr":
            return abs(c["scorr"])
        v = c[sort]
        return v

    values = [value(c) for c in items]
    known = [v for v in values if v is not None]
    assert values[: len(known)] == known, "NULLs must come last"
    assert known == sorted(known, reverse=order == "desc")
    if sort in ("rb", "ood"):
        assert values.count(None) == N_UNSCORED


def test_filters(env: Env) -> None:
    run_a, run_b = env.seeded.run_ids
    in_run = _all(env, run_id=run_b)
    assert len(in_run) == N_PER_RUN and {c["run_id"] for c in in_run} == {run_b}
    science = env.seeded.science_ids[0]
    assert {c["observation_id"] for c in _all(env, observation_id=science)} == {science}

    fainter = _all(env, sign=-1)
    assert fainter and all(c["sign"] == -1 and c["scorr"] < 0 for c in fainter)

    scored = _all(env, rb_min=0.3, rb_max=0.7)
    assert scored and all(0.3 <= c["scores"]["rb"] <= 0.7 for c in scored)
    novel = _all(env, ood_min=0.5)
    assert novel and all(c["scores"]["ood"] >= 0.5 for c in novel)

    night2 = _all(env, mjd_min=60301.0, mjd_max=60302.0)
    assert {c["run_id"] for c in night2} == {run_b}
    assert _all(env, mjd_max=60000.5) == []
    assert {c["run_id"] for c in _all(env, mjd_max=60300.5)} == {run_a}


def test_filter_by_a_stored_feature(env: Env) -> None:
    chi2 = {int(c["id"]): c["psf_chi2"] for c in env.service.catalog.candidates()}
    wide = {c["id"] for c in _all(env, feature="psf_chi2>1.25")}
    assert wide == {i for i, v in chi2.items() if v > 1.25}
    assert 0 < len(wide) < len(chi2)
    both = {c["id"] for c in _all(env, feature=["psf_chi2>1.25", "psf_chi2<=1.45"])}
    assert both == {i for i, v in chi2.items() if 1.25 < v <= 1.45} != set()
    assert _all(env, feature="no_such_feature>0") == []
    h = env.headers("viewer")
    r = env.client.get(f"{API}/candidates", params={"feature": "psf_chi2>>1"}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "feature"]
    assert "feature filter 'psf_chi2>>1'" in r.json()["detail"][0]["msg"]


def test_contradictory_or_bad_filters_are_422(env: Env) -> None:
    h = env.headers("viewer")
    for params in (
        {"rb_min": 0.8, "rb_max": 0.2},
        {"sign": 0},
        {"label": "nonsense"},
        {"sort": "ra"},
        {"limit": 0},
        {"limit": 1001},
        {"rb_min": "nan"},
        {"cursor": "not-a-cursor"},
        {"run_id": 0},
    ):
        r = env.client.get(f"{API}/candidates", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)


def test_cursor_of_another_sort_is_refused(env: Env) -> None:
    h = env.headers("viewer")
    first = env.client.get(f"{API}/candidates", params={"sort": "rb", "limit": 3}, headers=h)
    cursor = first.json()["next_cursor"]
    r = env.client.get(
        f"{API}/candidates", params={"sort": "snr", "limit": 3, "cursor": cursor}, headers=h
    )
    assert r.status_code == 422
    assert "another sort order" in r.text


def test_detail_has_scores_features_and_cutout_links(env: Env) -> None:
    cid = env.seeded.candidate_ids[0]
    r = env.client.get(f"{API}/candidates/{cid}", headers=env.headers("viewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == cid
    assert body["scores"]["rb"] == pytest.approx(0.0)
    assert set(body["scores"]) == {
        "rb",
        "ood",
        "ood_msp",
        "ood_energy",
        "ood_mahalanobis",
        "model_version_id",
    }
    assert body["features"]["psf_chi2"] == pytest.approx(1.0)
    assert set(body["cutouts"]) == {"science", "reference", "difference"}
    assert body["cutouts"]["science"]["png"].endswith("/cutouts/science.png")
    assert body["consensus"]["status"] == "unlabelled"
    assert "path" not in body  # stored server paths never leak
    assert isinstance(body["object_id"], int)
    assert body["object_name"].startswith("ASTRID")


def test_unknown_candidate_is_404_and_bad_id_422(env: Env) -> None:
    h = env.headers("viewer")
    assert env.client.get(f"{API}/candidates/999999", headers=h).status_code == 404
    assert env.client.get(f"{API}/candidates/0", headers=h).status_code == 422
    assert env.client.get(f"{API}/candidates/abc", headers=h).status_code == 422
    assert env.client.get(f"{API}/candidates/{2**63}", headers=h).status_code == 422


@pytest.mark.parametrize("kind", ["science", "reference", "difference"])
def test_cutout_png_and_fits(env: Env, kind: str) -> None:
    cid = env.seeded.candidate_ids[1]
    h = env.headers("viewer")
    png = env.client.get(f"{API}/candidates/{cid}/cutouts/{kind}.png", headers=h)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size == (63, 63)
    pixels = np.asarray(image)
    assert pixels.max() > pixels.min(), "a stretch shows structure"
    big = env.client.get(f"{API}/candidates/{cid}/cutouts/{kind}.png?scale=3", headers=h)
    assert Image.open(io.BytesIO(big.content)).size == (189, 189)
    cached = env.client.get(
        f"{API}/candidates/{cid}/cutouts/{kind}.png",
        headers={**h, "If-None-Match": png.headers["etag"]},
    )
    assert cached.status_code == 304

    raw = env.client.get(f"{API}/candidates/{cid}/cutouts/{kind}.fits", headers=h)
    assert raw.status_code == 200
    with fits.open(io.BytesIO(raw.content)) as hdul:
        assert hdul[0].data.shape == (63, 63)
    bad = env.client.get(f"{API}/candidates/{cid}/cutouts/other.png", headers=h)
    assert bad.status_code == 422


def test_neighbours_are_the_same_position_in_the_other_run(env: Env) -> None:
    h = env.headers("viewer")
    ids = env.seeded.candidate_ids
    first = env.client.get(f"{API}/candidates/{ids[0]}", headers=h).json()
    r = env.client.get(f"{API}/candidates/{ids[0]}/neighbours", headers=h)
    assert r.status_code == 200
    near = r.json()
    assert [m["candidate"]["id"] for m in near] == [ids[N_PER_RUN]]
    assert near[0]["candidate"]["run_id"] != first["run_id"]
    assert near[0]["separation_arcsec"] < 2.0
    # within the association radius (1.5 arcsec): both detections are one object
    assert near[0]["candidate"]["object_name"] == first["object_name"] is not None


def test_cone_search_matches_brute_force(env: Env) -> None:
    h = env.headers("viewer")
    everything = _all(env)
    ra = np.array([c["ra"] for c in everything])
    dec = np.array([c["dec"] for c in everything])
    for radius_arcsec in (10.0, 90.0, 200.0, 1000.0):
        r = env.client.get(
            f"{API}/candidates/cone",
            params={"ra": FIELD_RA, "dec": FIELD_DEC, "radius": radius_arcsec},
            headers=h,
        )
        assert r.status_code == 200
        found = r.json()
        sep = angular_separation_deg(ra, dec, FIELD_RA, FIELD_DEC) * 3600
        expected = {c["id"] for c, s in zip(everything, sep, strict=True) if s <= radius_arcsec}
        assert {m["candidate"]["id"] for m in found} == expected
        distances = [m["separation_arcsec"] for m in found]
        assert distances == sorted(distances)
        assert all(d <= radius_arcsec for d in distances)
    assert len(expected) == len(everything)  # the largest cone holds the whole field


@pytest.mark.parametrize(
    "params",
    [
        {"ra": 150, "dec": 91, "radius": 10},
        {"ra": 360, "dec": 0, "radius": 10},
        {"ra": 150, "dec": 2, "radius": 0},
        {"ra": 150, "dec": 2, "radius": -1},
        {"ra": "inf", "dec": 2, "radius": 1},
        {"ra": 150, "dec": 2},
    ],
)
def test_cone_search_bad_input_is_422(env: Env, params: dict[str, Any]) -> None:
    r = env.client.get(f"{API}/candidates/cone", params=params, headers=env.headers("viewer"))
    assert r.status_code == 422


def test_cone_search_with_a_vanishing_radius_is_empty_not_500(env: Env) -> None:
    r = env.client.get(
        f"{API}/candidates/cone",
        params={"ra": 150, "dec": 2, "radius": 1e-307},
        headers=env.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    assert r.json() == []


def test_cone_search_uses_the_healpix_index(env: Env) -> None:
    """The SQL of a cone search, as issued, is planned as an index search, not a scan."""
    catalog = env.service.catalog
    issued: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM candidates" in statement:
            issued.append((statement, params))

    event.listen(catalog.engine, "before_cursor_execute", capture)
    try:
        cone_search(catalog, ra=FIELD_RA, dec=FIELD_DEC, radius_deg=0.01)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", capture)
    assert len(issued) == 1
    statement, params = issued[0]
    with catalog.engine.connect() as conn:
        if catalog.engine.dialect.name == "postgresql":
            # on a table this small a scan is cheapest: price it out to see the index used
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
            details = json.dumps(plan)
            nodes, stack = [], [plan[0]["Plan"]]
            while stack:
                nodes.append(stack.pop())
                stack.extend(nodes[-1].get("Plans", []))
            scans = {n["Node Type"] for n in nodes if n.get("Relation Name") == "candidates"}
            assert scans and "Seq Scan" not in scans, details
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            details = " | ".join(str(row[-1]) for row in rows)
            assert "SCAN candidates" not in details, details
    assert "ix_candidates_healpix" in details, details
    with catalog.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM candidates")).scalar_one()
    assert n == 2 * N_PER_RUN
