"""OOD calibration and scores (pure NumPy)."""

import numpy as np
import pytest

from astrid.detection.ood import OodCalibration, component_scores, ood_scores
from astrid.errors import ModelError


def _in_distribution(rng, n):
    """Confident two-class logits and small Mahalanobis distances."""
    label = rng.integers(0, 2, n)
    logits = np.column_stack([np.zeros(n), (2 * label - 1) * rng.normal(4.0, 1.5, n)])
    return logits, rng.chisquare(8, n)


def test_ood_is_calibrated_on_fresh_in_distribution_data():
    rng = np.random.default_rng(0)
    calibration = OodCalibration.fit(*_in_distribution(rng, 20_000))
    scores = ood_scores(*_in_distribution(rng, 20_000), calibration)
    for name in ("ood", "ood_msp", "ood_energy", "ood_mahalanobis"):
        v = scores[name]
        assert np.all((v >= 0) & (v <= 1)), name
        for t in (0.5, 0.9, 0.99):
            assert np.mean(v > t) == pytest.approx(1 - t, abs=0.25 * (1 - t) + 0.003), (name, t)


def test_unfamiliar_candidates_score_high():
    rng = np.random.default_rng(1)
    calibration = OodCalibration.fit(*_in_distribution(rng, 5000))
    n = 2000
    # Uncertain logits and far-away features: what an unseen artifact kind looks like.
    logits = np.column_stack([np.zeros(n), rng.normal(0.0, 0.5, n)])
    far = ood_scores(logits, rng.chisquare(8, n) + 40, calibration)
    near = ood_scores(*_in_distribution(rng, n), calibration)
    assert np.median(far["ood"]) > 0.99
    pairs = far["ood"][:, None] - near["ood"][None, :]
    auc = np.mean(pairs > 0) + 0.5 * np.mean(pairs == 0)  # P(far outranks near)
    assert auc > 0.99


def test_one_extreme_component_is_enough():
    rng = np.random.default_rng(2)
    calibration = OodCalibration.fit(*_in_distribution(rng, 5000))
    logits, maha = _in_distribution(rng, 500)
    scores = ood_scores(logits, maha + 200, calibration)  # only Mahalanobis is extreme
    assert np.mean(scores["ood"] > 0.95) > 0.9


def test_component_scores_signs():
    logits = np.array([[0.0, 10.0], [0.0, 0.1]])
    raw = component_scores(logits, np.array([1.0, 2.0]))
    assert raw["msp"][1] > raw["msp"][0]  # uncertain → larger
    assert raw["energy"][1] > raw["energy"][0]  # low total evidence → larger


def test_calibration_round_trips_and_rejects_bad_tables():
    rng = np.random.default_rng(3)
    calibration = OodCalibration.fit(*_in_distribution(rng, 500))
    again = OodCalibration.from_json(calibration.to_json())
    logits, maha = _in_distribution(rng, 100)
    np.testing.assert_allclose(
        ood_scores(logits, maha, again)["ood"], ood_scores(logits, maha, calibration)["ood"]
    )
    broken = calibration.to_json()
    broken["tables"]["energy"] = broken["tables"]["energy"][::-1]
    with pytest.raises(ModelError, match="energy"):
        OodCalibration.from_json(broken)
    del broken["tables"]["msp"]
    with pytest.raises(ModelError, match="incomplete"):
        OodCalibration.from_json(broken)
    with pytest.raises(ModelError, match="at least 20"):
        OodCalibration.fit(np.zeros((5, 2)), np.zeros(5))
