"""Reference stars of a field from Pan-STARRS1 (VizieR ``II/349/ps1`` through TAP), cached
per field, and runs calibrated against them.

The answers are built here in the format TAPVizieR's ``/sync`` resource returns for that
table (a VOTable 1.4 with the ``RAJ2000, DEJ2000, <band>mag, e_<band>mag`` columns and
QUERY_STATUS OK), holding the simulated field's own stars: synthetic values in the real
layout. A local server plays VizieR; the network is never reached.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.io.votable.tree import Info, VOTableFile
from astropy.table import Table

from astrid.catalog import connect
from astrid.catalog.observations import observations
from astrid.config import Settings
from astrid.context.online.reference_stars import PS1, reference_stars
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.photometric_reference import field_circle
from astrid.pipeline.runner import Pipeline
from astrid.simulation import SimulatedPair, simulate_pair
from astrid.simulation.config import SCIENCE_ZERO_POINT
from astrid.store import ObjectStore
from small_field import SMALL_FIELD

from .conftest import Answer, RecordedServer, Request

SYNC = "/vizier/sync"


def ps1_votable(stars: Table) -> bytes:
    """A TAPVizieR answer for II/349/ps1 holding these stars (true mags as PS1 r, g = r + 0.5)."""
    n = len(stars)
    rng = np.random.default_rng(1)
    r = np.asarray(stars["mag"], float) + rng.normal(0.0, 0.02, n)
    table = Table(
        {
            "RAJ2000": np.asarray(stars["ra"], float),
            "DEJ2000": np.asarray(stars["dec"], float),
            "gmag": r + 0.5,
            "e_gmag": np.full(n, 0.02),
            "rmag": r,
            "e_rmag": np.full(n, 0.02),
        }
    )
    for name in ("RAJ2000", "DEJ2000"):
        table[name].unit = "deg"
    for name in ("gmag", "e_gmag", "rmag", "e_rmag"):
        table[name].unit = "mag"
    votable = VOTableFile.from_table(table)
    votable.resources[0].type = "results"
    votable.resources[0].infos.append(Info(name="QUERY_STATUS", value="OK"))
    out = io.BytesIO()
    votable.to_xml(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def sim() -> SimulatedPair:
    return simulate_pair(SMALL_FIELD, seed=3)


def _stars(sim: SimulatedPair) -> Table:
    return sim.truth[sim.truth["kind"] == "star"]


def test_a_field_is_asked_for_once_and_then_read_from_the_cache(
    recorded_server: RecordedServer, sim: SimulatedPair, tmp_path: Path
) -> None:
    recorded_server.serve(SYNC, Answer(ps1_votable(_stars(sim))))
    ps1 = replace(PS1, url=f"{recorded_server.url}/vizier", timeout_s=5)
    ra, dec, radius = field_circle(sim.science)
    first = reference_stars(ps1, ra, dec, radius, "r", cache_dir=tmp_path)
    again = reference_stars(ps1, ra, dec, radius, "r", cache_dir=tmp_path)
    assert len(first) == len(again) == len(_stars(sim))
    np.testing.assert_allclose(np.asarray(again["rmag"]), np.asarray(first["rmag"]))
    (request,) = recorded_server.seen(SYNC)
    adql = request.params["QUERY"]
    assert 'FROM "II/349/ps1"' in adql and "AND rmag < 21" in adql
    circle = re.search(r"CIRCLE\('ICRS', ([^,]+), ([^,]+), ([^)]+)\)", adql)
    assert circle is not None
    assert [float(v) for v in circle.groups()] == pytest.approx([ra, dec, radius])
    assert len(list(tmp_path.glob("ps1_r_*.ecsv"))) == 1


def test_the_field_circle_holds_the_whole_frame(sim: SimulatedPair) -> None:
    ra, dec, radius = field_circle(sim.science)
    ny, nx = sim.science.shape
    corners_ra, corners_dec = sim.science.wcs.all_pix2world([0, nx - 1], [0, ny - 1], 0)
    from astropy.coordinates import SkyCoord

    sep = SkyCoord(ra, dec, unit="deg").separation(SkyCoord(corners_ra, corners_dec, unit="deg"))
    assert np.all(sep.deg < radius) and radius < 2 * float(np.max(sep.deg)) + 0.02


def test_an_error_answer_is_a_problem_naming_the_service_and_nothing_is_cached(
    recorded_server: RecordedServer, tmp_path: Path
) -> None:
    recorded_server.serve_file(SYNC, "tap_error.xml")
    ps1 = replace(PS1, url=f"{recorded_server.url}/vizier", timeout_s=5)
    with pytest.raises(OnlineServiceError, match=r"ps1: query of II/349/ps1 at http"):
        reference_stars(ps1, 150.0, 2.0, 0.2, "r", cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ConfigurationError, match="no u-band magnitudes"):
        reference_stars(ps1, 150.0, 2.0, 0.2, "u", cache_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="radius"):
        reference_stars(ps1, 150.0, 2.0, 30.0, "r", cache_dir=tmp_path)


def test_an_answer_without_the_band_is_a_problem(
    recorded_server: RecordedServer, tmp_path: Path
) -> None:
    recorded_server.serve_file(SYNC, "vizier_gaiadr3.xml")  # another table's columns
    ps1 = replace(PS1, url=f"{recorded_server.url}/vizier", timeout_s=5)
    with pytest.raises(OnlineServiceError, match="lacks RAJ2000 or rmag"):
        reference_stars(ps1, 150.0, 2.0, 0.2, "r", cache_dir=tmp_path)


def _pipeline(tmp_path: Path, server: RecordedServer) -> Pipeline:
    settings = Settings(
        data_dir=tmp_path / "data",
        photometric_service="ps1",
        context_vizier_url=f"{server.url}/vizier",
        photometric_timeout_s=5,
    )
    config = PipelineConfig.from_settings(settings)
    assert config.photometric_service is not None
    catalog = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    return Pipeline(catalog, ObjectStore(str(tmp_path / "store")), config, workers=1)


def test_a_run_is_calibrated_against_the_survey_stars_of_its_field(
    recorded_server: RecordedServer, sim: SimulatedPair, tmp_path: Path
) -> None:
    recorded_server.serve(SYNC, Answer(ps1_votable(_stars(sim))))
    paths = sim.write(tmp_path / "inputs")
    pipeline = _pipeline(tmp_path, recorded_server)
    with pipeline.catalog:
        report = pipeline.run(paths["reference"], [paths["science"]], tmp_path / "out")
        assert not report.failed
        (science,) = observations(pipeline.catalog, role="science")
    assert science.zero_point_source == "catalogue" and science.zero_point is not None
    assert abs(science.zero_point - SCIENCE_ZERO_POINT) < 0.1
    assert len(recorded_server.seen(SYNC)) == 1
    assert list((tmp_path / "data" / "reference_stars").glob("ps1_r_*.ecsv"))


def test_a_survey_that_does_not_answer_leaves_the_frame_uncalibrated_not_failed(
    recorded_server: RecordedServer,
    sim: SimulatedPair,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def slow(request: Request) -> Answer:
        return Answer(b"", delay_s=7.0)

    recorded_server.serve(SYNC, slow)
    paths = sim.write(tmp_path / "inputs")
    pipeline = _pipeline(tmp_path, recorded_server)
    with caplog.at_level(logging.WARNING), pipeline.catalog:
        report = pipeline.run(paths["reference"], [paths["science"]], tmp_path / "out")
        assert not report.failed and report.frames[0].n_candidates > 0
        (science,) = observations(pipeline.catalog, role="science")
    # the frame keeps its header's zero point (MAGZP), and the log says why
    assert science.zero_point_source == "header" and science.zero_point == SCIENCE_ZERO_POINT
    assert "not calibrated against a reference catalogue: ps1: no answer" in caplog.text
