"""The web page's routes without a browser: logins, roles, rendering, htmx partials."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from astrid.catalog.access import audit_log
from astrid.catalog.curation import labels_of
from service_env import Env

HTML = {"Accept": "text/html"}


def _login(client: TestClient, key: str) -> str:
    """Log in and return the session's anti-CSRF token."""
    r = client.post("/login", data={"credential": key}, follow_redirects=False)
    assert r.status_code == 303, r.text
    match = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', client.get("/").text)
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize("path", ["/", "/candidates", "/candidates/1", "/review", "/admin"])
def test_pages_redirect_to_login(env: Env, path: str) -> None:
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
    _login(viewer, env.keys["viewer"])
    dashboard = viewer.get("/").text
    assert 'href="/review"' not in dashboard and 'href="/admin"' not in dashboard
    assert viewer.get("/review", headers=HTML).status_code == 403
    assert viewer.get("/admin", headers=HTML).status_code == 403
    cid = env.seeded.candidate_ids[0]
    page = viewer.get(f"/candidates/{cid}").text
    assert "data-key=" not in page, "no label buttons for a viewer"

    curator = TestClient(env.client.app)
    _login(curator, env.keys["curator"])
    assert 'href="/review"' in curator.get("/").text
    assert curator.get("/admin", headers=HTML).status_code == 403
    assert 'data-key="r"' in curator.get(f"/candidates/{cid}").text

    admin = TestClient(env.client.app)
    _login(admin, env.keys["admin"])
    page = admin.get("/admin").text
    assert "curator-user" in page and "key.create" in page


def test_dashboard_shows_runs_and_plots(env: Env) -> None:
    client = TestClient(env.client.app)
    _login(client, env.keys["viewer"])
    page = client.get("/").text
    assert "Recent runs" in page
    assert page.count("<svg") >= 2 or page.count("<img") >= 2, "score histograms"
    for run_id in env.seeded.run_ids:
        assert f"/candidates?run_id={run_id}" in page


def test_candidate_list_filters_and_partials(env: Env) -> None:
    client = TestClient(env.client.app)
    _login(client, env.keys["viewer"])
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
    _login(client, env.keys["viewer"])
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
    token = _login(client, fresh.keys["curator"])
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
    token = _login(client, fresh.keys["curator"])
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
    vtoken = _login(viewer, fresh.keys["viewer"])
    r = viewer.post(
        f"/review/{third}/label", data={"label": "real"}, headers={"X-CSRF-Token": vtoken}
    )
    assert r.status_code == 403


def test_admin_creates_and_revokes_keys_from_the_page(fresh: Env) -> None:
    client = fresh.client
    token = _login(client, fresh.keys["admin"])
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
    token = _login(client, fresh.keys["viewer"])
    r = client.post("/logout", headers={"X-CSRF-Token": token})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_static_files_and_no_cdn(env: Env) -> None:
    client = TestClient(env.client.app)
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/astrid.js").status_code == 200
    page = client.get("/login").text
    assert "https://" not in page and "http://" not in page, "everything is served locally"
