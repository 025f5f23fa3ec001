"""The objects list and an object page in a real browser (the system Chromium, headless).

A curator filters the objects list, opens an object, sees its finder chart and cutout
history load, and classes it with a button; the class is checked in the database. The
object page's screenshot is saved under $TEST_ARTIFACTS (default a pytest temp folder).
No request leaves the local server, and the page raises no CSP violation (the ``page``
fixture fails the test on one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from astrid.catalog import list_objects, object_labels_of
from service_catalog import store_reference_image
from service_env import Live

pytestmark = pytest.mark.slow  # the browser and page fixtures: tests/web/conftest.py


def _loaded(page: Any, locator: Any) -> None:
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=locator.element_handle()
    )


def test_filter_objects_open_one_and_class_it(live: Live, page: Any, artifacts: Path) -> None:
    from playwright.sync_api import expect

    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live.url) else None
        ),
    )
    page.goto(f"{live.url}/objects")
    page.fill("#credential", live.env.keys["curator"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/objects")
    objects = list_objects(live.env.service.catalog, limit=100)
    expect(page.get_by_test_id("object-count")).to_have_text(f"{len(objects)} objects")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Objects")

    page.fill("input[name=min_detections]", "3")
    page.press("input[name=min_detections]", "Enter")
    expect(page.get_by_test_id("object-count")).to_have_text("0 objects")
    assert "min_detections=3" in page.url, "the filter is in the address"
    page.fill("input[name=min_detections]", "2")
    page.press("input[name=min_detections]", "Enter")
    expect(page.get_by_test_id("object-count")).to_have_text(f"{len(objects)} objects")

    newest = objects[0]
    # a reference image with a WCS rotated by 30°: the finder chart cut from it has arrows
    env = live.env
    store_reference_image(
        env.service.catalog,
        env.service.store,
        env.seeded.reference_id,
        ra=newest.ra,
        dec=newest.dec,
        rotation_deg=30.0,
    )
    page.click(f"tr[data-object-id='{newest.id}'] a")
    page.wait_for_url(f"{live.url}/objects/{newest.name}")
    _loaded(page, page.get_by_test_id("finder-image"))
    marks = page.get_by_test_id("finder-marks")
    expect(marks.locator(".crosshair circle.ring")).to_have_count(1)
    expect(marks.locator("line.arrow-N")).to_have_count(1)
    expect(marks.locator(".scale-bar text")).to_have_text("30″")
    expect(page.get_by_test_id("finder")).to_contain_text("reference image · ref_r")
    history = page.get_by_test_id("cutout-history").locator("tbody tr")
    expect(history).to_have_count(newest.n_detections)
    for img in history.locator("img").all():
        img.scroll_into_view_if_needed()
        _loaded(page, img)

    labels = page.get_by_test_id("object-labels")
    expect(labels).to_contain_text("No class yet.")
    page.fill("#object-label-comment", "host-centred, blue")
    labels.locator("button[data-label=tde]").click()
    expect(labels).to_contain_text("TDE")
    expect(labels).to_contain_text("curator-user")
    stored = object_labels_of(live.env.service.catalog, newest.id)
    assert [(x.label, x.comment) for x in stored] == [("tde", "host-centred, blue")]
    # the class buttons have no keyboard shortcut: a key press classes nothing
    page.locator("h1").click()
    page.keyboard.press("b")
    assert len(object_labels_of(live.env.service.catalog, newest.id)) == 1

    shot = artifacts / "object-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert outside == [], f"requests left the server: {outside}"
