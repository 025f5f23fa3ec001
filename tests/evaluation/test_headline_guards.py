"""Fixed-seed guards for the headline detection figures of docs/quality.md and evaluation.md.

The documented figures come from benchmarks run by hand (2048² simulated fields, the GOTO
pair with 500 fakes); these tests recompute small versions of them with fixed seeds on every
run and assert them near the values measured when the guards were written, so a change that
moves a headline number fails here instead of only in the next benchmark run. Each bound
carries the measured value; none is a timing.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from astrid.difference.subtract import subtract
from astrid.evaluation.scoring import match_to_truth
from astrid.preprocess.pair import prepare_pair
from astrid.simulation import SimulationConfig, simulate_pair

log = logging.getLogger(__name__)

# The 2048² benchmark field of docs/quality.md scaled to a quarter of its area (same
# densities of stars, galaxies, injections, cosmic rays and hot pixels; the default two
# bad column segments).
_SCALE = 0.25
FIELD_1024 = SimulationConfig(
    shape=(1024, 1024),
    n_stars=int(1500 * _SCALE),
    n_galaxies=int(300 * _SCALE),
    n_transients=int(200 * _SCALE),
    n_transients_on_galaxies=int(50 * _SCALE),
    n_cosmic_rays=int(40 * _SCALE),
    n_hot_pixels=int(30 * _SCALE),
)


@pytest.fixture(scope="module")
def field_score() -> dict[str, Any]:
    sim = simulate_pair(FIELD_1024, seed=0)
    sub = subtract(prepare_pair(sim.science, sim.reference))
    score = match_to_truth(sim.truth, sub.candidates)
    kinds = np.asarray(sim.truth["kind"]).astype(str)
    snr = np.asarray(sim.truth["snr"], float)[np.char.startswith(kinds, "transient")]
    score["n_bright"] = int(np.sum(snr >= 20))
    shown = {k: v for k, v in score.items() if k not in ("found", "bogus_mask", "completeness")}
    log.info("1024² field, seed 0: %s", shown)
    return score


def test_false_candidates_per_frame(field_score: dict[str, Any]) -> None:
    # docs/quality.md: 10.2 false candidates per 2048² frame (8-14 over five seeds), i.e.
    # ≈ 2.6 per 1024². Measured here (seed 0): 1 of 72 candidates. A regression of the
    # kind the docs record (saturated-star residuals: 70-160 per 2048² frame) or a
    # mis-normalised S_corr would put many more here.
    assert field_score["n_bogus"] <= 6
    # The candidates are the injections: 71 real or variable of 72.
    assert field_score["n_real_matched"] + field_score["n_variable_matched"] >= 60


def test_completeness_near_the_matched_filter_optimum(field_score: dict[str, Any]) -> None:
    # docs/quality.md: efficiency vs Φ(SNR − 5) 0.927-0.967 on 2048² fields. Measured
    # here: 0.996 (62 injections); complete at SNR ≥ 8: 0.971.
    assert 0.90 <= field_score["efficiency_vs_optimum"] <= 1.08
    assert field_score["completeness_snr_ge_8"] >= 0.94


def test_astrometry_and_photometry_of_bright_injections(field_score: dict[str, Any]) -> None:
    # docs/quality.md: astrometry RMS 0.094-0.123″ at SNR ≥ 20 (isolated ≈ 0.08″); flux
    # ratio 0.995-1.012 per 2048² seed. Measured here (19 injections at SNR ≥ 20): 0.087″,
    # 1.024. The median of 19 fluxes at SNR 20-40 scatters by ~1.3 % from one noise draw to
    # the next: the galaxy-core fix of the simulator (2026-12-06) changed every pixel's
    # Poisson draw and moved this median from 1.001 to 1.024, with the same code. Hence 3 %,
    # which still fails a PSF or scaling error of the kind that matters (≥ 5 %).
    assert field_score["n_bright"] >= 15
    assert 0.05 <= field_score["astrometry_rms_arcsec_snr_ge_20"] <= 0.12
    assert abs(field_score["flux_ratio_median_snr_ge_20"] - 1.0) <= 0.03


def _goto_dir() -> Path:
    spec = importlib.util.find_spec("zogyp")
    if spec is None or spec.origin is None:
        pytest.skip("zogyp is not installed (pip install --no-deps zogyp): no GOTO frames")
    return Path(spec.origin).parent / "test"


@pytest.mark.slow
def test_goto_completeness_seed_0() -> None:
    from astrid.evaluation.evaluate import EvaluationConfig, evaluate_pair
    from astrid.observations.fits_reader import read_image

    base = _goto_dir()
    result = evaluate_pair(
        read_image(base / "2.fits"),
        read_image(base / "1.fits"),
        EvaluationConfig(n_fakes=500, seed=0),
    )
    s = result.summary
    keys = ("completeness", "efficiency_vs_optimum", "false_candidates_per_frame")
    keys += ("astrometry_rms_arcsec_snr_ge_20", "flux_ratio_median_snr_ge_20")
    log.info("GOTO pair, seed 0, 500 fakes: %s", {k: s.get(k) for k in keys})
    # docs/evaluation.md, seed 0, 500 fakes: completeness 0.770, efficiency 0.983, 316
    # candidates on the plain pair, astrometry 0.183″, flux ratio 1.015. Before the PSF
    # stars' stellar-locus fix (2026-12-06) the model came from fewer stars: 598
    # candidates and 0.274″ at the same efficiency 0.984 (completeness 0.796: the fakes'
    # SNR, hence their draw, follows the measured PSF). A return to that model fails here.
    assert s["completeness"] == pytest.approx(0.770, abs=0.02)
    assert s["efficiency_vs_optimum"] == pytest.approx(0.983, abs=0.025)
    assert 280 <= s["false_candidates_per_frame"] <= 360
    assert s["astrometry_rms_arcsec_snr_ge_20"] <= 0.22
    assert abs(s["flux_ratio_median_snr_ge_20"] - 1.0) <= 0.03
