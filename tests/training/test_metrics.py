"""Real/bogus error-rate metrics used to evaluate models (pure NumPy)."""

import numpy as np
import pytest

from astrid.training.metrics import (
    fnr_at_fpr,
    fpr_at_fnr,
    per_kind_rates,
    reliability,
    roc_auc,
    tpr_at_fpr,
)


def test_auc():
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert roc_auc([1, 0], [0.5, 0.5]) == 0.5
    assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))
    rng = np.random.default_rng(4)
    assert roc_auc(rng.integers(0, 2, 20_000), rng.uniform(size=20_000)) == pytest.approx(
        0.5, abs=0.02
    )


def test_error_rates_at_fixed_operating_points():
    # 100 bogus at 0.00..0.99, 100 real at 0.50..1.49.
    bogus, real = np.arange(100) / 100, 0.5 + np.arange(100) / 100
    labels, scores = np.r_[np.zeros(100), np.ones(100)], np.r_[bogus, real]
    fnr, t = fnr_at_fpr(labels, scores, 0.01)
    assert np.mean(bogus > t) <= 0.01 and t == pytest.approx(0.98)
    assert fnr == pytest.approx(np.mean(real <= 0.98))
    fpr, t2 = fpr_at_fnr(labels, scores, 0.01)
    assert np.mean(real <= t2) <= 0.01
    assert fpr == pytest.approx(np.mean(bogus > t2))
    # Above the 98th percentile of the bogus (0.9702): reals from 0.98 up, 52 of 100.
    assert tpr_at_fpr(labels, scores, 0.02) == pytest.approx(0.52)
    with pytest.raises(ValueError, match="shape"):
        roc_auc([1, 0], [0.1])


def test_reliability_and_per_kind():
    probs = np.r_[np.full(100, 0.05), np.full(100, 0.95)]
    labels = np.r_[np.zeros(95), np.ones(5), np.ones(95), np.zeros(5)]
    rel = reliability(labels, probs, bins=10)
    assert rel["ece"] == pytest.approx(0.0, abs=1e-9)
    assert rel["bins"][0]["n"] == 100 and rel["bins"][0]["fraction_real"] == pytest.approx(0.05)
    rates = per_kind_rates(["a", "a", "b"], np.array([0.9, 0.1, 0.2]), 0.5)
    assert rates == {"a": {"n": 2, "called_real": 0.5}, "b": {"n": 1, "called_real": 0.0}}
