"""The association rule and object names, on plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

from astrid.objects import associate, object_name, sequence_letters, weighted_position

ARCSEC = 1 / 3600


def test_nearest_object_within_the_radius_wins() -> None:
    objects_ra, objects_dec = [10.0, 10.0 + 1.0 * ARCSEC], [20.0, 20.0]
    result = associate([10.0 + 0.8 * ARCSEC], [20.0], objects_ra, objects_dec, 1.5)
    assert result.existing.tolist() == [1]
    assert result.new_group.tolist() == [-1]
    assert result.n_new == 0


def test_a_candidate_beyond_the_radius_makes_a_new_object() -> None:
    result = associate([10.0 + 2.0 * ARCSEC], [20.0], [10.0], [20.0], 1.5)
    assert result.existing.tolist() == [-1]
    assert result.new_group.tolist() == [0]
    assert result.n_new == 1


def test_candidates_of_one_batch_at_one_place_make_one_object() -> None:
    ra = [50.0, 50.0 + 0.5 * ARCSEC, 51.0, 50.0 - 0.4 * ARCSEC]
    dec = [-30.0, -30.0, -30.0, -30.0]
    result = associate(ra, dec, [], [], 1.5)
    assert result.existing.tolist() == [-1, -1, -1, -1]
    assert result.new_group.tolist() == [0, 0, 1, 0]
    assert result.n_new == 2


def test_the_radius_is_an_angle_on_the_sky_across_ra_zero() -> None:
    # 1 arcsec apart across ra = 0 at dec 60: 2 arcsec of ra, 1 arcsec on the sky
    result = associate([359.9999 + 0.0001 - ARCSEC], [60.0], [ARCSEC], [60.0], 1.5)
    assert result.existing.tolist() == [0]


def test_each_candidate_goes_to_exactly_one_place() -> None:
    rng = np.random.default_rng(3)
    ra, dec = 100 + rng.uniform(0, 0.01, 500), rng.uniform(0, 0.01, 500)
    result = associate(ra, dec, ra[:100] + 0.3 * ARCSEC, dec[:100], 1.5)
    assert np.all((result.existing >= 0) ^ (result.new_group >= 0))
    assert set(result.new_group[result.new_group >= 0].tolist()) == set(range(result.n_new))


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="radius"):
        associate([1.0], [1.0], [], [], 0.0)
    with pytest.raises(ValueError, match="dec"):
        associate([1.0], [91.0], [], [], 1.5)
    with pytest.raises(ValueError, match="ra"):
        associate([1.0, 2.0], [1.0], [], [], 1.5)


def test_position_is_the_flux_weighted_mean() -> None:
    ra, dec = weighted_position([10.0, 10.0 + 3 * ARCSEC], [0.0, 0.0], [300.0, -100.0])
    assert ra == pytest.approx(10.0 + 0.75 * ARCSEC, abs=1e-9)
    assert dec == pytest.approx(0.0, abs=1e-9)


def test_position_falls_back_to_equal_weights() -> None:
    ra, _ = weighted_position([10.0, 10.0 + 2 * ARCSEC], [0.0, 0.0], [np.nan, 0.0])
    assert ra == pytest.approx(10.0 + ARCSEC, abs=1e-9)


def test_position_averages_across_ra_zero() -> None:
    ra, dec = weighted_position([359.9999, 0.0001], [5.0, 5.0], [1.0, 1.0])
    assert min(ra, 360 - ra) == pytest.approx(0.0, abs=1e-9)
    assert dec == pytest.approx(5.0, abs=1e-9)


@pytest.mark.parametrize(
    ("sequence", "letters"),
    [
        (1, "a"),
        (2, "b"),
        (26, "z"),
        (27, "aa"),
        (28, "ab"),
        (52, "az"),
        (53, "ba"),
        (702, "zz"),
        (703, "aaa"),
    ],
)
def test_sequence_letters_are_bijective_base_26(sequence: int, letters: str) -> None:
    assert sequence_letters(sequence) == letters


def test_names_are_prefix_year_letters_and_unique() -> None:
    assert object_name(2026, 1) == "ASTRID2026a"
    assert object_name(2026, 27) == "ASTRID2026aa"
    names = {object_name(2026, n) for n in range(1, 20000)}
    assert len(names) == 19999
    with pytest.raises(ValueError):
        object_name(2026, 0)
    with pytest.raises(ValueError):
        object_name(20260, 1)
