"""The ML stage: the shipped model is registered and used, versions are recorded, rescoring."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from astrid.catalog import connect
from astrid.catalog.model_registry import activate_model, list_models
from astrid.detection.realbogus import shipped_model_path
from astrid.errors import ModelError
from astrid.pipeline.runner import Pipeline
from astrid.pipeline.scoring import register_model_file, rescore, resolve_model
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from onnx_graphs import with_doc_string
from small_field import SMALL_FIELD


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder (catalog + store) after one scored run of a small simulated field."""
    root = tmp_path_factory.mktemp("scored")
    paths = simulate_pair(SMALL_FIELD, seed=5).write(root / "pair")
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        report = Pipeline(catalog, ObjectStore(str(root / "store")), workers=1).run(
            paths["reference"], [paths["science"]], root / "out"
        )
    assert report.frames[0].status == "done", report.frames[0].error
    (root / "inputs.txt").write_text(f"{paths['reference']}\n{paths['science']}\n")
    return root


def _copy(done: Path, tmp_path: Path) -> Path:
    shutil.copytree(done, tmp_path / "state")
    return tmp_path / "state"


def test_candidates_are_scored_by_the_registered_shipped_model(done: Path) -> None:
    with connect(f"sqlite:///{done / 'astrid.sqlite'}") as catalog:
        (record,) = list_models(catalog)
        assert (record.name, record.version, record.active) == ("realbogus", 1, True)
        assert record.metrics["test"]["auc"] > 0.9
        rows = catalog.candidates()
    assert rows and all(r["model_version_id"] == record.id for r in rows)
    rb = np.array([r["rb"] for r in rows])
    assert np.all((rb >= 0) & (rb <= 1))
    # The simulated field's bright transients are called real; something is called bogus.
    assert rb.max() > 0.9


def test_rescore_with_a_new_version_records_it(done: Path, tmp_path: Path) -> None:
    root = _copy(done, tmp_path)
    store = ObjectStore(str(root / "store"))
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(shipped_model_path().read_bytes() + b"")  # same bytes: same version
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        before = {r["id"]: r["rb"] for r in catalog.candidates()}
        assert register_model_file(catalog, store, copy).version == 1
        # A different file (same weights, re-saved card) is a new version.
        copy.write_bytes(with_doc_string(copy.read_bytes(), "re-saved"))
        v2 = register_model_file(catalog, store, copy)
        assert v2.version == 2 and v2.active
        n = rescore(catalog, store, resolve_model(catalog, store))
        rows = catalog.candidates()
        assert n == len(rows) == len(before)
        assert {r["model_version_id"] for r in rows} == {v2.id}
        # Same weights: the stored cutouts reproduce the pipeline's scores.
        np.testing.assert_allclose(
            [r["rb"] for r in rows], [before[r["id"]] for r in rows], atol=1e-4
        )
        activate_model(catalog, "realbogus", 1)
        assert resolve_model(catalog, store).version == 1


@pytest.mark.local_store  # it corrupts the stored model file in place
def test_a_broken_model_file_stops_the_run_before_anything_is_stored(
    done: Path, tmp_path: Path
) -> None:
    root = _copy(done, tmp_path)
    store = ObjectStore(str(root / "store"))
    reference, science = (root / "inputs.txt").read_text().split()
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        (record,) = list_models(catalog)
        local = store.local_path(record.file_key)
        assert local is not None
        local.chmod(0o644)
        local.write_bytes(b"corrupt")
        runs_before = len(catalog.runs())
        with pytest.raises(ModelError, match="not a usable ONNX model"):
            Pipeline(catalog, store, workers=1).run(reference, [science], tmp_path / "out2")
        assert len(catalog.runs()) == runs_before
        local.unlink()
        with pytest.raises(ModelError, match="missing from the store"):
            resolve_model(catalog, store)
        # Without the ML stage the pipeline still runs (scores stay empty).
        report = Pipeline(catalog, store, workers=1, score=False).run(
            reference, [science], tmp_path / "out3"
        )
        assert report.frames[0].status in ("done", "skipped")


def test_the_unet_detector_is_selectable(done: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from astrid.difference.subtract import SubtractConfig
    from astrid.errors import ConfigurationError
    from astrid.pipeline.config import PipelineConfig

    with pytest.raises(ConfigurationError, match="detector must be one of"):
        SubtractConfig(detector="magic")
    root = _copy(done, tmp_path)
    reference, science = (root / "inputs.txt").read_text().split()
    base = PipelineConfig()
    config = replace(base, subtract=replace(base.subtract, detector="unet"))
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        scorr_rows = catalog.candidates()
        report = Pipeline(catalog, ObjectStore(str(root / "store")), config, workers=1).run(
            reference, [science], tmp_path / "out-unet"
        )
        (frame,) = report.frames
        assert frame.status == "done", frame.error  # a new run: the detector is in the key
        rows = catalog.candidates(run_id=frame.run_id)
    assert rows
    assert all(r["unet_prob"] >= 0.5 for r in rows)
    assert all(r["rb"] is not None for r in rows)
    # The bright S_corr candidates that the model calls real are found by the U-Net too.
    bright = [r for r in scorr_rows if r["scorr"] > 20 and r["rb"] > 0.9]
    assert bright
    found = sum(
        any(abs(r["x"] - b["x"]) < 3 and abs(r["y"] - b["y"]) < 3 for r in rows) for b in bright
    )
    assert found >= 0.9 * len(bright)
