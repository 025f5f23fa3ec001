"""Tests of the `astrid` command line through Typer's runner."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from astrid import __version__
from astrid.catalog import connect
from astrid.cli import app
from astrid.observations.simulate import SimulationConfig, simulate_pair

SMALL = SimulationConfig(
    shape=(384, 384),
    n_stars=150,
    n_galaxies=10,
    n_transients=12,
    n_transients_on_galaxies=2,
    n_variables=4,
    n_cosmic_rays=6,
    n_hot_pixels=4,
    n_bad_columns=1,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL, seed=3).write(tmp_path_factory.mktemp("cli") / "inputs")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Settings come from ASTRID_* variables: the caller's must not leak into these tests.
    for name in list(os.environ):
        if name.startswith("ASTRID_"):
            monkeypatch.delenv(name)
    # The commands reconfigure the root logger (Rich handler); leave it as pytest set it.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _candidates(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_run_writes_candidates(pair: dict[str, Path], tmp_path: Path) -> None:
    out, data = tmp_path / "out", tmp_path / "data"
    args = ["run", "--reference", str(pair["reference"]), "--out", str(out)]
    result = runner.invoke(app, [*args, "--data-dir", str(data), str(pair["science"])])

    assert result.exit_code == 0, result.output
    rows = _candidates(out / "candidates.csv")
    assert len(rows) >= 1
    assert list(rows[0])[:3] == ["observation", "x", "y"]
    assert len(list((out / "difference").glob("science.*.diff.fits"))) == 1
    assert len(list((out / "difference").glob("science.*.scorr.fits"))) == 1
    assert "done" in result.output
    assert str(out / "candidates.csv") in result.output.replace("\n", "")
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        (run,) = catalog.runs()
        assert run.status == "done" and run.n_candidates == len(rows)
    assert (data / "store").is_dir()


@pytest.mark.parametrize(
    ("flags", "env"),
    [(["--threshold", "8"], None), ([], "8"), (["--threshold", "8"], "1000")],
    ids=["flag", "environment", "flag-over-environment"],
)
def test_run_threshold(
    pair: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    env: str | None,
) -> None:
    if env is not None:
        monkeypatch.setenv("ASTRID_THRESHOLD", env)
    out = tmp_path / "out"
    args = ["run", "-r", str(pair["reference"]), "-o", str(out), *flags]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path), str(pair["science"])])

    assert result.exit_code == 0, result.output
    scorr = [abs(float(row["scorr"])) for row in _candidates(out / "candidates.csv")]
    assert len(scorr) >= 1
    assert min(scorr) >= 8.0


def test_run_with_unusable_science_exits_1(pair: dict[str, Path], tmp_path: Path) -> None:
    science = tmp_path / "x.fits"
    science.write_text("not a FITS file")
    args = ["run", "--reference", str(pair["reference"]), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data"), str(science)])

    assert result.exit_code == 1, result.output
    assert "x.fits" in result.output
    assert "failed" in result.output
    assert _candidates(tmp_path / "out" / "candidates.csv") == []


def test_run_with_bad_reference_exits_2(pair: dict[str, Path], tmp_path: Path) -> None:
    reference = tmp_path / "ref.fits"
    reference.write_text("not a FITS file")
    args = ["run", "--reference", str(reference), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data"), str(pair["science"])])

    assert result.exit_code == 2, result.output
    assert "error" in result.output
    assert "ref.fits" in result.output
    assert not (tmp_path / "out" / "candidates.csv").exists()


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASTRID_DATA_DIR", str(tmp_path / "env-data"))
    reference = tmp_path / "ref.fits"
    reference.write_text("not a FITS file")  # fails fast, but is recorded in the catalog
    result = runner.invoke(app, ["run", "--reference", str(reference), str(reference)])

    assert result.exit_code == 2, result.output
    assert not (tmp_path / "astrid-data").exists()
    with connect(f"sqlite:///{tmp_path / 'env-data' / 'astrid.sqlite'}") as catalog:
        (obs,) = catalog.observations()
    assert (obs["path"], obs["status"]) == (str(reference), "failed")


def test_version_prints_the_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_demo_writes_report_and_score(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--size", "384", "--out", str(out), "--seed", "1"])

    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    score = json.loads((out / "score.json").read_text())
    assert score["n_candidates"] == len(_candidates(out / "candidates.csv")) >= 1
    assert f"<p>{score['n_candidates']} candidates" in html
    assert "Completeness against the injected truth" in html
    assert score["completeness_snr_ge_8"] >= 0.5
    assert (out / "inputs" / "truth.csv").is_file()
    assert (out / "data" / "astrid.sqlite").is_file()
