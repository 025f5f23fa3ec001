"""The web page in a real browser: the system Chromium, headless, driven by Playwright.

Logs in with an API key, filters the candidate list, opens a candidate (its screenshot is
saved under $TEST_ARTIFACTS, default a pytest temp folder) and labels three candidates in
review mode with the keyboard, then checks the labels in the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from astrid.catalog.curation import labels_of
from service_env import Live

pytestmark = pytest.mark.slow  # the browser and page fixtures: tests/web/conftest.py


def _login(page: Any, live: Live, role: str) -> None:
    page.goto(f"{live.url}/candidates")
    assert "/login" in page.url, "a page needs a login"
    page.fill("#credential", live.env.keys[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/candidates")
    assert page.text_content("[data-testid=user]") == f"{role}-user"


def test_login_filter_open_and_screenshot(live: Live, page: Any, artifacts: Path) -> None:
    from playwright.sync_api import expect

    _login(page, live, "viewer")
    n = len(live.env.seeded.candidate_ids)
    expect(page.get_by_test_id("count")).to_have_text(f"{n} candidates")

    page.select_option("select[name=sign]", "-1")
    fainter = [c for c in _all_candidates(live) if c["sign"] == -1]
    expect(page.get_by_test_id("count")).to_have_text(f"{len(fainter)} candidates")
    assert "sign=-1" in page.url, "the filter is in the address"
    rows = page.locator("table[data-testid=candidates] tbody tr[data-candidate-id]")
    expect(rows).to_have_count(len(fainter))
    shown = {int(rows.nth(i).get_attribute("data-candidate-id")) for i in range(rows.count())}
    assert shown == {c["id"] for c in fainter}

    first = rows.first.get_attribute("data-candidate-id")
    rows.first.locator("td a").nth(1).click()
    page.wait_for_url(f"{live.url}/candidates/{first}")
    for kind in ("science", "reference", "difference"):
        image = page.get_by_test_id(f"cutout-{kind}")
        expect(image).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
    # the crosshair over each cutout, hidden and shown again with the "marks" box
    marks = page.locator("svg.marks")
    expect(marks).to_have_count(3)
    expect(marks.first.locator(".crosshair line")).to_have_count(4)
    expect(marks.first).to_be_visible()
    page.uncheck("input[data-marks]")
    expect(marks.first).to_be_hidden()
    page.check("input[data-marks]")
    expect(marks.first).to_be_visible()
    # the zoom slider still scales the images, and the marks with them
    page.fill("input[data-zoom]", "2")
    box = marks.first.bounding_box()
    assert box is not None and box["width"] == pytest.approx(504, abs=2)
    expect(page.get_by_test_id("features")).to_contain_text("psf_chi2")
    expect(page.get_by_test_id("neighbours").locator("li")).to_have_count(1)
    expect(page.get_by_test_id("consensus")).to_contain_text("unlabelled")
    # a viewer sees no label buttons and no review link
    assert page.locator("#label-history button[data-key]").count() == 0
    assert page.locator("nav a[href='/review']").count() == 0
    shot = artifacts / "candidate-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_dashboard_to_run_to_its_candidates(live: Live, page: Any, artifacts: Path) -> None:
    from playwright.sync_api import expect

    _login(page, live, "viewer")
    run_id = live.env.seeded.run_ids[0]
    page.goto(f"{live.url}/")
    runs = page.get_by_test_id("runs")
    expect(runs).to_contain_text("sci_r_0")
    runs.locator(f"a[href='/runs/{run_id}']").click()
    page.wait_for_url(f"{live.url}/runs/{run_id}")
    expect(page.get_by_test_id("timings")).to_contain_text("preprocess")
    expect(page.get_by_test_id("science-file")).to_have_text("sci_r_0")
    page.get_by_test_id("run-candidates").click()
    page.wait_for_url(f"{live.url}/candidates?run_id={run_id}")
    expect(page.get_by_test_id("count")).to_have_text("12 candidates")
    header = page.locator("table[data-testid=candidates] thead")
    expect(header).to_contain_text("RA")
    expect(header.locator("a.sorted")).to_have_text("|S_corr| ▼")
    # the table spans the page
    table = page.get_by_test_id("candidates").bounding_box()
    assert table is not None and table["width"] > 1100
    page.screenshot(path=str(artifacts / "candidate-list.png"))


def _all_candidates(live: Live) -> list[dict[str, Any]]:
    r = live.env.client.get(
        "/api/v1/candidates", params={"limit": 1000}, headers=live.env.headers("viewer")
    )
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_review_three_with_the_keyboard(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    _login(page, live, "curator")
    page.goto(f"{live.url}/review")
    card = page.get_by_test_id("review-card")
    # hiding the marks leaves the focus on their checkbox: the label keys still work, and
    # the next cards keep the marks hidden
    page.click("input[data-marks]")
    expect(card.locator("svg.marks").first).to_be_hidden()
    labelled: dict[int, str] = {}
    for key, label in (("r", "real"), ("b", "bogus"), ("v", "variable")):
        shown = int(card.get_attribute("data-candidate-id"))
        assert shown not in labelled, "review moves on to a new candidate"
        page.keyboard.press(key)
        expect(card).not_to_have_attribute("data-candidate-id", str(shown))
        labelled[shown] = label
        expect(page.get_by_test_id("progress")).to_contain_text(f"labelled by you: {len(labelled)}")

    expect(card.locator("svg.marks").first).to_be_hidden()
    expect(card.locator("input[data-marks]")).not_to_be_checked()
    stored = labels_of(live.env.service.catalog, list(labelled))
    assert {cid: [lbl.label for lbl in stored[cid]] for cid in stored} == {
        cid: [label] for cid, label in labelled.items()
    }
    assert all(lbl.curator == "curator-user" for rows in stored.values() for lbl in rows)

    # A key pressed the moment a new card appears (a fast curator) is not lost: the card's
    # buttons are wired in the same step that puts it on the page (htmx settles at once).
    assert page.evaluate("htmx.config.defaultSettleDelay") == 0
    swaps = page.evaluate(
        """() => new Promise(resolve => {
            let seen = 0;
            const observer = new MutationObserver(() => {
                if (!document.getElementById("review-card")) return;
                seen += 1;
                if (seen === 1) {
                    document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowRight"}));
                } else {
                    observer.disconnect();
                    resolve(seen);
                }
            });
            observer.observe(document.querySelector("main"), {childList: true, subtree: true});
            document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowRight"}));
            setTimeout(() => { observer.disconnect(); resolve(seen); }, 5000);
        })"""
    )
    assert swaps == 2, "the key pressed as the second card appeared was lost"

    # the arrow key skips without labelling
    skipped = int(card.get_attribute("data-candidate-id"))
    page.keyboard.press("ArrowRight")
    expect(card).not_to_have_attribute("data-candidate-id", str(skipped))
    assert skipped not in labels_of(live.env.service.catalog, [skipped])


def test_label_from_the_candidate_page(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    _login(page, live, "curator")
    cid = live.env.seeded.candidate_ids[4]
    page.goto(f"{live.url}/candidates/{cid}")
    page.fill("#label-comment", "looks like a ghost")
    page.click("#label-history button[data-key=p]")
    expect(page.get_by_test_id("consensus")).to_contain_text("psf_ring")
    stored = labels_of(live.env.service.catalog, [cid])[cid]
    assert [(lbl.label, lbl.comment) for lbl in stored] == [("psf_ring", "looks like a ghost")]
