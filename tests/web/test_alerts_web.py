"""The alerts page: a bad filter marked where it breaks, filters tried, saved and deleted,
subscriptions made and refused; viewers read only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service_env import Env, login


def _post(client: TestClient, token: str, url: str, data: dict[str, str]) -> tuple[int, str]:
    r = client.post(url, data=data, headers={"X-CSRF-Token": token, "HX-Request": "true"})
    return r.status_code, r.text


def test_a_bad_filter_is_shown_with_a_caret(fresh: Env) -> None:
    token = login(fresh.client, fresh.keys["curator"])
    status, text = _post(
        fresh.client, token, "/alerts/filters/try", {"expression": "rb > 0.5 and mag <"}
    )
    assert status == 422
    assert 'data-testid="filter-error"' in text
    assert "rb &gt; 0.5 and mag &lt;\n" + " " * 18 + "^" in text


def test_filters_and_subscriptions_round_trip(fresh: Env, tmp_path: object) -> None:
    page = fresh.client
    token = login(page, fresh.keys["curator"])
    assert "Alerts" in page.get("/alerts").text
    status, text = _post(page, token, "/alerts/filters/try", {"expression": "rb > 0.5"})
    assert status == 200 and "0 of 0 alerts of the last 7 days pass" in text
    status, text = _post(page, token, "/alerts/filters", {"name": "good", "expression": "rb > 0.5"})
    assert status == 200 and "filter good saved" in text and "<code>rb &gt; 0.5</code>" in text
    status, text = _post(page, token, "/alerts/filters", {"name": "good", "expression": "rb > 0"})
    assert status == 409
    status, text = _post(
        page,
        token,
        "/alerts/subscriptions",
        {"name": "hook", "filter": "good", "kind": "webhook", "target": "https://example.org/x"},
    )
    assert status == 422  # a webhook needs a secret
    status, text = _post(
        page,
        token,
        "/alerts/subscriptions",
        {
            "name": "hook",
            "filter": "good",
            "kind": "webhook",
            "target": "https://example.org/x",
            "secret": "s",
        },
    )
    assert status == 200 and "subscription hook saved" in text
    status, text = _post(page, token, "/alerts/filters/good/delete", {})
    assert status == 409 and "hook" in text
    status, _ = _post(page, token, "/alerts/subscriptions/hook/delete", {})
    assert status == 200
    status, text = _post(page, token, "/alerts/filters/good/delete", {})
    assert status == 200 and "filter good deleted" in text


def test_viewers_read_but_cannot_change(fresh: Env) -> None:
    token = login(fresh.client, fresh.keys["viewer"])
    text = fresh.client.get("/alerts").text
    assert "Try on the last 7 days" in text and ">Save</button>" not in text
    status, _ = _post(fresh.client, token, "/alerts/filters", {"name": "x", "expression": "rb > 0"})
    assert status == 403
