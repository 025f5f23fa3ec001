"""Labels, consensus, the review queue (no candidate handed to two curators) and the audit log."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from astrid.catalog.access import audit_log, create_api_key
from astrid.catalog.candidates import candidates_by_id
from astrid.catalog.curation import claim_next
from astrid.curation.queue import review_priority
from service_env import Env

API = "/api/v1"


def _curator(env: Env, name: str) -> dict[str, str]:
    key, _ = create_api_key(env.service.catalog, name=name, role="curator", actor="test")
    return {"X-API-Key": key}


def test_labels_from_several_curators_and_consensus(fresh: Env) -> None:
    cid = fresh.seeded.candidate_ids[2]
    ann, bob, cy = (_curator(fresh, n) for n in ("ann", "bob", "cy"))
    url = f"{API}/candidates/{cid}/labels"
    assert fresh.client.post(url, json={"label": "cosmic_ray"}, headers=ann).status_code == 201
    assert fresh.client.post(url, json={"label": "hot_pixel"}, headers=bob).status_code == 201
    body = fresh.client.get(url, headers=fresh.headers("viewer")).json()
    assert body["consensus"]["status"] == "disputed"
    assert body["consensus"]["label_class"] == "bogus", "both kinds are bogus"
    posted = fresh.client.post(
        url, json={"label": "hot_pixel", "comment": "warm column nearby"}, headers=cy
    )
    assert posted.json()["comment"] == "warm column nearby"
    body = fresh.client.get(url, headers=fresh.headers("viewer")).json()
    assert body["consensus"]["status"] == "agreed" and body["consensus"]["label"] == "hot_pixel"
    assert body["consensus"]["n_curators"] == 3
    assert [lbl["curator"] for lbl in body["labels"]] == ["ann", "bob", "cy"]
    # ann changes her mind: her latest label counts, the history keeps both
    fresh.client.post(url, json={"label": "hot_pixel"}, headers=ann)
    body = fresh.client.get(url, headers=fresh.headers("viewer")).json()
    assert len(body["labels"]) == 4
    assert body["consensus"]["votes"] == {"hot_pixel": 3}
    assert body["consensus"]["agreement"] == pytest.approx(1.0)
    detail = fresh.client.get(f"{API}/candidates/{cid}", headers=ann).json()
    assert detail["consensus"]["label"] == "hot_pixel" and len(detail["labels"]) == 4
    listed = fresh.client.get(
        f"{API}/candidates", params={"label": "cosmic_ray"}, headers=ann
    ).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    reviewed = fresh.client.get(
        f"{API}/candidates", params={"reviewed": "true"}, headers=ann
    ).json()
    assert [c["id"] for c in reviewed["items"]] == [cid]
    unreviewed = fresh.client.get(
        f"{API}/candidates", params={"reviewed": "false", "limit": 1000}, headers=ann
    ).json()
    assert cid not in [c["id"] for c in unreviewed["items"]]
    assert len(unreviewed["items"]) == len(fresh.seeded.candidate_ids) - 1


def test_bad_labels_are_422_and_unknown_candidate_404(fresh: Env) -> None:
    h = fresh.headers("curator")
    cid = fresh.seeded.candidate_ids[0]
    for body in ({"label": "maybe"}, {}, {"label": "real", "comment": "x" * 2001}, []):
        r = fresh.client.post(f"{API}/candidates/{cid}/labels", json=body, headers=h)
        assert r.status_code == 422, body
    r = fresh.client.post(f"{API}/candidates/99999/labels", json={"label": "real"}, headers=h)
    assert r.status_code == 404
    assert fresh.client.get(f"{API}/candidates/99999/labels", headers=h).status_code == 404
    assert audit_log(fresh.service.catalog, action="label.create") == []


def test_every_write_is_audited(fresh: Env) -> None:
    admin, curator = fresh.headers("admin"), fresh.headers("curator")
    cid = fresh.seeded.candidate_ids[0]
    fresh.client.post(f"{API}/candidates/{cid}/labels", json={"label": "real"}, headers=curator)
    created = fresh.client.post(
        f"{API}/keys", json={"name": "robot", "role": "viewer"}, headers=admin
    ).json()
    fresh.client.delete(f"{API}/keys/{created['record']['id']}", headers=admin)
    item = fresh.client.post(f"{API}/review/next", headers=curator).json()
    released = item["candidate"]["id"]
    fresh.client.delete(f"{API}/review/claims/{released}", headers=curator)

    entries = fresh.client.get(f"{API}/audit", headers=admin).json()
    by_action = {e["action"]: e for e in entries}
    assert {"label.create", "key.create", "key.revoke", "review.claim", "review.release"} <= set(
        by_action
    )
    label = by_action["label.create"]
    assert label["actor"].startswith("curator-user (key:")
    assert label["target"] == f"candidate:{cid}" and label["detail"]["label"] == "real"
    assert by_action["key.create"]["detail"]["role"] == "viewer"
    assert "key" not in by_action["key.create"]["detail"], "the secret is never logged"
    assert by_action["review.release"]["target"] == f"candidate:{released}"
    only = fresh.client.get(f"{API}/audit", params={"action": "key.revoke"}, headers=admin)
    assert [e["action"] for e in only.json()] == ["key.revoke"]
    oldest = fresh.client.get(
        f"{API}/audit", params={"before_id": entries[-1]["id"]}, headers=admin
    ).json()
    assert oldest == []


def test_review_hands_out_the_most_uncertain_first_and_advances(fresh: Env) -> None:
    h = fresh.headers("curator")
    first = fresh.client.post(f"{API}/review/next", headers=h)
    assert first.status_code == 200
    item = first.json()
    records = candidates_by_id(fresh.service.catalog, fresh.seeded.candidate_ids)
    priority = {cid: review_priority(r.rb, r.ood) for cid, r in records.items()}
    assert priority[item["candidate"]["id"]] == pytest.approx(max(priority.values()))
    assert max(priority.values()) > 1.0, "uncertain and novel beats unscored (1.0)"
    # asking again without labelling shows the same claim (a page reload)
    again = fresh.client.post(f"{API}/review/next", headers=h).json()
    assert again["candidate"]["id"] == item["candidate"]["id"]
    remaining = item["progress"]["remaining"]
    fresh.client.post(
        f"{API}/candidates/{item['candidate']['id']}/labels", json={"label": "real"}, headers=h
    )
    after = fresh.client.post(f"{API}/review/next", headers=h).json()
    assert after["candidate"]["id"] != item["candidate"]["id"]
    assert after["progress"]["labelled_by_curator"] == 1
    assert after["progress"]["remaining"] == remaining - 1
    skipped = after["candidate"]["id"]
    nxt = fresh.client.post(f"{API}/review/next", params={"skip": skipped}, headers=h).json()
    assert nxt["candidate"]["id"] != skipped


def test_two_curators_never_get_the_same_candidate(fresh: Env) -> None:
    ann, bob = _curator(fresh, "ann"), _curator(fresh, "bob")
    seen: dict[str, list[int]] = {"ann": [], "bob": []}
    for _ in range(5):
        for name, h in (("ann", ann), ("bob", bob)):
            item = fresh.client.post(f"{API}/review/next", headers=h).json()
            seen[name].append(item["candidate"]["id"])
            fresh.client.post(
                f"{API}/candidates/{item['candidate']['id']}/labels",
                json={"label": "bogus"},
                headers=h,
            )
    assert not set(seen["ann"]) & set(seen["bob"])
    assert len(set(seen["ann"])) == 5 and len(set(seen["bob"])) == 5
    progress = fresh.client.post(f"{API}/review/next", headers=ann).json()["progress"]
    assert progress["claimed_by_others"] == 0
    assert progress["labelled_by_curator"] == 5


def test_concurrent_claims_are_disjoint(fresh: Env) -> None:
    """Eight curators claiming at once, in threads: each gets a different candidate."""
    catalog = fresh.service.catalog
    got: dict[str, int | None] = {}
    barrier = threading.Barrier(8)

    def work(name: str) -> None:
        barrier.wait()
        got[name] = claim_next(catalog, curator=name)

    threads = [threading.Thread(target=work, args=(f"c{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [v for v in got.values() if v is not None]
    assert len(ids) == 8 and len(set(ids)) == 8


def test_stale_claim_is_taken_over_and_queue_ends(fresh: Env) -> None:
    catalog = fresh.service.catalog
    first = claim_next(catalog, curator="ann", claim_timeout=timedelta(minutes=15))
    assert claim_next(catalog, curator="bob", claim_timeout=timedelta(minutes=15)) != first
    taken = claim_next(catalog, curator="cy", claim_timeout=timedelta(seconds=-1))
    assert taken == first, "a claim older than the timeout is handed out again"

    h = fresh.headers("curator")
    n = len(fresh.seeded.candidate_ids)
    for _ in range(n):
        r = fresh.client.post(f"{API}/review/next", headers=h)
        if r.status_code == 204:
            break
        cid = r.json()["candidate"]["id"]
        fresh.client.post(f"{API}/candidates/{cid}/labels", json={"label": "noise"}, headers=h)
    else:
        pytest.fail("the queue never ran out")
    # ann, bob and cy hold live claims (cy's took over ann's) on candidates this curator
    # could not be handed
    assert fresh.client.post(f"{API}/review/next", headers=h).status_code == 204


def test_release_needs_a_claim(fresh: Env) -> None:
    h = fresh.headers("curator")
    r = fresh.client.delete(f"{API}/review/claims/{fresh.seeded.candidate_ids[0]}", headers=h)
    assert r.status_code == 404
