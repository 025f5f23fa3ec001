"""`evaluate_files`: injection–recovery on FITS files, products written (what `astrid
evaluate` does, from Python)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from astrid.errors import InvalidImageError
from astrid.evaluation.evaluate import EvaluationConfig
from astrid.pipeline.evaluation_run import evaluate_files
from astrid.simulation import SimulationConfig, simulate_pair

SMALL = SimulationConfig(
    shape=(384, 384), n_stars=150, n_galaxies=20, n_transients=0, n_transients_on_galaxies=0
)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL, seed=5).write(tmp_path_factory.mktemp("evaluate") / "in")


def test_evaluate_files_writes_the_products(paths: dict[str, Path], tmp_path: Path) -> None:
    config = EvaluationConfig(n_fakes=30, seed=2)
    files = evaluate_files(
        paths["science"], paths["reference"], tmp_path / "ev", config, score=False
    )

    assert files.fakes == tmp_path / "ev" / "fakes.csv" and files.fakes.stat().st_size > 0
    summary = json.loads(files.summary.read_text())
    assert summary["n_fakes"] == len(files.result.fakes) == 30
    assert (summary["seed"], summary["n_fakes_requested"]) == (2, 30)
    assert summary["science"] == str(paths["science"])
    assert "completeness_after_rb" not in summary  # score=False: no real/bogus cut
    assert all(path.is_file() for path in files.plots.values())
    assert "AstrID evaluation: science.fits" in files.report.read_text()


def test_evaluate_files_with_an_unreadable_science_writes_nothing(
    paths: dict[str, Path], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file")
    with pytest.raises(InvalidImageError, match=r"junk\.fits"):
        evaluate_files(junk, paths["reference"], tmp_path / "ev", score=False)
    assert not (tmp_path / "ev").exists()
