"""The web page's routes without a browser: logins, roles, rendering, htmx partials."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from astrid.catalog.access import audit_log
from astrid.catalog.curation import labels_of
from service_env import Env, login

HTML = {"Accept": "text/html"}


@pytest.mark.parametrize("path", ["/", "/candidates", "/candidates/1", "/review", "/admin"])
def test_pages_redirect_tologin(env: Env, path: str) -> None:
    client = TestClient(env.client.app)
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    htmx = client.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")


def test_login_page_and_safe_next(env: Env) -> None:
    client = TestClient(env.client.app)
    assert "API key or token" in client.get("/login").text
    for target, expected in (("/candidates?sign=1", "/candidates?sign=1"), ("//evil.test", "/")):
        r = client.post(
            "/login",
            data={"credential": env.keys["viewer"], "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected
    bad = client.post("/login", data={"credential": "nope"}, follow_redirects=False)
    assert bad.status_code == 401 and 'role="alert"' in bad.text


def test_roles_see_what_they_may_use(env: Env) -> None:
    viewer = TestClient(env.client.app)
    login(viewer, env.keys["viewer"])
    dashboard = viewer.get("/").text
    assert 'href="/review"' not in dashboard and 'href="/admin"' not in dashboard
    assert viewer.get("/review", headers=HTML).status_code == 403
    assert viewer.get("/admin", headers=HTML).status_code == 403
    cid = env.seeded.candidate_ids[0]
    page = viewer.get(f"/candidates/{cid}").text
    assert "data-key=" not in page, "no label buttons for a viewer"
    assert '<a class="object-name" href="/objects/ASTRID' in page  # the object's name, linked

    curator = TestClient(env.client.app)
    login(curator, env.keys["curator"])
    assert 'href="/review"' in curator.get("/").text
    assert curator.get("/admin", headers=HTML).status_code == 403
    assert 'data-key="r"' in curator.get(f"/candidates/{cid}").text

    admin = TestClient(env.client.app)
    login(admin, env.keys["admin"])
    page = admin.get("/admin").text
    assert "curator-user" in page and "key.create" in page


def test_dashboard_shows_runs_and_plots(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    page = client.get("/").text
    assert "Recent runs" in page
    assert page.count("<svg") >= 2 or page.count("<img") >= 2, "score histograms"
    for run_id in env.seeded.run_ids:
        assert f"/candidates?run_id={run_id}" in page


def test_candidate_list_filters_and_partials(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    n = len(env.seeded.candidate_ids)
    full = client.get("/candidates").text
    assert f"{n} candidates" in full
    assert full.count("data-candidate-id=") == n
    part = client.get(
        "/candidates", params={"sign": "-1", "rb_min": ""}, headers={"HX-Request": "true"}
    ).text
    assert "<html" not in part, "htmx gets the results only"
    assert "−" in part and part.count("data-candidate-id=") < n
    bad = client.get("/candidates", params={"rb_min": "high"}, headers=HTML)
    assert bad.status_code == 422
    sorted_page = client.get("/candidates", params={"sort": "rb", "order": "asc"}).text
    ids = [int(i) for i in re.findall(r'<tr data-candidate-id="(\d+)"', sorted_page)]
    assert ids[0] == env.seeded.candidate_ids[0], "rb = 0 first"


def test_candidate_page_content_and_404(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    cid = env.seeded.candidate_ids[1]
    page = client.get(f"/candidates/{cid}").text
    for kind in ("science", "reference", "difference"):
        assert f"/api/v1/candidates/{cid}/cutouts/{kind}.png" in page
        assert f"/api/v1/candidates/{cid}/cutouts/{kind}.fits" in page
    assert "Mahalanobis" in page and "psf_chi2" in page
    neighbour = env.seeded.candidate_ids[1 + len(env.seeded.candidate_ids) // 2]
    assert f'href="/candidates/{neighbour}"' in page
    missing = client.get("/candidates/99999", headers=HTML)
    assert missing.status_code == 404 and "no candidate with id 99999" in missing.text


def test_label_from_page_needs_csrf(fresh: Env) -> None:
    client = fresh.client
    token = login(client, fresh.keys["curator"])
    cid = fresh.seeded.candidate_ids[0]
    refused = client.post(f"/candidates/{cid}/labels", data={"label": "real"})
    assert refused.status_code == 403
    ok = client.post(
        f"/candidates/{cid}/labels",
        data={"label": "real", "comment": " nice "},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert ok.status_code == 200 and "real" in ok.text
    assert [(lbl.label, lbl.comment) for lbl in labels_of(fresh.service.catalog, [cid])[cid]] == [
        ("real", "nice")
    ]
    bad = client.post(
        f"/candidates/{cid}/labels", data={"label": "sure"}, headers={"X-CSRF-Token": token}
    )
    assert bad.status_code == 422


def test_review_flow_without_a_browser(fresh: Env) -> None:
    client = fresh.client
    token = login(client, fresh.keys["curator"])
    h = {"X-CSRF-Token": token, "HX-Request": "true"}
    page = client.get("/review").text
    first = int(re.search(r'data-candidate-id="(\d+)"', page).group(1))  # type: ignore[union-attr]
    card = client.post(f"/review/{first}/label", data={"label": "bogus"}, headers=h).text
    second = int(re.search(r'data-candidate-id="(\d+)"', card).group(1))  # type: ignore[union-attr]
    assert second != first and "labelled by you: <strong>1</strong>" in card
    # a repeated key press for the same candidate does not label it twice
    client.post(f"/review/{first}/label", data={"label": "real"}, headers=h)
    assert [lbl.label for lbl in labels_of(fresh.service.catalog, [first])[first]] == ["bogus"]
    skipped = client.post(f"/review/{second}/skip", data={"skip": ""}, headers=h).text
    third = int(re.search(r'data-candidate-id="(\d+)"', skipped).group(1))  # type: ignore[union-attr]
    assert third not in (first, second)
    assert f'"skip": "{second}"' in skipped
    viewer = TestClient(fresh.client.app)
    vtoken = login(viewer, fresh.keys["viewer"])
    r = viewer.post(
        f"/review/{third}/label", data={"label": "real"}, headers={"X-CSRF-Token": vtoken}
    )
    assert r.status_code == 403


def test_admin_creates_and_revokes_keys_from_the_page(fresh: Env) -> None:
    client = fresh.client
    token = login(client, fresh.keys["admin"])
    h = {"X-CSRF-Token": token, "HX-Request": "true"}
    made = client.post("/admin/keys", data={"name": "pipeline-bot", "role": "viewer"}, headers=h)
    key = re.search(r"astrid_[A-Za-z0-9_-]{43}", made.text)
    assert made.status_code == 200 and key is not None
    assert fresh.client.get("/api/v1/me", headers={"X-API-Key": key.group()}).status_code == 200
    key_id = next(e for e in audit_log(fresh.service.catalog, action="key.create")).target
    assert key_id is not None
    revoked = client.post(f"/admin/keys/{key_id.split(':')[1]}/revoke", headers=h)
    assert revoked.status_code == 200
    assert (
        TestClient(fresh.client.app)
        .get("/api/v1/me", headers={"X-API-Key": key.group()})
        .status_code
        == 401
    )


def test_logout_ends_the_session(fresh: Env) -> None:
    client = fresh.client
    token = login(client, fresh.keys["viewer"])
    r = client.post("/logout", headers={"X-CSRF-Token": token})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_static_files_and_no_cdn(env: Env) -> None:
    client = TestClient(env.client.app)
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/astrid.js").status_code == 200
    page = client.get("/login").text
    assert "https://" not in page and "http://" not in page, "everything is served locally"


# -- what a new user missed (issue 12 item 15) ---------------------------------------------


def _row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-candidate-id="(\d+)"', page)]


def test_candidate_list_shows_ra_dec_most_significant_first(env: Env) -> None:
    from astrid.catalog.candidates import candidates_by_id

    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    page = client.get("/candidates").text
    assert "<th>RA</th><th>Dec</th>" in page and 'class="candidates wide"' in page
    ids = _row_ids(page)
    records = candidates_by_id(env.service.catalog, ids)
    significance = [abs(records[i].scorr) for i in ids]
    assert significance == sorted(significance, reverse=True), "|S_corr| largest first"
    assert "sorted by |S_corr|, largest first" in page
    first = records[ids[0]]
    from astropy.coordinates import SkyCoord

    ra, dec = (
        SkyCoord(first.ra, first.dec, unit="deg").to_string("hmsdms", sep=":", precision=1).split()
    )
    row = page[page.index(f'<tr data-candidate-id="{first.id}"') :]
    assert ra[:-1] in row[:1500] and dec[:-1] in row[:1500], (ra, dec)
    # the run column leads to the run page; the sort links keep the filters
    assert f'href="/runs/{first.run_id}"' in row[:2000]
    part = client.get(
        "/candidates", params={"run_id": env.seeded.run_ids[0]}, headers={"HX-Request": "true"}
    ).text
    assert "<html" not in part and f'href="/runs/{env.seeded.run_ids[0]}"' in part
    assert f"run_id={env.seeded.run_ids[0]}&amp;sort=rb" in part


def test_sexagesimal_formatting_rounds_once() -> None:
    from astrid.web.pages import _dec_dms, _ra_hms

    assert _ra_hms(150.0) == "10:00:00.00"
    assert _ra_hms(359.9999999) == "00:00:00.00"
    assert _ra_hms(15.0 * (1 + 59.9999 / 3600)) == "01:01:00.00", "59.9999 s carries over"
    assert _dec_dms(-0.5) == "-00:30:00.0"
    assert _dec_dms(2.0 + 59.99 / 3600) == "+02:01:00.0"
    assert _dec_dms(-90.0) == "-90:00:00.0"


def test_dashboard_names_the_files_and_links_runs(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    page = client.get("/").text
    for night, run_id in enumerate(env.seeded.run_ids):
        assert f'href="/runs/{run_id}"' in page
        assert f">sci_r_{night}</a>" in page
    assert ">ref_r</span>" in page
    assert "No model registered yet" in page


def test_run_page(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    run_id, science = env.seeded.run_ids[0], env.seeded.science_ids[0]
    page = client.get(f"/runs/{run_id}").text
    assert f'href="/api/v1/observations/{science}/file"' in page and ">sci_r_0</a>" in page
    assert f'href="/api/v1/observations/{env.seeded.reference_id}/file"' in page
    assert f'href="/candidates?run_id={run_id}"' in page and "12 candidates" in page
    timings = page[page.index('data-testid="timings"') :]
    for stage in ("read", "preprocess", "difference", "write"):
        assert f"<td>{stage}</td>" in timings
    assert "<svg" in page, "timings chart"
    assert "<th>scorr_std</th><td>1</td>" in page, "a whole number without decimals"
    assert "<th>threshold</th><td>5</td>" in page, "settings"
    assert "not scored" in page and 'data-testid="run-error"' not in page
    missing = client.get("/runs/99999", headers=HTML)
    assert missing.status_code == 404 and "no run with id 99999" in missing.text
    assert client.get("/runs/0", headers=HTML).status_code == 422


def test_failed_run_page_names_the_stage(fresh: Env) -> None:
    catalog = fresh.service.catalog
    run_id = catalog.start_run(
        key="failing",
        science_id=fresh.seeded.science_ids[1],
        reference_id=None,
        config={},
        code_version="test",
    )
    catalog.fail_run(run_id, stage="align", error="only 2 stars matched, need 6")
    client = fresh.client
    login(client, fresh.keys["viewer"])
    page = client.get(f"/runs/{run_id}").text
    assert 'data-testid="run-status">failed' in page
    error = page[page.index('data-testid="run-error"') :]
    assert "<strong>align</strong>: only 2 stars matched, need 6" in error
    assert "0 candidates" in page
    dashboard = client.get("/").text
    assert "align: only 2 stars matched, need 6" in dashboard


def _scored_by_a_model(env: Env) -> tuple[int, list[int]]:
    from astrid.catalog.model_registry import register_model, update_scores

    catalog = env.service.catalog
    model = register_model(
        catalog,
        name="realbogus",
        file_key="models/abc.onnx",
        data_hash="d" * 64,
        metrics={"val": {"auc": 0.9912, "fnr_at_fpr_1pct": 0.05}, "n": 1000},
        card={"operating_threshold": 0.75, "classes": ["bogus", "real"], "history": [{"e": 1}]},
    )
    ids = list(env.seeded.candidate_ids[:5])
    n = len(ids)
    scores = {
        "rb": [0.9, 0.1, 0.8, 0.3, 0.95],
        "ood": [0.1] * n,
        "ood_msp": [0.9] * n,
        "ood_energy": [-3.0] * n,
        "ood_mahalanobis": [1.0] * n,
    }
    update_scores(catalog, ids, scores, model.id)
    return model.id, ids


def test_model_page_and_what_it_scored(fresh: Env) -> None:
    model_id, ids = _scored_by_a_model(fresh)
    client = fresh.client
    login(client, fresh.keys["viewer"])
    page = client.get(f"/models/{model_id}").text
    assert "realbogus v1" in page and "active" in page
    assert "d" * 64 in page, "training data digest"
    assert 'data-testid="threshold">rb ≥ 0.750' in page
    assert "val · auc</th><td>0.9912" in page and "classes</th><td>bogus, real" in page
    assert "<summary>1 entries</summary>" in page, "a list of records is folded"
    assert f'href="/candidates?model_version_id={model_id}&amp;sort=rb&amp;order=desc"' in page
    assert "5 candidates" in page
    top = page[page.index('data-testid="top"') :]
    shown = [int(i) for i in re.findall(r'href="/candidates/(\d+)"', top)]
    assert shown == [ids[4], ids[0], ids[2], ids[3], ids[1]], "highest rb first"

    listed = client.get("/candidates", params={"model_version_id": model_id}).text
    assert sorted(_row_ids(listed)) == sorted(ids)
    assert f'scored by <a href="/models/{model_id}">realbogus v1</a>' in listed
    assert f'href="/models/{model_id}">v1</a>' in listed, "model column"
    candidate = client.get(f"/candidates/{ids[0]}").text
    assert f'href="/models/{model_id}">realbogus v1</a>' in candidate
    assert f'href="/models/{model_id}"' in client.get("/").text
    run_page = client.get(f"/runs/{fresh.seeded.run_ids[0]}").text
    assert f'href="/models/{model_id}">realbogus v1</a>' in run_page
    missing = client.get("/models/99999", headers=HTML)
    assert missing.status_code == 404 and "no model version with id 99999" in missing.text
    api = fresh.client.get(
        "/api/v1/candidates",
        params={"model_version_id": model_id},
        headers=fresh.headers("viewer"),
    )
    assert sorted(c["id"] for c in api.json()["items"]) == sorted(ids)


def _marks(page: str, kind: str) -> str:
    start = page.index(f'data-testid="marks-{kind}"')
    return page[start : page.index("</svg>", start)]


def test_cutout_marks_without_and_with_a_wcs(fresh: Env) -> None:
    from astropy.wcs import WCS
    from sqlalchemy import update

    from astrid.catalog.models import Observation

    client = fresh.client
    login(client, fresh.keys["viewer"])
    cid = fresh.seeded.candidate_ids[0]  # x = 100, y = 200: the central pixel
    page = client.get(f"/candidates/{cid}").text
    for kind in ("science", "reference", "difference"):
        marks = _marks(page, kind)
        assert 'data-x="31.5" data-y="31.5"' in marks, "crosshair on the candidate"
        assert "arrow-N" not in marks
    assert "no WCS for this image: crosshair only" in page

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [101.0, 201.0]
    wcs.wcs.cd = [[0.0, 0.5 / 3600], [0.5 / 3600, 0.0]]  # rotated 90° and flipped
    with fresh.service.catalog.engine.begin() as conn:
        conn.execute(
            update(Observation)
            .where(Observation.id == fresh.seeded.science_ids[0])
            .values(wcs_header=wcs.to_header(relax=True).tostring(sep="\n"))
        )
    marks = _marks(client.get(f"/candidates/{cid}").text, "science")
    # north (+Dec) is +x (right), east (+RA) is +y (up on the display)
    assert '<line class="arrow-N" x1="14" y1="14" x2="21.00" y2="14.00"/>' in marks
    assert '<line class="arrow-E" x1="14" y1="14" x2="14.00" y2="7.00"/>' in marks
    assert ">10″</text>" in marks and 'x2="23.00"' in marks, "10″ = 20 px scale bar"
