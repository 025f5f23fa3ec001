"""The multi-epoch sequence simulator: one sky, many epochs, changes with truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from astrid.errors import ConfigurationError
from astrid.simulation import (
    SequenceConfig,
    SimulatedSequence,
    SimulationConfig,
    simulate_pair,
    simulate_sequence,
)

FIELD = SimulationConfig(
    shape=(256, 256),
    n_stars=70,
    n_galaxies=6,
    n_transients=0,
    n_transients_on_galaxies=0,
    n_variables=0,
)
CONFIG = SequenceConfig(
    field=FIELD,
    schedule=(0.0, 2.0, 2.0 + 0.5 / 24, 2.0 + 1.0 / 24, 9.0),
    n_transients=6,
    n_variables=3,
    asteroids_per_night=2,
)


@pytest.fixture(scope="module")
def sequence() -> SimulatedSequence:
    return simulate_sequence(CONFIG, seed=3)


def test_epochs_share_the_reference_and_the_static_sky_but_not_the_noise(
    sequence: SimulatedSequence,
) -> None:
    assert len(sequence.epochs) == len(CONFIG.schedule)
    mjds = [image.meta.mjd for image in sequence.epochs]
    assert np.allclose(np.diff(mjds), np.diff(CONFIG.schedule))
    assert [image.header["MJD-OBS"] for image in sequence.epochs] == mjds
    first, second = sequence.epochs[0].data, sequence.epochs[1].data
    # same stars (a high correlation) but independent noise (not equal)
    assert not np.array_equal(first, second)
    assert np.corrcoef(first.ravel(), second.ravel())[0, 1] > 0.5
    again = simulate_sequence(CONFIG, seed=3)
    assert np.array_equal(again.epochs[2].data, sequence.epochs[2].data)
    assert np.array_equal(again.reference.data, sequence.reference.data)


def test_transients_are_dark_before_they_appear_and_add_their_flux_after(
    sequence: SimulatedSequence,
) -> None:
    truth, sources = sequence.truth, sequence.sources
    for src in sources[sources["kind"] == "transient"]:
        rows = truth[truth["source_id"] == src["source_id"]]
        before = rows["mjd"] < src["t0"]
        assert np.all(rows["flux"][before] == 0.0)
        assert np.all(rows["flux"][~before] >= 0.0)
        assert np.max(rows["flux"]) <= src["peak_flux"] * (1 + 1e-9)
    assert np.all(sources["peak_snr"] >= 0)


def test_variables_change_both_ways_about_their_reference_flux(sequence: SimulatedSequence) -> None:
    truth, sources = sequence.truth, sequence.sources
    for src in sources[sources["kind"] == "variable"]:
        rows = truth[truth["source_id"] == src["source_id"]]
        assert np.all(np.abs(rows["flux"]) <= src["amplitude"] * src["peak_flux"] * (1 + 1e-9))
        assert len(rows) == len(CONFIG.schedule)


def test_asteroids_move_at_their_rate_within_their_night_only(sequence: SimulatedSequence) -> None:
    truth, sources = sequence.truth, sequence.sources
    scale = FIELD.pixel_scale
    moved = 0
    for src in sources[sources["kind"] == "asteroid"]:
        rows = truth[truth["source_id"] == src["source_id"]]
        assert np.all(np.abs(rows["mjd"] - src["night_mjd"]) <= 0.5)
        if len(rows) >= 2:
            hours = (rows["mjd"][1] - rows["mjd"][0]) * 24
            step = np.hypot(rows["x"][1] - rows["x"][0], rows["y"][1] - rows["y"][0]) * scale
            assert step / hours == pytest.approx(src["rate_arcsec_per_hour"], rel=1e-6)
            moved += 1
    assert moved >= 2  # the night of three visits has its asteroids on the chip


def test_the_sequence_is_written_with_its_truth(
    sequence: SimulatedSequence, tmp_path: Path
) -> None:
    paths = sequence.write(tmp_path)
    assert len(paths["epochs"]) == len(CONFIG.schedule)
    assert all(p.exists() for p in [paths["reference"], paths["truth"], paths["sources"]])


@pytest.mark.parametrize(
    "change",
    [
        {"schedule": (0.0,)},
        {"schedule": (0.0, 3.0, 1.0)},
        {"n_transients": -1},
        {"seeing": (1.2, 0.9)},
        {"peak_snr": (0.0, 10.0)},
    ],
)
def test_bad_sequence_configs_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="SequenceConfig"):
        replace(CONFIG, **change)


def test_too_many_transients_for_the_field_are_refused() -> None:
    crowded = replace(CONFIG, n_transients=400)
    with pytest.raises(ConfigurationError, match="no empty place"):
        simulate_sequence(crowded, seed=0)


def test_seeing_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="seeing"):
        simulate_pair(FIELD, seed=0, seeing=0.0)
