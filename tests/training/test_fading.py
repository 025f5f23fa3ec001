"""Fading sources: injected into the reference, labelled real, negative in the difference."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from astrid.simulation import SimulationConfig, simulate_pair
from astrid.training import TrainingSetConfig, build_field, field_specs
from astrid.training.fading import FADING_KINDS, fading_positions, inject_fading
from astrid.training.labels import REAL_KINDS


@pytest.fixture(scope="module")
def sim():
    config = SimulationConfig(
        shape=(256, 256),
        n_stars=40,
        n_galaxies=5,
        n_transients=2,
        n_transients_on_galaxies=1,
        n_variables=2,
    )
    return simulate_pair(config, seed=11)


def test_fading_kinds_are_real() -> None:
    assert set(FADING_KINDS) <= set(REAL_KINDS)


def test_the_reference_gains_the_flux_at_the_mapped_position(sim) -> None:
    xy = np.array([[80.3, 90.6], [170.2, 160.9]])
    snr = np.array([30.0, 30.0])
    out = inject_fading(
        sim.reference,
        sim.science,
        xy,
        np.array(FADING_KINDS),
        snr=snr,
        science_sigma=sim.config.science_sigma,
        science_psf=sim.science_psf,
        reference_psf=sim.reference_psf,
        flux_scale=sim.reference_flux_scale,
        seed=0,
    )
    added = np.asarray(out.reference.data, float) - np.asarray(sim.reference.data, float)
    ra, dec = sim.science.wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
    rx, ry = sim.reference.wcs.world_to_pixel_values(ra, dec)
    for k in range(2):
        norm = math.sqrt(float(np.sum(sim.science_psf(*xy[k]) ** 2)))
        expected = snr[k] * sim.config.science_sigma / norm * sim.reference_flux_scale
        iy, ix = int(round(float(ry[k]))), int(round(float(rx[k])))
        box = added[iy - 12 : iy + 13, ix - 12 : ix + 13]
        assert box.sum() == pytest.approx(expected, rel=0.1)
        # The peak sits where the science position maps to, not at the science pixel.
        py, px = np.unravel_index(np.argmax(box), box.shape)
        assert abs(py - 12) <= 1 and abs(px - 12) <= 1
    assert list(out.truth["kind"]) == list(FADING_KINDS)
    np.testing.assert_allclose(out.truth["x"], xy[:, 0])
    # The science image is untouched: only the reference carries them.
    assert out.reference is not sim.reference


def test_bad_inputs_are_refused(sim) -> None:
    args = dict(
        snr=np.array([10.0]),
        science_sigma=1.0,
        science_psf=sim.science_psf,
        reference_psf=sim.reference_psf,
        flux_scale=1.0,
        seed=0,
    )
    no_wcs = replace(sim.reference, wcs=None)
    with pytest.raises(ValueError, match="WCS"):
        inject_fading(no_wcs, sim.science, np.array([[50.0, 50.0]]), np.array(["fading"]), **args)
    with pytest.raises(ValueError, match="length"):
        inject_fading(sim.reference, sim.science, np.array([[50.0, 50.0]]), np.array([]), **args)


def test_positions_keep_apart_and_inside() -> None:
    allowed = np.ones((200, 200), bool)
    xy = fading_positions(np.random.default_rng(0), allowed, 20, min_separation=25.0, edge=40)
    assert 0 < len(xy) <= 20
    assert xy.min() >= 39.5 and xy.max() <= 160.5
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert d[~np.eye(len(xy), dtype=bool)].min() >= 25.0


def test_a_training_field_holds_negative_real_candidates() -> None:
    config = TrainingSetConfig(
        n_train=1, n_val=0, n_test=0, shape=(512, 512), seed=2, variants=("plain",)
    )
    out = build_field(field_specs(config)[0], config)
    fading = np.isin(out["kind"], FADING_KINDS)
    assert fading.sum() >= 5
    assert np.all(out["label"][fading] == 1)
    # Sign is the first scalar feature: a fading source is a negative detection.
    assert np.mean(out["scalars"][fading, 0] < 0) > 0.9
    without = build_field(
        field_specs(replace(config, fading=False))[0], replace(config, fading=False)
    )
    assert not np.isin(without["kind"], FADING_KINDS).any()
