"""`astrid train --with-labels`: curators' labels become training data; the fine-tuned model
is registered only when it beats the active one on the held-out labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from astrid.catalog import Catalog, connect
from astrid.catalog.curation import add_label
from astrid.catalog.model_registry import active_model
from astrid.cli import app
from astrid.config import Settings
from astrid.pipeline.labelled import labelled_candidates
from astrid.store import ObjectStore
from service_catalog import _fits

pytest.importorskip("torch")
pytest.importorskip("onnx")
runner = CliRunner()
N = 240


def _triplet(rng: np.random.Generator, blob: bool) -> list[np.ndarray]:
    """A new PSF-like source in science and difference, or a one-pixel spike (hot pixel)."""
    y, x = np.mgrid[:63, :63]
    reference = rng.normal(100.0, 5.0, (63, 63))
    science = reference + rng.normal(0, 5.0, (63, 63))
    if blob:
        science += 300.0 * np.exp(-((x - 31) ** 2 + (y - 31) ** 2) / (2 * 2.0**2))
    else:
        science[31, 31] += 3000.0
    return [science, reference, science - reference]


def _seed(catalog: Catalog, store: ObjectStore) -> list[tuple[int, bool]]:
    """One run of N candidates with stored cutouts; returns (id, is_blob)."""
    rng = np.random.default_rng(0)
    obs = {}
    for role in ("reference", "science"):
        key = store.put_bytes(_fits(np.full((8, 8), len(role), np.float32)), suffix=".fits")
        obs[role] = catalog.register_observation(
            content_sha256=key.split("/")[-1].split(".")[0], name=role, path=f"/d/{role}.fits",
            role=role, mjd=60000.0 + len(role), filter="r", exptime=60.0, gain=1.0,
            shape=(2048, 2048), wcs_header=None, store_key=key,
        )  # fmt: skip
    run = catalog.start_run(
        key="labels", science_id=obs["science"], reference_id=obs["reference"],
        config={}, code_version="test",
    )  # fmt: skip
    rows, blobs = [], []
    for k in range(N):
        blob = bool(k % 2)
        keys = [store.put_bytes(_fits(a), suffix=".fits") for a in _triplet(rng, blob)]
        rows.append(
            {
                "x": 10.0 + k, "y": 20.0 + k, "ra": 150 + k * 1e-3, "dec": 2.0, "sign": 1,
                "scorr": 8.0 + k % 7, "snr": 8.0 + k % 7, "flux": 1000.0, "flux_err": 50.0,
                "fwhm": 4.7 if blob else 1.0, "elongation": 1.05,
                "cutout_science_key": keys[0], "cutout_reference_key": keys[1],
                "cutout_difference_key": keys[2],
            }
        )  # fmt: skip
        blobs.append(blob)
    catalog.finish_run(run, candidates=rows, stats={}, timings={}, products={})
    ids = [int(c["id"]) for c in catalog.candidates(run_id=run)]
    return list(zip(ids, blobs, strict=True))


def test_labels_that_contradict_the_model_train_a_new_version(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with connect(settings.db_url) as catalog:
        store = ObjectStore(settings.store_root)
        seeded = _seed(catalog, store)
        # A telescope whose "real" changes are sharp single pixels and whose PSF-like blobs
        # are artifacts: what the shipped model calls real, these curators call bogus.
        for cid, blob in seeded[:-2]:
            add_label(catalog, candidate_id=cid, curator="ann",
                      label="bogus" if blob else "real", actor="ann")  # fmt: skip
        unsure, missing = seeded[-2][0], seeded[-1][0]
        add_label(catalog, candidate_id=unsure, curator="ann", label="unsure", actor="ann")
        add_label(catalog, candidate_id=missing, curator="ann", label="real", actor="ann")
        key = catalog.candidates(ids=[missing])[0]["cutout_difference_key"]
        path = store.local_path(key)
        assert path is not None
        path.unlink()
        found = labelled_candidates(catalog, store)
        assert len(found) == N - 2 and found.missing_cutouts == 1, "unsure and uncut left out"
        assert found.triplets.shape == (N - 2, 3, 63, 63)
        assert {int(r["id"]) for r in found.rows} == {c for c, _ in seeded[:-2]}

    result = runner.invoke(
        app, ["train", "--with-labels", "--epochs", "3", "--data-dir", str(settings.data_dir)]
    )
    assert result.exit_code == 0, result.output
    assert f"{N - 2} labelled candidates ({(N - 2) // 2} real" in result.output
    assert "registered as v2, active" in result.output, result.output
    with connect(settings.db_url) as catalog:
        record = active_model(catalog, "realbogus")
        assert record is not None and record.version == 2


def test_too_few_labels_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with connect(settings.db_url) as catalog:
        store = ObjectStore(settings.store_root)
        seeded = _seed(catalog, store)
        for cid, blob in seeded[:6]:
            add_label(catalog, candidate_id=cid, curator="ann",
                      label="real" if blob else "cosmic_ray", actor="ann")  # fmt: skip
    result = runner.invoke(app, ["train", "--with-labels", "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 2
    assert "lacks a class" in result.output and "label more" in result.output
