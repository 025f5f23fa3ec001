"""The object page without a browser: light curve, context, links, 404."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from astrid.catalog import candidates_of_object, list_objects, record_points, update_summaries
from astrid.web.lightcurve_chart import light_curve_chart
from astrid.web.object_page import external_links
from service_env import Env, login

HTML = {"Accept": "text/html"}


def test_object_page_shows_light_curve_context_and_links(fresh: Env) -> None:
    catalog = fresh.service.catalog
    obj = list_objects(catalog, limit=1)[0]
    run0, run1 = fresh.seeded.run_ids
    sci0, sci1 = fresh.seeded.science_ids
    base = {"object_id": obj.id, "x": 1.0, "y": 2.0, "band": "r", "zero_point": 25.0}
    record_points(
        catalog,
        [
            base
            | {
                "run_id": run0,
                "observation_id": sci0,
                "candidate_id": None,
                "mjd": 60300.0,
                "flux": 5.0,
                "flux_err": 20.0,
                "detected": False,
            },
            base
            | {
                "run_id": run1,
                "observation_id": sci1,
                "candidate_id": fresh.seeded.candidate_ids[0],
                "mjd": 60301.0,
                "flux": 900.0,
                "flux_err": 30.0,
                "detected": True,
            },
        ],
    )
    update_summaries(
        catalog,
        {
            obj.id: {
                "context_class": "supernova_candidate",
                "context_reason": "rule 5: offset 1.20 arcsec = 0.80 DLR from REF J1",
                "context": {
                    "matches": [
                        {
                            "catalogue": "mangrove",
                            "name": "HyperLEDA 42",
                            "type": "galaxy",
                            "sep_arcsec": 2.5,
                            "distance_mpc": 80.0,
                        }
                    ],
                    "host": {"name": "REF J1", "sep_arcsec": 1.2, "dlr": 0.8},
                },
                "host_distance_mpc": 80.0,
            }
        },
    )
    client = TestClient(fresh.client.app)
    login(client, fresh.keys["viewer"])
    for key in (obj.name, str(obj.id)):
        page = client.get(f"/objects/{key}", headers=HTML)
        assert page.status_code == 200, page.text
        text = page.text
        assert obj.name in text and "supernova_candidate" in text
        assert "rule 5: offset" in text and "HyperLEDA 42" in text and "REF J1" in text
        assert text.count('class="point detection band-r"') == 1
        assert text.count('class="point limit band-r"') == 1
        # the cutout history: the object's detections newest first, each with its triplet
        shown = [int(i) for i in re.findall(r'<tr data-candidate-id="(\d+)"', text)]
        assert shown == [c.id for c in candidates_of_object(catalog, obj.id)]
        assert len(shown) == obj.n_detections == 2 and shown[0] > shown[1]
        for cid in shown:
            for kind in ("science", "reference", "difference"):
                assert f"/api/v1/candidates/{cid}/cutouts/{kind}.png?scale=2" in text
            assert f'<a href="/candidates/{cid}">{cid}</a>' in text
        for name in ("SIMBAD", "NED", "TNS", "Legacy Survey", "Aladin", "ALeRCE", "Fink"):
            assert f">{name}</a>" in text
        assert not re.search(r'\sstyle="', text), "inline styles break the CSP"
    candidate = client.get(f"/candidates/{fresh.seeded.candidate_ids[0]}", headers=HTML).text
    assert re.search(r'href="/objects/ASTRID\d{4}[a-z]+"', candidate), "links its object"
    missing = client.get("/objects/ASTRID1999zz", headers=HTML)
    assert missing.status_code == 404 and "no object ASTRID1999zz" in missing.text
    assert client.get("/objects/bad%20name", headers=HTML).status_code == 422


def test_object_page_needslogin(env: Env) -> None:
    client = TestClient(env.client.app)
    r = client.get("/objects/1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_external_links_carry_the_position() -> None:
    links = dict(external_links(150.123456, -2.5))
    assert "150.123456" in links["SIMBAD"] and "-2.500000" in links["ALeRCE"]
    assert links["TNS"].startswith("https://www.wis-tns.org/search?ra=150.123456")


def test_empty_light_curve_says_so() -> None:
    assert "no light-curve points" in light_curve_chart([])
