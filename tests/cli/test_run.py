"""Tests of the `astrid` command line through Typer's runner."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from astrid import __version__
from astrid.catalog import connect
from astrid.cli import app
from astrid.preprocess.master_files import write_master
from astrid.simulation import simulate_pair
from small_field import SMALL_FIELD

SMALL = SMALL_FIELD

runner = CliRunner()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL, seed=3).write(tmp_path_factory.mktemp("cli") / "inputs")


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
    packets = sorted((out / "alerts").glob("*.avro"))
    assert packets, "the field's real transients pass the operating point"
    assert f"alerts: {len(packets)} new in {out / 'alerts'}" in result.output.replace("\n", "")
    assert all(p.with_suffix(".astrid.json").is_file() for p in packets)


def test_run_no_alerts(pair: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "-r", str(pair["reference"]), "-o", str(out), "--no-alerts"]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path), str(pair["science"])])

    assert result.exit_code == 0, result.output
    assert not (out / "alerts").exists() and "alerts:" not in result.output


CUTOUT_CELL = re.compile(r'<td class="l cut">((?:<img alt="cutout" [^>]*>)*)</td>')


def test_run_writes_a_report_with_frames_scorr_and_triplets(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("astrid.pipeline.report.MAX_CUTOUT_ROWS", 2)  # rendering is slow
    out = tmp_path / "out"
    args = ["run", "-r", str(pair["reference"]), "-o", str(out), "--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, str(pair["science"])])

    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.html'}" in result.output.replace("\n", "")
    html = (out / "report.html").read_text()
    n = len(_candidates(out / "candidates.csv"))
    assert n > 2
    assert '<td class="l name">science.fits</td><td>done</td>' in html
    assert html.count('alt="S_corr map"') == 1
    # Science, reference and difference in one cell (one row), for the first two only.
    cells = CUTOUT_CELL.findall(html)
    assert len(cells) == n
    assert [cell.count("<img") for cell in cells] == [3, 3] + [0] * (n - 2)
    assert ".cut { white-space: nowrap; }" in html
    assert f"Cutouts are shown for the first 2 of {n} candidates only (at most" in html


def test_run_on_a_narrow_terminal_keeps_names_whole(pair: dict[str, Path], tmp_path: Path) -> None:
    names = [f"DEC-OBS18A-0034_c4d_18041{i}_0{i}2345_ooi_g_v1.fits" for i in range(3)]
    for name in names[:2]:  # the same content twice: done, then duplicate
        shutil.copy(pair["science"], tmp_path / name)
    (tmp_path / names[2]).write_text("not a FITS file")
    args = ["run", "-r", str(pair["reference"]), "-o", str(tmp_path / "out")]
    args += ["--data-dir", str(tmp_path / "data"), *(str(tmp_path / n) for n in names)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTRID_")}
    result = subprocess.run(
        [sys.executable, "-m", "astrid.cli", *args],
        env={**env, "COLUMNS": "80", "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name, status in zip(names, ("done", "duplicate", "failed"), strict=True):
        (line,) = [x for x in lines if name in x and status in x and not x.startswith("failed:")]
        assert len(line) <= 80, result.stdout
    # The failure: one line with the full path, the stage and the message.
    (failure,) = [line for line in lines if line.startswith("failed:")]
    assert str(tmp_path / names[2]) in failure and "at stage read" in failure


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
    assert score["completeness_snr_ge_8"] >= 0.7  # measured 0.75 (6 of 8) on seed 1
    assert (out / "inputs" / "truth.csv").is_file()
    assert (out / "data" / "astrid.sqlite").is_file()


# -- calibration ----------------------------------------------------------------------------

CAL_SHAPE = (64, 64)
DARK_RATE = 0.5  # ADU / s
DARK_EXPTIME = 100.0
FLAT_EXPTIME = 10.0


def _write_frame(path: Path, data: np.ndarray, exptime: float | None = None) -> Path:
    header = fits.Header()
    if exptime is not None:
        header["EXPTIME"] = exptime
    fits.PrimaryHDU(data=data.astype(np.float32), header=header).writeto(path)
    return path


@pytest.fixture
def raw_calibration(tmp_path: Path) -> dict[str, list[Path]]:
    """Bias, dark and flat exposures with known level, dark current and gradient."""
    rng = np.random.default_rng(11)
    xx = np.broadcast_to(np.arange(CAL_SHAPE[1], dtype=float), CAL_SHAPE)
    bias = 300.0 + 2.0 * np.sin(xx / 5.0)
    gradient = 0.9 + 0.2 * xx / (CAL_SHAPE[1] - 1)

    def noisy(mean: np.ndarray) -> np.ndarray:
        return mean + rng.normal(0.0, 3.0, CAL_SHAPE)

    frames: dict[str, list[Path]] = {"bias": [], "dark": [], "flat": []}
    for i in range(5):
        frames["bias"].append(_write_frame(tmp_path / f"bias{i}.fits", noisy(bias)))
    for i in range(3):
        dark = noisy(bias + DARK_RATE * DARK_EXPTIME)
        frames["dark"].append(_write_frame(tmp_path / f"dark{i}.fits", dark, DARK_EXPTIME))
    for i, level in enumerate((10_000.0, 12_000.0, 14_000.0)):
        flat = noisy(bias + DARK_RATE * FLAT_EXPTIME + level * gradient)
        frames["flat"].append(_write_frame(tmp_path / f"flat{i}.fits", flat, FLAT_EXPTIME))
    return frames


def test_masters_writes_bias_dark_and_flat(
    raw_calibration: dict[str, list[Path]], tmp_path: Path
) -> None:
    out = tmp_path / "masters"
    args = ["masters", "--out", str(out)]
    for kind, paths in raw_calibration.items():
        args += [f"--{kind}", *map(str, paths)]
    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    bias = fits.getdata(out / "master_bias.fits")
    dark = fits.getdata(out / "master_dark.fits")
    flat = fits.getdata(out / "master_flat.fits")
    assert bias.shape == dark.shape == flat.shape == CAL_SHAPE
    assert float(np.median(bias)) == pytest.approx(300.0, abs=0.5)
    assert float(np.median(dark)) == pytest.approx(DARK_RATE, abs=0.02)
    assert float(np.median(flat)) == pytest.approx(1.0, abs=1e-3)
    # The gradient 0.9 -> 1.1 across x has median 1, so the master flat is the gradient.
    expected = 0.9 + 0.2 * np.arange(CAL_SHAPE[1]) / (CAL_SHAPE[1] - 1)
    np.testing.assert_allclose(flat.mean(axis=0), expected, rtol=2e-3)
    header = fits.getheader(out / "master_dark.fits")
    assert (header["BUNIT"], header["NCOMBINE"], header["IMCMB003"]) == ("adu/s", 3, "dark2.fits")
    assert fits.getheader(out / "master_flat.fits")["NCOMBINE"] == 3
    for kind, n in (("bias", 5), ("dark", 3), ("flat", 3)):
        assert any(kind in line and f" {n} " in line for line in result.output.splitlines())


def test_masters_with_a_non_fits_frame_exits_2(
    raw_calibration: dict[str, list[Path]], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file")
    out = tmp_path / "masters"
    bias = [*map(str, raw_calibration["bias"][:2]), str(junk)]
    result = runner.invoke(app, ["masters", "--out", str(out), "--bias", *bias])

    assert result.exit_code == 2, result.output
    assert "error" in result.output
    assert str(junk) in result.output.replace("\n", "")
    assert not (out / "master_bias.fits").exists()


def test_run_with_a_flat_of_the_wrong_shape_fails_the_frame(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    flat = write_master(tmp_path / "flat.fits", np.ones(CAL_SHAPE), kind="flat", sources=[])
    args = ["run", "-r", str(pair["reference"]), "-o", str(tmp_path / "out"), "--flat", str(flat)]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "data"), str(pair["science"])])

    assert result.exit_code == 1, result.output
    assert "failed" in result.output
    assert "calibrate" in result.output


def test_rescore_with_a_bad_model_file_exits_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    result = runner.invoke(
        app, ["rescore", "--model-file", str(junk), "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 2
    assert "not a usable ONNX model" in result.output and "junk.onnx" in result.output


def test_run_isolates_every_frame(tmp_path: Path) -> None:
    # one frame or many, a native crash fails the frame, not the command
    from astrid.cli.run import open_pipeline
    from astrid.config import Settings
    from astrid.pipeline.config import PipelineConfig

    settings = Settings(data_dir=tmp_path / "data")
    pipeline = open_pipeline(settings, PipelineConfig.from_settings(settings))
    try:
        assert pipeline.isolate
    finally:
        pipeline.catalog.close()


def test_run_with_unusable_online_context_settings_stops_with_why(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASTRID_CONTEXT_ONLINE", '["tns"]')  # no bot key, id or name
    args = ["run", "-r", str(pair["reference"]), "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path), str(pair["science"])])
    assert result.exit_code == 2, result.output
    assert "tns_api_key" in result.output.replace("\n", "")
    assert not (tmp_path / "astrid.sqlite").exists()  # stopped before connecting


def test_an_unreachable_database_is_one_line_naming_it_without_the_password(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://astrid:s3cret@127.0.0.1:{port}/astrid"
    monkeypatch.setenv("ASTRID_DATABASE_URL", url)
    args = ["run", "-r", str(pair["reference"]), "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path), str(pair["science"])])
    output = result.output.replace("\n", "")
    assert result.exit_code == 2, result.output
    assert (
        f"cannot reach the catalog database at postgresql+psycopg://astrid:***@127.0.0.1:{port}/astrid"
        in output
    )
    assert "s3cret" not in output and "Traceback" not in output


def test_run_writes_prometheus_metrics_for_a_textfile_collector(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    metrics = tmp_path / "textfile" / "astrid.prom"
    metrics.parent.mkdir()
    args = ["run", "-r", str(pair["reference"]), "-o", str(tmp_path / "out")]
    args += ["--data-dir", str(tmp_path / "data"), "--no-alerts", "--metrics-file", str(metrics)]
    unreadable = tmp_path / "unreadable.fits"
    unreadable.write_text("not FITS")
    result = runner.invoke(app, [*args, str(pair["science"]), str(unreadable)])
    assert result.exit_code == 1, result.output  # one frame failed
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert samples['astrid_frames_total{failed_stage="",status="done"}'] == 1
    assert samples['astrid_frames_total{failed_stage="read",status="failed"}'] == 1
    assert samples['astrid_pipeline_stage_duration_seconds_count{stage="difference"}'] == 1
    assert samples["astrid_candidates_processed_total"] >= 1
    assert samples["astrid_batch_last_run_timestamp_seconds"] > 1.7e9
    assert not list(metrics.parent.glob("*.tmp*")), "written atomically"


def test_run_on_an_unreachable_scheduler_is_one_line(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astrid.pipeline import dask_frames

    monkeypatch.setattr(dask_frames, "CONNECT_TIMEOUT_S", 1.0)
    args = ["run", "-r", str(pair["reference"]), "-o", str(tmp_path / "out")]
    args += ["--data-dir", str(tmp_path / "data"), "--scheduler", "tcp://127.0.0.1:9"]
    result = runner.invoke(app, [*args, str(pair["science"])])
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
