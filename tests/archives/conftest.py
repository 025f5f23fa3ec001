"""Fixtures of the archive tests: the hips2fits, PS1, Legacy Survey and SkyMapper
stand-ins, running, and a science frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hips2fits_double import FakeHips2fits
from legacy_double import FakeLegacySurvey
from local_http import serving
from ps1_double import FakePs1
from skymapper_double import FakeSkyMapper

from astrid.simulation import simulate_pair
from small_field import STATIC_FIELD


@pytest.fixture()
def hips2fits() -> Iterator[FakeHips2fits]:
    fake = FakeHips2fits()
    with serving(fake.server):
        yield fake


@pytest.fixture()
def ps1() -> Iterator[FakePs1]:
    fake = FakePs1()
    with serving(fake.server):
        yield fake


@pytest.fixture()
def legacy() -> Iterator[FakeLegacySurvey]:
    fake = FakeLegacySurvey()
    with serving(fake.server):
        yield fake


@pytest.fixture()
def skymapper() -> Iterator[FakeSkyMapper]:
    fake = FakeSkyMapper()
    with serving(fake.server):
        yield fake


@pytest.fixture(scope="module")
def science(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "science.fits"
    simulate_pair(STATIC_FIELD, seed=3).science.to_hdu().writeto(path)
    return path
