"""Injection–recovery evaluation on a simulated pair, and the `astrid evaluate` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from astrid.cli import app
from astrid.evaluation.evaluate import (
    EvaluationConfig,
    EvaluationResult,
    completeness_magnitude,
    evaluate_pair,
)
from astrid.simulation import SimulatedPair, SimulationConfig, simulate_pair

SMALL = SimulationConfig(
    shape=(512, 512),
    n_stars=250,
    n_galaxies=40,
    n_transients=0,
    n_transients_on_galaxies=0,
    n_variables=0,
)


@pytest.fixture(scope="module")
def pair() -> SimulatedPair:
    return simulate_pair(SMALL, seed=4)


@pytest.fixture(scope="module")
def result(pair: SimulatedPair) -> EvaluationResult:
    config = EvaluationConfig(n_fakes=120, per_round=60, seed=3)
    return evaluate_pair(pair.science, pair.reference, config)


def test_fakes_are_recovered_near_the_optimum(result: EvaluationResult) -> None:
    s = result.summary
    assert s["n_fakes"] == 120
    assert s["n_on_galaxies"] > 0
    assert s["efficiency_vs_optimum"] > 0.85
    assert abs(s["flux_ratio_median_snr_ge_20"] - 1) < 0.05
    assert s["astrometry_rms_arcsec_snr_ge_20"] < 0.3
    kinds = set(np.asarray(result.fakes["kind"]).astype(str))
    assert kinds == {"transient", "transient_on_galaxy"}
    by_kind = s["by_kind"]
    assert set(by_kind) == kinds
    assert sum(k["n"] for k in by_kind.values()) == 120
    assert by_kind["transient"]["efficiency_vs_optimum"] > 0.85


def test_magnitudes_use_the_reference_zero_point(result: EvaluationResult) -> None:
    # The simulator writes MAGZP into the reference only; the science zero point follows
    # from the flux ratio, so fakes get calibrated magnitudes.
    assert result.summary["magnitudes"] == "calibrated"
    assert result.summary["mag_90"] < result.summary["mag_50"]


def test_evaluation_is_deterministic(pair: SimulatedPair, result: EvaluationResult) -> None:
    again = evaluate_pair(
        pair.science, pair.reference, EvaluationConfig(n_fakes=120, per_round=60, seed=3)
    )
    assert np.array_equal(np.asarray(again.fakes["x"]), np.asarray(result.fakes["x"]))
    assert np.array_equal(np.asarray(again.fakes["found"]), np.asarray(result.fakes["found"]))


def test_the_real_bogus_cut_keeps_bright_fakes(pair: SimulatedPair) -> None:
    from astrid.detection.realbogus import RealBogusModel

    model = RealBogusModel.load()
    config = EvaluationConfig(n_fakes=60, per_round=60, seed=5)
    result = evaluate_pair(pair.science, pair.reference, config, model=model)
    s = result.summary
    assert s["rb_threshold"] == pytest.approx(model.card["operating_threshold"])
    fakes = result.fakes
    kept, found = np.asarray(fakes["found_after_rb"]), np.asarray(fakes["found"])
    assert np.all(found[kept])  # the cut only removes
    bright = found & (np.asarray(fakes["snr"]) >= 10)
    assert kept[bright].mean() > 0.8  # bright isolated fakes are called real
    assert s["completeness_after_rb"] == pytest.approx(kept.mean())
    assert 0 <= s["false_candidates_per_frame_after_rb"] <= s["false_candidates_per_frame"]
    # Without a model there is no rb column and no after-cut figures.
    plain = evaluate_pair(pair.science, pair.reference, config)
    assert "rb" not in plain.fakes.colnames and "completeness_after_rb" not in plain.summary


def test_completeness_magnitude_interpolates() -> None:
    mag = np.linspace(18, 24, 600)
    found = mag < 22.0  # a step at 22
    assert completeness_magnitude(mag, found, 0.5) == pytest.approx(22.0, abs=0.3)
    assert np.isnan(completeness_magnitude(mag[:5], found[:5], 0.5))


def test_cli_evaluate_writes_summary_csv_plots_and_report(
    pair: SimulatedPair, tmp_path: Path
) -> None:
    paths = pair.write(tmp_path / "in")
    out = tmp_path / "ev"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--reference",
            str(paths["reference"]),
            str(paths["science"]),
            "--out",
            str(out),
            "--n-fakes",
            "40",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_fakes"] == 40
    # The shipped real/bogus model is applied by default: figures after its cut.
    assert summary["completeness_after_rb"] <= summary["completeness"]
    assert summary["false_candidates_per_frame_after_rb"] <= summary["false_candidates_per_frame"]
    assert "found_after_rb" in (out / "fakes.csv").read_text().splitlines()[0]
    for name in ("fakes.csv", "completeness_snr.png", "completeness_mag.png", "residuals.png"):
        assert (out / name).stat().st_size > 0
    assert "Injection" in (out / "report.html").read_text()
    assert "transient_on_galaxy" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    "bad",
    [
        ["--snr-min", "10", "--snr-max", "5"],
        ["--snr-min", "0"],
        ["--n-fakes", "0"],
        ["--on-galaxies", "1.5"],
    ],
)
def test_cli_evaluate_rejects_bad_arguments(
    pair: SimulatedPair, tmp_path: Path, bad: list[str]
) -> None:
    # real input files, so the exit code comes from the argument check itself
    paths = pair.write(tmp_path / "in")
    result = CliRunner().invoke(
        app, ["evaluate", "--reference", str(paths["reference"]), str(paths["science"]), *bad]
    )
    assert result.exit_code == 2, result.output
    assert "0 < snr-min < snr-max" in result.output
