"""Tests of magnitudes and light-curve features on hand-made light curves."""

import numpy as np
import pytest

from astrid.objects.features import LightCurveError, light_curve_features, magnitudes


def test_magnitudes_and_upper_limits() -> None:
    m = magnitudes([100.0, 10.0], [1.0, 2.0], 25.0, [True, False])
    assert m.mag[0] == pytest.approx(20.0)
    assert m.mag_err[0] == pytest.approx(1.0857 / 100, rel=1e-3)
    assert np.isnan(m.mag[1]) and np.isnan(m.upper_limit[0])
    assert m.upper_limit[1] == pytest.approx(25.0 - 2.5 * np.log10(10.0))
    assert np.all(np.isnan(magnitudes([1.0], [1.0], None, [True]).mag))
    with pytest.raises(LightCurveError, match="shape"):
        magnitudes([1.0, 2.0], [1.0], 25.0, [True, True])


def test_rise_fade_two_bands() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 2.1, -5.0])
    mag_true = np.array([20.0, 19.0, 18.0, 18.5, 19.0, 18.3, np.nan])
    band = np.array(["r"] * 5 + ["g", "r"])
    flux = np.where(np.isfinite(mag_true), 10 ** (-0.4 * (mag_true - 25.0)), 0.0)
    det = np.isfinite(mag_true)
    f = light_curve_features(t, band, flux, np.ones_like(t), det, 25.0)
    assert f.n_detections == 6 and f.n_nondetections == 1
    assert f.first_mjd == 0.0 and f.last_mjd == 4.0
    assert f.peak_mjd == 2.0 and f.peak_band == "r"
    assert f.peak_mag == pytest.approx(18.0)
    assert f.rise_rate is not None and f.rise_rate["r"] == pytest.approx(-1.0)
    assert f.decline_rate is not None and f.decline_rate["r"] == pytest.approx(0.5)
    assert f.colour is not None and f.colour["g-r"] == pytest.approx(0.3)
    assert set(f.to_dict()) >= {"colour", "peak_mag", "rise_rate"}


def test_empty_and_single_point() -> None:
    e = light_curve_features([], [], [], [], [], 25.0)
    assert e.n_detections == 0 and e.peak_mjd is None
    s = light_curve_features([5.0], ["g"], [10.0], [1.0], [True], None)
    assert s.n_detections == 1 and s.peak_mag is None and s.rise_rate is None


def test_magnitudes_take_one_zero_point_per_point() -> None:
    import numpy as np

    from astrid.objects import magnitudes

    m = magnitudes([100.0, 100.0, 5.0], [10.0, 10.0, 2.0], [25.0, np.nan, 26.0], [1, 1, 0])
    assert m.mag[0] == 20.0 and np.isnan(m.mag[1]) and np.isnan(m.mag[2])
    assert m.upper_limit[2] == 26.0 - 2.5 * np.log10(10.0)
