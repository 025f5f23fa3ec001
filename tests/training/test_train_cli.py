"""`astrid train`, `astrid models` and `astrid rescore` end to end on a tiny training set."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from astrid.catalog import connect
from astrid.catalog.model_registry import list_models
from astrid.cli import app
from astrid.detection.realbogus import RealBogusModel

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("sklearn")

runner = CliRunner()


@pytest.mark.slow
def test_train_builds_trains_exports_and_registers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ["train", "--data-dir", str(data), "--n-train", "1", "--n-val", "1", "--n-test", "1"]
    args += ["--size", "512", "--no-goto", "--epochs", "1", "--epoch-size", "256"]
    args += ["--seed", "3", "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "registered as v1" in result.output
    (onnx_file,) = (data / "models").glob("realbogus-*.onnx")
    model = RealBogusModel.load(onnx_file)
    card = model.public_card
    assert card["data"]["config"]["n_train"] == 1
    assert set(card["metrics"]) >= {"val", "test", "throughput_candidates_per_s_2_threads"}
    assert card["metrics"]["onnx_max_abs_rb_difference"] < 1e-3
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        (record,) = list_models(catalog)
        assert record.active and record.data_hash == card["data"]["digest"]

    # The set is reused: a second run trains again without rebuilding (same digest folder).
    (set_dir,) = (data / "training").iterdir()
    stamp = {p.name: p.stat().st_mtime for p in (set_dir / "fields").iterdir()}
    # Leaving units out (here: real pairs, none in this set) is named in the version.
    result = runner.invoke(app, [*args, "--no-activate", "--exclude-source", "real-*"])
    assert result.exit_code == 0, result.output
    assert {p.name: p.stat().st_mtime for p in (set_dir / "fields").iterdir()} == stamp
    versions = {RealBogusModel.load(p).card["version"] for p in (data / "models").glob("*.onnx")}
    assert any(v.endswith("-without-real-") for v in versions), versions

    listed = runner.invoke(app, ["models", "list", "--data-dir", str(data)])
    assert listed.exit_code == 0 and "realbogus" in listed.output
    assert runner.invoke(app, ["models", "activate", "2", "--data-dir", str(data)]).exit_code == 0
    bad = runner.invoke(app, ["models", "activate", "7", "--data-dir", str(data)])
    assert bad.exit_code == 2 and "version 7" in bad.output
    rescored = runner.invoke(app, ["rescore", "--data-dir", str(data)])
    assert rescored.exit_code == 0 and "scored 0 candidates with realbogus v2" in rescored.output
