"""The training-set recipe: seeded, so the same config names the same units and data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from astrid.errors import ConfigurationError
from astrid.training import TrainingSetConfig, build_field, field_specs
from astrid.training.field import real_pair_scale

TINY = TrainingSetConfig(
    n_train=1, n_val=1, n_test=1, shape=(256, 256), seed=3, variants=("plain",)
)


def test_the_digest_is_pinned() -> None:
    # A changed digest means every stored set is rebuilt: bump GENERATOR_VERSION on purpose.
    config = TrainingSetConfig(n_train=1, n_val=0, n_test=1, shape=(256, 256), seed=3)
    assert config.digest()[:16] == "fbc7388a34b38df6"
    assert TINY.digest() != config.digest()


def test_field_specs_are_seeded_and_split_by_field() -> None:
    specs = field_specs(TINY)
    assert [s.name for s in specs] == ["sim-train-000", "sim-val-000", "sim-test-000"]
    assert [s.split for s in specs] == ["train", "val", "test"]
    assert field_specs(TINY) == specs
    assert field_specs(TrainingSetConfig(n_train=1, n_val=1, n_test=1, seed=4)) != specs
    # Test fields draw their PSF from the band no training field has, then in turn from
    # the undersampled and the wide band; training fields cover 1.2-8 px around that gap.
    (test,) = (s for s in specs if s.split == "test")
    assert 3.2 <= test.params["science_fwhm"][0] <= 3.9
    many = field_specs(TrainingSetConfig(n_train=40, n_val=0, n_test=4, seed=1))
    fwhm = {s.split: [] for s in many}
    for s in many:
        fwhm[s.split].append(s.params["science_fwhm"][0])
    assert [3.2 <= f <= 3.9 for f in fwhm["test"]] == [True, True, False, False]
    assert 1.2 <= min(fwhm["test"][2:]) <= 2.3 and 5.0 <= max(fwhm["test"][2:]) <= 8.0
    assert not any(3.2 < f < 3.9 for f in fwhm["train"])
    assert min(fwhm["train"]) < 2.3 and max(fwhm["train"]) > 5.0


def test_the_same_spec_builds_the_same_candidates() -> None:
    spec = field_specs(TINY)[0]
    first, again = build_field(spec, TINY), build_field(spec, TINY)
    assert len(first["label"]) > 0 and set(first["label"]) == {0, 1}
    assert first.keys() == again.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)


def test_bad_recipes_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="plain"):
        TrainingSetConfig(variants=("dipole",))
    with pytest.raises(ConfigurationError, match=">= 0"):
        TrainingSetConfig(n_val=-1)


def test_a_field_that_cannot_host_every_transient_gets_fewer_not_an_error() -> None:
    from astrid.simulation import SimulationConfig
    from astrid.training.field import _fewer_transients

    config = SimulationConfig(n_transients=100, n_transients_on_galaxies=30)
    isolated = ConfigurationError("x", placed=77, requested=100, where="isolated")
    assert _fewer_transients(config, isolated).n_transients == 77
    galaxies = ConfigurationError("x", placed=3, requested=30, where="galaxies")
    assert _fewer_transients(config, galaxies).n_transients_on_galaxies == 15
    other = ConfigurationError("bad PSF")
    with pytest.raises(ConfigurationError, match="bad PSF"):
        _fewer_transients(config, other)
    with pytest.raises(ConfigurationError):
        _fewer_transients(config, ConfigurationError("x", placed=0, requested=9, where="isolated"))


DECAM = Path(__file__).resolve().parents[3] / "shared" / "data" / "decam"


def test_a_small_real_frame_gets_fakes_by_area_and_a_survey_chip_the_recipe() -> None:
    config = TrainingSetConfig()
    assert real_pair_scale((1850, 1850), config) == (250, 1)  # GOTO: the recipe as written
    per_round, factor = real_pair_scale((256, 256), config)
    assert per_round == 16 and factor == 4  # a 256² cutout: 16 a round, 4× the rounds


@pytest.mark.slow
def test_a_real_decam_pair_becomes_a_unit_of_fakes_fading_sources_and_artifacts() -> None:
    if not DECAM.is_dir():
        pytest.skip(f"real DECam frames not available at {DECAM}")
    pair = (str(DECAM / "DEC-OBS18c.fits"), str(DECAM / "DEC-OBS18b.fits"))
    config = TrainingSetConfig(n_train=0, n_val=0, n_test=0, real_pairs=(pair,))
    (spec,) = field_specs(config)
    assert (spec.name, spec.kind) == ("real-00", "real")
    unit = build_field(spec, config)
    kinds = set(unit["kind"].tolist())
    # Its few stars stay usable for alignment and PSF with fakes beside some of them.
    assert {"transient", "transient_near_star", "fading"} <= kinds
    assert kinds & {"cosmic_ray", "dipole", "psf_ring", "bad_column"}
    assert set(unit["split"].tolist()) == {"train", "val", "test"}
    assert np.isfinite(unit["cutouts"]).all()
