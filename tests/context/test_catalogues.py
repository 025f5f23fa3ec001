"""Offline catalogue context: specs, readers, install/registry, matching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from astrid.context.catalogues import BUILTIN_CATALOGUES, Catalogue, CatalogueSpec
from astrid.context.crossmatch import crossmatch
from astrid.context.install import add_catalogue, install_catalogues
from astrid.context.registry import load_catalogues, remove_catalogue
from astrid.errors import ConfigurationError


def _spec(name: str = "t", kind: str = "variable_star", radius: float = 2.0) -> CatalogueSpec:
    return CatalogueSpec(name, "*", "ra", "dec", "name", "type", kind, radius)  # type: ignore[arg-type]


def _table(path: Path, ra: list[float], dec: list[float]) -> Path:
    Table(
        {
            "ra": ra,
            "dec": dec,
            "name": [f"s{i}" for i in range(len(ra))],
            "type": ["M"] * len(ra),
            "mag": np.arange(len(ra), dtype=float),
        }
    ).write(path, overwrite=True)
    return path


def test_bad_radius_and_kind() -> None:
    with pytest.raises(ConfigurationError, match="radius_arcsec"):
        _spec(radius=0.0)
    with pytest.raises(ConfigurationError, match="kind"):
        _spec(kind="planet")


def test_match_radius_nearest_first_and_ra_wrap() -> None:
    ra = np.array([10.0, 10.0 + 1.0 / 3600, 10.0 + 5.0 / 3600, 359.9999])
    dec = np.zeros(4)
    cat = Catalogue(_spec(), ra, dec, np.array(["a", "b", "c", "d"]), np.array(["", "", "", ""]))
    (rows, seps), (rows2, _) = cat.match([10.0 + 0.9 / 3600, 0.0001], [0.0, 0.0])
    assert rows.tolist() == [1, 0]
    np.testing.assert_allclose(seps, [0.1, 0.9], atol=1e-6)
    assert rows2.tolist() == [3]


def test_brute_force_agreement() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    ra, dec = rng.uniform(0, 1, n), rng.uniform(-1, 1, n)
    cat = Catalogue(_spec(radius=60.0), ra, dec, np.full(n, "x"), np.full(n, ""))
    qra, qdec = rng.uniform(0, 1, 50), rng.uniform(-1, 1, 50)
    from astropy.coordinates import SkyCoord

    cs = SkyCoord(ra, dec, unit="deg")
    for (rows, _), r, d in zip(cat.match(qra, qdec), qra, qdec, strict=True):
        sep = SkyCoord(r, d, unit="deg").separation(cs).arcsec
        assert sorted(rows.tolist()) == sorted(np.flatnonzero(sep <= 60.0).tolist())


def test_add_load_crossmatch_priority(tmp_path: Path) -> None:
    d = tmp_path / "ctx"
    add_catalogue(
        _table(tmp_path / "v.csv", [10.0], [0.0]),
        "vars",
        ra_col="ra",
        dec_col="dec",
        name_col="name",
        type_col="type",
        kind="variable_star",
        radius_arcsec=2.0,
        columns=("mag",),
        directory=d,
    )
    Table({"ra": ["00:40:00.0"], "dec": ["+00:00:05"], "name": ["G1"], "d": [40.0]}).write(
        tmp_path / "g.ecsv"
    )
    add_catalogue(
        tmp_path / "g.ecsv",
        "gals",
        ra_col="ra",
        dec_col="dec",
        name_col="name",
        type_col=None,
        kind="galaxy",
        radius_arcsec=30.0,
        directory=d,
        distance_col="d",
    )
    cats, problems = load_catalogues(d)
    assert problems == [] and {c.spec.name for c in cats} == {"vars", "gals"}
    (ms,) = crossmatch(cats, [10.0 + 0.5 / 3600], [0.0])
    assert [m.catalogue for m in ms] == ["vars", "gals"]
    assert ms[0].columns == {"mag": 0.0} and ms[1].distance_mpc == 40.0
    assert ms[1].sep_arcsec == pytest.approx(np.hypot(0.5, 5.0), abs=0.01)
    remove_catalogue("vars", d)
    cats, _ = load_catalogues(d)
    assert [c.spec.name for c in cats] == ["gals"]


def test_problems_missing_corrupt_no_radec(tmp_path: Path) -> None:
    cats, problems = load_catalogues(tmp_path / "nowhere")
    assert cats == [] and "astrid context install" in problems[0]
    d = tmp_path / "ctx"
    add_catalogue(
        _table(tmp_path / "a.fits", [1.0], [1.0]),
        "a",
        ra_col="ra",
        dec_col="dec",
        name_col="name",
        type_col="type",
        kind="agn",
        radius_arcsec=3.0,
        directory=d,
    )
    add_catalogue(
        _table(tmp_path / "b.parquet", [2.0], [2.0]),
        "b",
        ra_col="ra",
        dec_col="dec",
        name_col="name",
        type_col="type",
        kind="agn",
        radius_arcsec=3.0,
        directory=d,
    )
    (d / "a.npz").write_bytes(b"garbage")
    (d / "b.npz").unlink()
    cats, problems = load_catalogues(d, ["a", "b", "c"])
    assert cats == [] and len(problems) == 3
    assert "a.npz" in problems[0] and "b.npz" in problems[1] and "'c'" in problems[2]
    with pytest.raises(ConfigurationError, match="no column 'RA'"):
        add_catalogue(
            tmp_path / "a.fits",
            "x",
            ra_col="RA",
            dec_col="dec",
            name_col="name",
            type_col=None,
            kind="agn",
            radius_arcsec=3.0,
            directory=d,
        )
    with pytest.raises(ConfigurationError, match="not found"):
        add_catalogue(
            tmp_path / "none.csv",
            "x",
            ra_col="ra",
            dec_col="dec",
            name_col="name",
            type_col=None,
            kind="agn",
            radius_arcsec=3.0,
            directory=d,
        )
    (tmp_path / "bad.csv").write_text("ra,dec\n\x00\x01,zz,qq\n")
    with pytest.raises(ConfigurationError, match=r"bad\.csv"):
        add_catalogue(
            tmp_path / "bad.csv",
            "x",
            ra_col="ra",
            dec_col="dec",
            name_col="ra",
            type_col=None,
            kind="agn",
            radius_arcsec=3.0,
            directory=d,
        )
    (d / "registry.json").write_text("{not json")
    assert "corrupt registry" in load_catalogues(d)[1][0]


def test_install_from_folder(tmp_path: Path) -> None:
    src = tmp_path / "catalogs"
    src.mkdir()
    spec = BUILTIN_CATALOGUES["vsx"]
    cols = {
        spec.ra_col: [5.0, 6.0],
        spec.dec_col: [1.0, -1.0],
        spec.name_col: ["V1", "V2"],
        spec.type_col: ["RR", "EA"],
        **{c: [1.0, 2.0] for c in spec.columns},
    }
    Table(cols).write(src / "vsx.parquet")
    report = install_catalogues(src, tmp_path / "ctx")
    assert report.installed == {"vsx": 2}
    assert len(report.problems) == len(BUILTIN_CATALOGUES) - 1
    reg = json.loads((tmp_path / "ctx" / "registry.json").read_text())
    assert reg["vsx"]["rows"] == 2 and len(reg["vsx"]["sha256"]) == 64
