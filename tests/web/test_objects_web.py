"""The objects list, curators' classes on the object page, the object column of the candidate
list and the object's history in review mode, without a browser."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from astrid.catalog import list_objects, object_labels_of, record_points, update_summaries
from astrid.catalog.candidates import candidate
from astrid.curation.labels import OBJECT_CLASS_TITLES, OBJECT_CLASSES
from service_env import Env, login

HTML = {"Accept": "text/html"}
HTMX = {"HX-Request": "true"}


def _shown(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-object-id="(\d+)"', text)]


def test_objects_list_filters_and_links(fresh: Env) -> None:
    catalog = fresh.service.catalog
    objects = list_objects(catalog, limit=100)
    first, second = objects[0], objects[1]
    update_summaries(
        catalog,
        {
            first.id: {"context_class": "supernova_candidate", "peak_mag": 18.5},
            second.id: {"context_class": "variable_star", "peak_mag": 21.0},
        },
    )
    client = TestClient(fresh.client.app)
    login(client, fresh.keys["viewer"])
    page = client.get("/objects", headers=HTML)
    assert page.status_code == 200
    assert _shown(page.text) == [o.id for o in objects], "newest first"
    assert f"{len(objects)} objects" in page.text
    assert f'href="/objects/{first.name}">{first.name}</a>' in page.text
    assert '<a href="/objects" aria-current="page">Objects</a>' in page.text, "in the nav"
    for name in ("supernova candidate", "variable star"):
        assert f">{name}</option>" in page.text, "the classes present are offered"

    def shown(**params: str) -> list[int]:
        r = client.get("/objects", params=params, headers=HTMX)
        assert r.status_code == 200, r.text
        assert "<html" not in r.text, "htmx gets the results only"
        return _shown(r.text)

    assert shown(context_class="variable_star") == [second.id]
    unknown = client.get("/objects", params={"context_class": "kilonova"}).text
    assert _shown(unknown) == [] and '<option value="kilonova" selected>' in unknown
    assert shown(context_class="variable_star", peak_mag_min="", moving="") == [second.id]
    assert shown(peak_mag_max="20") == [first.id]
    assert shown(peak_mag_min="20", peak_mag_max="22") == [second.id]
    assert shown(min_detections="2") == [o.id for o in objects]
    assert shown(min_detections="3") == []
    last = max(o.last_mjd for o in objects if o.last_mjd is not None)
    assert shown(last_mjd_min=str(last + 1)) == []
    assert shown(last_mjd_max=str(last)) == [o.id for o in objects]
    assert shown(moving="true") == []
    empty = client.get("/objects", params={"min_detections": "3"}).text
    assert "No objects match." in empty and "0 objects" in empty


@pytest.mark.parametrize(
    "params",
    [
        {"min_detections": "-1"},
        {"min_detections": "many"},
        {"peak_mag_min": "bright"},
        {"last_mjd_min": "nan"},
        {"peak_mag_min": "22", "peak_mag_max": "18"},
        {"before": "0"},
        {"context_class": "x" * 40},
    ],
)
def test_objects_list_refuses_bad_filters_with_a_page(env: Env, params: dict[str, str]) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    r = client.get("/objects", params=params, headers=HTML)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert '<p class="error" role="alert">' in r.text and next(iter(params)) in r.text


def test_objects_list_pages_like_the_candidate_list(
    fresh: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("astrid.web.object_list.PAGE_SIZE", 5)
    objects = list_objects(fresh.service.catalog, limit=100)
    client = TestClient(fresh.client.app)
    login(client, fresh.keys["viewer"])
    seen: list[int] = []
    text = client.get("/objects", params={"min_detections": "1"}).text
    while True:
        seen += _shown(text)
        more = re.search(r'<button hx-get="([^"]+)"', text)
        if more is None:
            break
        url = more.group(1).replace("&amp;", "&")
        assert "min_detections=1" in url, "the next page keeps the filters"
        text = client.get(url, headers=HTMX).text
        assert "<table" not in text, "the next rows only"
    assert seen == [o.id for o in objects]
    assert len(seen) > 5


def test_objects_list_needslogin(env: Env) -> None:
    r = TestClient(env.client.app).get("/objects", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_curator_classes_an_object_from_its_page(fresh: Env) -> None:
    catalog = fresh.service.catalog
    obj = list_objects(catalog, limit=1)[0]
    client = fresh.client
    token = login(client, fresh.keys["curator"])
    page = client.get(f"/objects/{obj.name}").text
    buttons = re.findall(r'data-label="([a-z_]+)"', page)
    assert buttons == list(OBJECT_CLASSES), "a button per class of the taxonomy"
    assert "SN Ia" in page and "TDE" in page and "No class yet." in page
    assert f'hx-post="/objects/{obj.id}/labels"' in page

    url = f"/objects/{obj.id}/labels"
    assert client.post(url, data={"label": "sn_ia"}).status_code == 403, "no CSRF token"
    ok = client.post(
        url,
        data={"label": "sn_ia", "comment": " broad Si II "},
        headers={"X-CSRF-Token": token, **HTMX},
    )
    assert ok.status_code == 200, ok.text
    assert "<html" not in ok.text and 'id="object-labels"' in ok.text
    assert "curator-user" in ok.text and OBJECT_CLASS_TITLES["sn_ia"] in ok.text
    assert "broad Si II" in ok.text
    client.post(url, data={"label": "agn"}, headers={"X-CSRF-Token": token, **HTMX})
    stored = object_labels_of(catalog, obj.id)
    assert [(x.label, x.comment, x.curator) for x in stored] == [
        ("sn_ia", "broad Si II", "curator-user"),
        ("agn", None, "curator-user"),
    ]
    history = client.get(f"/objects/{obj.name}").text
    times = re.findall(r'<time datetime="([^"]+)"', history)
    assert times == [x.created_at.isoformat() for x in reversed(stored)], "newest first"
    bad = client.post(url, data={"label": "kilonova"}, headers={"X-CSRF-Token": token, **HTML})
    assert bad.status_code == 422
    gone = client.post(
        "/objects/999999/labels", data={"label": "agn"}, headers={"X-CSRF-Token": token, **HTML}
    )
    assert gone.status_code == 404

    # the API says when each class was given
    api = fresh.client.get(f"/api/v1/objects/{obj.id}/labels", headers=fresh.headers("viewer"))
    given = [datetime.fromisoformat(x["created_at"]) for x in api.json()["labels"]]
    assert given == [x.created_at for x in stored]


def test_a_viewer_sees_classes_but_no_buttons(env: Env) -> None:
    client = TestClient(env.client.app)
    token = login(client, env.keys["viewer"])
    obj = list_objects(env.service.catalog, limit=1)[0]
    page = client.get(f"/objects/{obj.id}").text
    assert 'data-testid="object-labels"' in page and "data-label=" not in page
    refused = client.post(
        f"/objects/{obj.id}/labels", data={"label": "agn"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 403


def test_candidate_list_links_each_object(env: Env) -> None:
    client = TestClient(env.client.app)
    login(client, env.keys["viewer"])
    text = client.get("/candidates").text
    assert "<th>RA</th><th>Dec</th><th>object</th>" in text
    cid = env.seeded.candidate_ids[0]
    record = candidate(env.service.catalog, cid)
    assert record is not None and record.object_name is not None
    row = re.search(rf'<tr data-candidate-id="{cid}">(.*?)</tr>', text, re.S)
    assert row is not None
    link = f'<a href="/objects/{record.object_name}">{record.object_name}</a>'
    assert link in row.group(1)


def test_review_shows_the_object_history(fresh: Env) -> None:
    client = fresh.client
    login(client, fresh.keys["curator"])
    card = client.get("/review").text
    cid = int(re.search(r'data-candidate-id="(\d+)"', card).group(1))  # type: ignore[union-attr]
    record = candidate(fresh.service.catalog, cid)
    assert record is not None and record.object_id is not None
    obj = next(o for o in list_objects(fresh.service.catalog) if o.id == record.object_id)
    section = re.search(r'data-testid="review-object">(.*?)</section>', card, re.S)
    assert section is not None
    assert f'<a href="/objects/{obj.name}">{obj.name}</a>' in section.group(1)
    assert "2 detections · 0 non-detections" in section.group(1)
    assert "no light-curve points" in section.group(1)
    run0, run1 = fresh.seeded.run_ids
    sci0, sci1 = fresh.seeded.science_ids
    base = {"object_id": obj.id, "x": 1.0, "y": 2.0, "band": "g", "zero_point": 25.0}
    record_points(
        fresh.service.catalog,
        [
            base
            | {
                "run_id": run,
                "observation_id": sci,
                "candidate_id": None,
                "mjd": mjd,
                "flux": 10.0,
                "flux_err": 5.0,
                "detected": detected,
            }
            for run, sci, mjd, detected in (
                (run0, sci0, 60300.2, False),
                (run1, sci1, 60301.3, True),
            )
        ],
    )
    again = client.get("/review", params={"skip": []}).text
    assert 'class="point detection band-g"' in again and 'class="point limit band-g"' in again
