"""The API over rows the pipeline wrote, served over real HTTP (uvicorn on a local port).

The other API tests read rows that a fixture inserts directly; here ``astrid run`` processes a
simulated pair into a fresh data directory, the service opens that directory, and an HTTP
client reads back what the run produced: the candidate list matches ``candidates.csv``,
details carry features and cutouts that decode, cone search finds each candidate at its own
position, and the run and observations are listed with their products.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from astrid.cli import app
from astrid.simulation import simulate_pair
from service_env import Live, build_env, serve_live
from small_field import SMALL_FIELD

API = "/api/v1"


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline-rows")
    inputs = simulate_pair(SMALL_FIELD, seed=5).write(root / "inputs")
    args = ["run", "--reference", str(inputs["reference"]), "--out", str(root / "out")]
    args += ["--data-dir", str(root / "data"), str(inputs["science"])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def live(produced: Path) -> Iterator[Live]:
    for env in build_env(produced / "data", seed_catalog=False):
        with serve_live(env) as live:
            yield live


@pytest.fixture(scope="module")
def http(live: Live) -> Iterator[httpx.Client]:
    headers = {"X-API-Key": live.env.keys["viewer"]}
    with httpx.Client(base_url=live.url, headers=headers, timeout=30) as client:
        yield client


def _csv_rows(produced: Path) -> list[dict[str, str]]:
    with (produced / "out" / "candidates.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _all(http: httpx.Client) -> list[dict[str, Any]]:
    r = http.get(f"{API}/candidates", params={"limit": 1000})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_candidate_list_is_what_the_run_wrote(produced: Path, http: httpx.Client) -> None:
    rows = _csv_rows(produced)
    items = _all(http)
    assert len(rows) >= 5
    assert len(items) == len(rows)
    from_csv = sorted((round(float(r["x"]), 3), round(float(r["y"]), 3)) for r in rows)
    from_api = sorted((round(c["x"], 3), round(c["y"], 3)) for c in items)
    assert from_api == from_csv
    by_xy = {(round(float(r["x"]), 3), round(float(r["y"]), 3)): r for r in rows}
    for c in items:
        row = by_xy[(round(c["x"], 3), round(c["y"], 3))]
        assert c["ra"] == pytest.approx(float(row["ra"]), abs=1e-9)
        assert c["scorr"] == pytest.approx(float(row["scorr"]), rel=1e-5)
        assert c["scores"]["rb"] == pytest.approx(float(row["rb"]), abs=1e-6)
        assert c["fwhm"] == pytest.approx(float(row["fwhm"]), rel=1e-5)


def test_detail_features_and_cutouts_decode(http: httpx.Client) -> None:
    first = max(_all(http), key=lambda c: abs(c["scorr"]))
    r = http.get(f"{API}/candidates/{first['id']}")
    assert r.status_code == 200, r.text
    detail = r.json()
    assert set(detail["cutouts"]) == {"science", "reference", "difference"}
    assert detail["features"] and np.isfinite(detail["fwhm"])
    r = http.get(f"{API}/candidates/{first['id']}/cutouts/difference.fits")
    assert r.status_code == 200
    with fits.open(io.BytesIO(r.content)) as hdul:
        stamp = hdul[0].data
    assert stamp.shape == (63, 63)
    # the difference stamp is centred on the candidate: its extremum is near the middle
    peak = np.unravel_index(np.nanargmax(np.abs(stamp)), stamp.shape)
    assert abs(peak[0] - 31) <= 3 and abs(peak[1] - 31) <= 3
    r = http.get(f"{API}/candidates/{first['id']}/cutouts/science.png")
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_cone_search_finds_each_candidate_at_its_position(http: httpx.Client) -> None:
    for c in _all(http)[:10]:
        r = http.get(f"{API}/candidates/cone", params={"ra": c["ra"], "dec": c["dec"], "radius": 1})
        assert r.status_code == 200, r.text
        matches = r.json()
        assert matches[0]["candidate"]["id"] == c["id"]
        assert matches[0]["separation_arcsec"] < 1e-3


def test_run_and_observations_are_listed(http: httpx.Client, produced: Path) -> None:
    (run,) = http.get(f"{API}/runs").json()
    assert run["status"] == "done"
    assert run["n_candidates"] == len(_csv_rows(produced))
    assert run["timings"] and all(v >= 0 for v in run["timings"].values())
    observations = http.get(f"{API}/observations").json()
    assert len(observations) == 2  # the science frame and its reference
    science = next(o for o in observations if o["id"] == run["science_id"])
    r = http.get(f"{API}/observations/{science['id']}/file")
    assert r.status_code == 200 and r.content[:6] == b"SIMPLE"


def test_unauthenticated_requests_are_refused_over_http(live: Live) -> None:
    r = httpx.get(f"{live.url}{API}/candidates", timeout=30)
    assert r.status_code == 401
