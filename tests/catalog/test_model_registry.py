"""Model versions: registration, activation, lookups and score updates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from astrid.catalog import Catalog, connect
from astrid.catalog.model_registry import (
    SCORE_FIELDS,
    activate_model,
    active_model,
    get_model,
    list_models,
    register_model,
    update_scores,
)
from astrid.errors import StorageError


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    yield cat
    cat.close()


def _register(catalog: Catalog, key: str, **kw):
    return register_model(
        catalog,
        name=kw.pop("name", "realbogus"),
        file_key=key,
        data_hash="d" * 64,
        metrics={"test": {"auc": 0.99}},
        card={"version": key},
        **kw,
    )


def test_versions_count_up_and_one_is_active(catalog):
    v1 = _register(catalog, "a" * 64 + ".onnx")
    v2 = _register(catalog, "b" * 64 + ".onnx")
    other = _register(catalog, "c" * 64 + ".onnx", name="unet")
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert active_model(catalog, "realbogus").version == 2
    assert active_model(catalog, "unet").version == 1  # names are independent
    again = _register(catalog, "a" * 64 + ".onnx", activate=False)
    assert again.id == v1.id and not again.active  # same file: same version
    assert activate_model(catalog, "realbogus", 1).active
    assert [m.active for m in list_models(catalog, "realbogus")] == [True, False]
    assert get_model(catalog, "realbogus", 2).metrics == {"test": {"auc": 0.99}}
    with pytest.raises(StorageError, match="version 9"):
        activate_model(catalog, "realbogus", 9)
    with pytest.raises(StorageError, match="version 9"):
        get_model(catalog, "realbogus", 9)
    assert active_model(catalog, "nothing") is None


def test_unstorable_metrics_are_refused(catalog):
    with pytest.raises(StorageError, match="metrics of model"):
        register_model(
            catalog, name="m", file_key="k", data_hash="", metrics={"x": object()}, card={}
        )
    assert list_models(catalog) == []


def _candidates(catalog: Catalog) -> list[int]:
    obs = catalog.register_observation(
        content_sha256="e" * 64,
        name="sci",
        path=Path("/d/sci.fits"),
        role="science",
        mjd=60000.0,
        filter="r",
        exptime=30.0,
        gain=1.0,
        shape=(10, 10),
        wcs_header="",
    )
    run = catalog.start_run(
        key="k" * 64, science_id=obs, reference_id=obs, config={}, code_version="t"
    )
    rows = [
        {"x": 1.0 + i, "y": 2.0, "ra": 10.0, "dec": 20.0, "sign": 1, "scorr": 6.0} for i in range(3)
    ]
    catalog.finish_run(run, candidates=rows, stats={}, timings={}, products={})
    return [c["id"] for c in catalog.candidates(run_id=run)]


def test_scores_update_all_or_nothing(catalog):
    ids = _candidates(catalog)
    model = _register(catalog, "a" * 64 + ".onnx")
    scores = {name: [0.1, 0.5, 0.9] for name in SCORE_FIELDS}
    assert update_scores(catalog, ids, scores, model.id) == 3
    rows = catalog.candidates()
    assert [r["rb"] for r in rows] == [0.1, 0.5, 0.9]
    assert {r["model_version_id"] for r in rows} == {model.id}
    newer = _register(catalog, "b" * 64 + ".onnx")
    with pytest.raises(StorageError, match="do not exist"):
        update_scores(catalog, [*ids[:2], 999_999], scores, newer.id)
    with pytest.raises(StorageError, match="'ood' missing"):
        update_scores(catalog, ids, {"rb": [0.2] * 3}, newer.id)
    with pytest.raises(StorageError, match="no model version"):
        update_scores(catalog, ids, scores, 12345)
    rows = catalog.candidates()
    assert [r["rb"] for r in rows] == [0.1, 0.5, 0.9]  # untouched by the failures
    assert {r["model_version_id"] for r in rows} == {model.id}
