"""Tests of runs over registered observations: read from the object store, never re-ingested."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from astrid.catalog import Catalog, connect
from astrid.errors import AstridError, InvalidImageError
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.pipeline.inputs import FrameSource, register_observation
from astrid.pipeline.runner import Pipeline
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL_FIELD, seed=3).write(tmp_path_factory.mktemp("inputs"))


def _register(catalog: Catalog, store: ObjectStore, path: Path, role: str) -> int:
    return register_observation(
        catalog, store, path, read_image(path), sha256=file_sha256(path), role=role
    )


def _no_ingest(*args: object, **kwargs: object) -> None:
    raise AssertionError("a registered observation was hashed or read from its path again")


def test_registered_observations_run_from_the_store(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files are registered, then gone from disk: only the store's copies remain.
    files = {role: tmp_path / "gone" / path.name for role, path in pair.items()}
    files["reference"].parent.mkdir()
    for role, path in pair.items():
        shutil.copy(path, files[role])
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        ref_id = _register(catalog, store, files["reference"], "reference")
        sci_id = _register(catalog, store, files["science"], "science")
        shutil.rmtree(files["reference"].parent)

        pipeline = Pipeline(catalog, store, workers=1, score=False)
        with monkeypatch.context() as patched:
            patched.setattr("astrid.pipeline.runner.admit_frame", _no_ingest)
            (frame,) = pipeline.run(ref_id, [sci_id], tmp_path / "out").frames

        assert frame.status == "done", frame.error
        assert frame.observation_id == sci_id
        assert frame.path == f"observation {sci_id} (science)"
        assert frame.product_stem is not None and frame.product_stem.startswith("science.")
        assert Path(frame.products_local["difference"]).is_file()
        (run,) = catalog.runs()
        assert (run.science_id, run.reference_id, run.status) == (sci_id, ref_id, "done")
        assert len(catalog.observations()) == 2
        assert [o["status"] for o in catalog.observations() if o["id"] == sci_id] == ["processed"]
        events = Counter(e.type for e in catalog.events())
        assert events["ObservationIngested"] == 0 and events["CandidatesFound"] == 1

        # The same content given as files: the same run key, so nothing is redone.
        (again,) = pipeline.run(pair["reference"], [pair["science"]], tmp_path / "out").frames
        assert (again.status, again.run_id, again.observation_id) == ("skipped", run.id, sci_id)
        assert len(catalog.observations()) == 2


def test_unknown_observations(pair: dict[str, Path], tmp_path: Path) -> None:
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        store = ObjectStore(str(tmp_path / "store"))
        ref_id = _register(catalog, store, pair["reference"], "reference")
        pipeline = Pipeline(catalog, store, workers=1, score=False)

        (frame,) = pipeline.run(ref_id, [999], tmp_path / "out").frames
        assert (frame.status, frame.failed_stage) == ("failed", "read")
        assert frame.error == "observation 999 does not exist"
        assert catalog.runs() == []
        (rejected,) = catalog.events(type="ObservationRejected")
        assert rejected.payload["observation_id"] == 999

        with pytest.raises(AstridError, match="observation 998 does not exist"):
            pipeline.run(998, [ref_id], tmp_path / "out")
        assert catalog.runs() == [] and len(catalog.observations()) == 1


def test_a_remote_object_is_streamed_under_its_observation_name(
    pair: dict[str, Path], tmp_path: Path
) -> None:
    source = FrameSource(label="observation 7 (sky)", url=pair["science"].as_uri(), name="sky")
    image = source.read()
    plain = read_image(pair["science"])
    assert (image.meta.name, image.path, image.label) == ("sky", source.label, source.label)
    np.testing.assert_array_equal(image.data, plain.data)
    assert replace(image.meta, name=plain.meta.name) == plain.meta

    junk = tmp_path / "0123abcd.fits"
    junk.write_bytes(b"not FITS at all" * 200)
    broken = FrameSource(label="observation 8 (junk)", url=junk.as_uri(), name="junk")
    with pytest.raises(InvalidImageError, match=r"^observation 8 \(junk\): not a readable FITS"):
        broken.read()
