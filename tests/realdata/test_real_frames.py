"""The pipeline on real frames: DECam cutouts (shared/data) and the GOTO pair (zogyp wheel).

These skip with a reason when the data are absent. Numbers asserted here are loose
regression bounds; the measured values are in docs/quality.md.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from astrid.difference.subtract import Subtraction, subtract
from astrid.evaluation.scoring import match_to_truth
from astrid.observations.fits_reader import read_image
from astrid.observations.image import Image
from astrid.preprocess.pair import PreparedPair, prepare_pair
from astrid.simulation import inject_fakes

GotoPair = tuple[Image, Image, PreparedPair, Subtraction]

DECAM = Path(__file__).resolve().parents[3] / "shared" / "data" / "decam"


def _goto_dir() -> Path:
    spec = importlib.util.find_spec("zogyp")
    if spec is None or spec.origin is None:
        pytest.skip("zogyp is not installed (pip install --no-deps zogyp) : no GOTO frames")
    return Path(spec.origin).parent / "test"


@pytest.fixture(scope="module")
def goto_pair() -> GotoPair:
    base = _goto_dir()
    reference, science = read_image(base / "1.fits"), read_image(base / "2.fits")
    pair = prepare_pair(science, reference)
    return science, reference, pair, subtract(pair)


@pytest.mark.parametrize(
    ("science", "reference"), [("DEC-OBS04a", "DEC-OBS04e"), ("DEC-OBS18d", "DEC-OBS18c")]
)
def test_decam_same_field_difference_is_noise(science: str, reference: str) -> None:
    if not DECAM.is_dir():
        pytest.skip(f"real DECam frames not available at {DECAM}")
    sci = read_image(DECAM / f"{science}.fits")
    ref = read_image(DECAM / f"{reference}.fits")
    pair = prepare_pair(sci, ref)
    sub = subtract(pair)
    assert pair.alignment.n_matched >= 5
    assert np.hypot(*pair.alignment.residual_rms) < 0.3
    # Resampled frames: correlated noise, so the white-noise S_corr spread is not exactly 1.
    assert 0.85 < sub.stats["scorr_robust_std_raw"] < 1.25
    assert abs(sub.stats["scorr_mean"]) < 0.15
    # Nothing changed between these frames: only a handful of candidates.
    assert len(sub.candidates) <= 12


@pytest.mark.slow
def test_goto_pair_runs_and_finds_the_new_sources(goto_pair: GotoPair) -> None:
    _, _, pair, sub = goto_pair
    assert pair.alignment.n_matched > 100
    assert np.hypot(*pair.alignment.residual_rms) < 0.15
    assert abs(pair.flux_ratio.ratio - 1.0) < 0.05
    # The frames share noise (1.fits stacks 2.fits): raw S_corr spread is below 1.
    assert 0.6 < sub.stats["scorr_robust_std_raw"] < 0.95
    assert 0.95 < sub.stats["scorr_robust_std"] < 1.05
    bright_positive = (sub.candidates["sign"] > 0) & (sub.candidates["scorr"] > 20)
    assert bright_positive.sum() >= 30  # ~60 sources are in 2.fits only


@pytest.mark.slow
def test_goto_fakes_are_recovered_near_the_optimum(goto_pair: GotoPair) -> None:
    science, reference, pair, _ = goto_pair
    fake = inject_fakes(science, pair.science, pair.science_sigma, pair.science_psf, n=150, seed=11)
    sub = subtract(prepare_pair(fake.image, reference))
    score = match_to_truth(fake.truth, sub.candidates)
    assert score["efficiency_vs_optimum"] > 0.85
    assert abs(score["flux_ratio_median_snr_ge_20"] - 1.0) < 0.05
