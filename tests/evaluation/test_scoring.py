"""Tests of candidate scoring: agreement with the project's reference scorer
(``shared/eval/score.py``) on the same files, and hand-built cases."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from scipy.stats import norm

from astrid.evaluation.scoring import match_to_truth
from astrid.simulation import SimulationConfig, simulate_pair

REFERENCE_SCORER = Path(__file__).resolve().parents[3] / "shared" / "eval" / "score.py"

CONFIG = SimulationConfig(
    shape=(256, 256),
    n_stars=40,
    n_galaxies=6,
    n_transients=30,
    n_transients_on_galaxies=3,
    n_variables=6,
    n_cosmic_rays=5,
    n_hot_pixels=3,
    n_bad_columns=1,
)


def _offset(ra: float, dec: float, arcsec: float, angle: float) -> tuple[float, float]:
    """The position `arcsec` away from (ra, dec) towards position angle `angle` (rad)."""
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(
        angle * u.rad, arcsec * u.arcsec
    )
    return float(moved.ra.deg), float(moved.dec.deg)


def _synthetic_candidates(truth: Table, rng: np.random.Generator) -> Table:
    """Candidates as a pipeline might report them: most transients, some variables, a
    near miss, a duplicate, artifacts and random bogus detections."""
    kinds = np.asarray(truth["kind"]).astype(str)
    rows: list[tuple[float, float, float]] = []
    for k in np.flatnonzero(np.char.startswith(kinds, "transient")):
        ra, dec, flux = float(truth["ra"][k]), float(truth["dec"][k]), float(truth["flux"][k])
        draw = rng.uniform()
        if draw < 0.7:  # found, with astrometric and photometric scatter
            sep = abs(rng.normal(0.0, 0.2))
            rows.append(
                (*_offset(ra, dec, sep, rng.uniform(0, 2 * np.pi)), flux * rng.normal(1, 0.03))
            )
        elif draw < 0.8:  # a near miss just outside the match radius
            rows.append((*_offset(ra, dec, 1.7, rng.uniform(0, 2 * np.pi)), flux))
    first = np.flatnonzero(np.char.startswith(kinds, "transient"))[0]
    rows.append((*_offset(float(truth["ra"][first]), float(truth["dec"][first]), 0.9, 1.0), 1.0))
    for k in np.flatnonzero(kinds == "variable")[:4]:
        sep = 1.8 if k % 2 else 0.3  # 1.8″: a variable match (2″) but not a transient one
        rows.append((*_offset(float(truth["ra"][k]), float(truth["dec"][k]), sep, 0.3), -500.0))
    for k in np.flatnonzero(np.isin(kinds, ["cosmic_ray", "hot_pixel", "star"]))[:6]:
        rows.append((float(truth["ra"][k]), float(truth["dec"][k]), 100.0))
    ra0, dec0 = float(np.nanmean(truth["ra"])), float(np.nanmean(truth["dec"]))
    for _ in range(10):
        rows.append((ra0 + rng.uniform(-0.02, 0.02), dec0 + rng.uniform(-0.02, 0.02), 50.0))
    ra, dec, flux = (np.array(c) for c in zip(*rows, strict=True))
    return Table(
        {"ra": ra, "dec": dec, "flux": flux, "x": np.zeros(len(ra)), "snr": np.ones(len(ra))}
    )


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, float) and math.isnan(theirs):
        return isinstance(ours, float) and math.isnan(ours)
    if isinstance(theirs, float):
        return ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    if isinstance(theirs, list):
        return len(ours) == len(theirs) and all(
            _same(a, b) for a, b in zip(ours, theirs, strict=True)
        )
    if isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_same(ours[k], theirs[k]) for k in theirs)
    return bool(ours == theirs)


@pytest.mark.skipif(
    not REFERENCE_SCORER.exists(), reason=f"reference scorer not found at {REFERENCE_SCORER}"
)
@pytest.mark.parametrize("seed", [4, 5])
def test_agrees_with_the_reference_scorer_on_the_same_files(tmp_path: Path, seed: int) -> None:
    sim = simulate_pair(CONFIG, seed=seed)
    truth = sim.truth.copy()
    # An artifact without sky coordinates, as real truth files may hold.
    truth.add_row(
        {
            "kind": "hot_pixel",
            "ra": np.nan,
            "dec": np.nan,
            "x": 3.0,
            "y": 4.0,
            "flux": 1.0,
            "snr": 1.0,
        }
    )
    candidates = _synthetic_candidates(truth, np.random.default_rng(seed))
    truth_csv, cand_csv = tmp_path / "truth.csv", tmp_path / "candidates.csv"
    truth.write(truth_csv, format="ascii.csv")
    candidates.write(cand_csv, format="ascii.csv")

    proc = subprocess.run(
        [sys.executable, str(REFERENCE_SCORER), str(truth_csv), str(cand_csv)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    theirs = json.loads(proc.stdout)
    ours = match_to_truth(
        Table.read(truth_csv, format="ascii.csv"), Table.read(cand_csv, format="ascii.csv")
    )
    common = set(ours) & set(theirs)
    # Every figure the reference reports without ML scores, ours reports too.
    assert set(theirs) - common == set()
    assert {"n_bogus", "n_variable_matched", "efficiency_vs_optimum", "completeness"} <= common
    for key in sorted(common):
        assert _same(ours[key], theirs[key]), (key, ours[key], theirs[key])
    # The synthetic scene exercises every branch: finds, misses, variables, bogus.
    assert 0 < theirs["n_real_matched"] < len(candidates)
    assert theirs["n_variable_matched"] >= 2 and theirs["n_bogus"] >= 15
    assert "flux_ratio_median_snr_ge_20" in common


def _table(rows: list[tuple[str, float, float, float, float]]) -> Table:
    kind, ra, dec, flux, snr = zip(*rows, strict=True)
    n = len(rows)
    return Table(
        {
            "kind": kind,
            "ra": ra,
            "dec": dec,
            "x": np.zeros(n),
            "y": np.zeros(n),
            "flux": flux,
            "snr": snr,
        }
    )


RA, DEC = 150.0, 2.0


def test_hand_built_found_bogus_and_variable() -> None:
    truth = _table(
        [
            ("transient", RA, DEC, 1000.0, 25.0),
            ("transient_on_galaxy", RA + 0.01, DEC, 300.0, 9.0),
            ("variable", RA, DEC + 0.01, -800.0, -12.0),
            ("star", RA + 0.01, DEC + 0.01, 5e4, 400.0),
            ("cosmic_ray", np.nan, np.nan, 10.0, 6.0),
        ]
    )
    found_ra, found_dec = _offset(RA, DEC, 0.5, 0.0)
    var_ra, var_dec = _offset(RA, DEC + 0.01, 1.8, 2.0)
    candidates = Table(
        {
            "ra": [found_ra, var_ra, RA + 0.01, RA - 0.01],
            "dec": [found_dec, var_dec, DEC + 0.01, DEC - 0.01],
            "flux": [1040.0, -700.0, 10.0, 5.0],
        }
    )
    report = match_to_truth(truth, candidates)
    assert report["n_candidates"] == 4
    assert report["found"] == [True, False]
    assert report["n_real_matched"] == 1
    assert report["n_variable_matched"] == 1
    assert report["n_bogus"] == 2  # the one on a (non-variable) star and the empty one
    assert report["bogus_mask"] == [False, False, True, True]
    assert report["purity"] == pytest.approx(2 / 4)
    assert report["completeness_all"] == pytest.approx(0.5)
    optimum = (norm.cdf(20.0) + norm.cdf(4.0)) / 2
    assert report["optimum_all"] == pytest.approx(optimum)
    assert report["efficiency_vs_optimum"] == pytest.approx(0.5 / optimum)
    assert report["completeness_snr_ge_8"] == pytest.approx(0.5)
    assert report["completeness_on_galaxy_snr_ge_8"] == pytest.approx(0.0)
    assert report["flux_ratio_median_snr_ge_20"] == pytest.approx(1.04)
    assert report["flux_ratio_mad_snr_ge_20"] == pytest.approx(0.0)
    assert report["astrometry_rms_arcsec_snr_ge_20"] == pytest.approx(0.5, abs=1e-6)
    bins = {row["snr"]: row for row in report["completeness"]}
    assert set(bins) == {"8-10", "20-60"}
    assert bins["20-60"]["completeness"] == 1.0 and bins["8-10"]["completeness"] == 0.0


def test_match_radius_and_no_candidates() -> None:
    truth = _table([("transient", RA, DEC, 1000.0, 30.0)])
    near = Table({"ra": [_offset(RA, DEC, 1.4, 0.5)[0]], "dec": [_offset(RA, DEC, 1.4, 0.5)[1]]})
    far = Table({"ra": [_offset(RA, DEC, 1.6, 0.5)[0]], "dec": [_offset(RA, DEC, 1.6, 0.5)[1]]})
    assert match_to_truth(truth, near)["found"] == [True]
    assert match_to_truth(truth, far)["found"] == [False]
    assert match_to_truth(truth, far, radius_arcsec=2.0)["found"] == [True]
    # Without a flux column, photometry is skipped but astrometry is not.
    report = match_to_truth(truth, near)
    assert "flux_ratio_median_snr_ge_20" not in report
    assert report["astrometry_rms_arcsec_snr_ge_20"] == pytest.approx(1.4, abs=1e-6)
    empty = match_to_truth(truth, Table({"ra": np.zeros(0), "dec": np.zeros(0)}))
    assert empty["n_candidates"] == 0 and empty["n_bogus"] == 0
    assert empty["completeness_all"] == 0.0 and math.isnan(empty["purity"])
