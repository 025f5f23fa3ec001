"""Exports: candidates (with consensus) and labels as CSV, FITS and VOTable, read back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from service_catalog import N_PER_RUN, N_UNSCORED
from service_env import Env, build_env

API = "/api/v1"
FORMATS = {"csv": "ascii.csv", "fits": "fits", "votable": "votable"}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for env in build_env(tmp_path_factory.mktemp("exports")):
        cid = env.seeded.candidate_ids[0]
        env.client.post(
            f"{API}/candidates/{cid}/labels",
            json={"label": "real", "comment": 'bright, "clean", new'},
            headers=env.headers("curator"),
        )
        yield env


def _read(data: bytes, fmt: str) -> Table:
    if fmt == "csv":
        return Table.read(data.decode(), format="ascii.csv")
    return Table.read(io.BytesIO(data), format=FORMATS[fmt])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_candidates_export_reads_back(labelled: Env, fmt: str) -> None:
    r = labelled.client.get(f"{API}/exports/candidates.{fmt}", headers=labelled.headers("viewer"))
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    table = _read(r.content, fmt)
    assert len(table) == 2 * N_PER_RUN
    assert list(table["id"]) == sorted(labelled.seeded.candidate_ids)
    first = table[0]
    assert first["consensus_label"] == "real" and first["consensus_class"] == "real"
    assert int(first["n_curators"]) == 1
    rb = np.ma.filled(np.ma.asarray(table["rb"]).astype(float), np.nan)
    assert int(np.isnan(rb).sum()) == N_UNSCORED, "unscored rows are null, not 0"
    assert float(first["ra"]) == pytest.approx(
        labelled.client.get(
            f"{API}/candidates/{first['id']}", headers=labelled.headers("viewer")
        ).json()["ra"],
        abs=1e-9,
    )
    if fmt != "csv":
        assert table["ra"].unit == "deg" and table["mag"].unit == "mag"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_filtered_export(labelled: Env, fmt: str) -> None:
    run = labelled.seeded.run_ids[1]
    r = labelled.client.get(
        f"{API}/exports/candidates.{fmt}",
        params={"run_id": run, "sign": 1},
        headers=labelled.headers("viewer"),
    )
    table = _read(r.content, fmt)
    assert len(table) > 0 and set(table["run_id"]) == {run} and set(table["sign"]) == {1}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_labels_export(labelled: Env, fmt: str) -> None:
    r = labelled.client.get(f"{API}/exports/labels.{fmt}", headers=labelled.headers("viewer"))
    table = _read(r.content, fmt)
    assert len(table) == 1
    assert table[0]["curator"] == "curator-user" and table[0]["label"] == "real"
    assert table[0]["comment"] == 'bright, "clean", new'


def test_fits_export_is_a_binary_table(labelled: Env) -> None:
    r = labelled.client.get(f"{API}/exports/candidates.fits", headers=labelled.headers("viewer"))
    with fits.open(io.BytesIO(r.content)) as hdul:
        assert isinstance(hdul[1], fits.BinTableHDU)
        assert hdul[1].name == "CANDIDATES"


def test_export_limits_and_formats(tmp_path: Path) -> None:
    for env in build_env(tmp_path / "small", export_max_rows=5):
        h = env.headers("viewer")
        too_many = env.client.get(f"{API}/exports/candidates.csv", headers=h)
        assert too_many.status_code == 422 and "narrow the filters" in too_many.text
        few = env.client.get(f"{API}/exports/candidates.csv", params={"rb_min": 0.9}, headers=h)
        assert few.status_code == 200
        assert env.client.get(f"{API}/exports/candidates.xlsx", headers=h).status_code == 422
        assert env.client.get(f"{API}/exports/candidates.csv").status_code == 401
