"""A worker prepares a reference file once for consecutive frames (`astrid.pipeline.frame`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astrid.pipeline import frame as frame_module
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.frame import process_frame
from astrid.pipeline.inputs import FrameSource
from astrid.preprocess.pair import prepare_frame
from astrid.simulation import simulate_pair
from small_field import SMALL_FIELD


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path_factory.mktemp("pair"))
    return {"science": Path(paths["science"]), "reference": Path(paths["reference"])}


def _run(pair: dict[str, Path], out: Path) -> np.ndarray:
    outcome = process_frame(
        FrameSource.file(pair["science"]), FrameSource.file(pair["reference"]), str(out),
        PipelineConfig(), threads=1,
    )  # fmt: skip
    assert outcome.ok, outcome.error
    assert outcome.candidates is not None
    return np.array([outcome.candidates["x"], outcome.candidates["y"], outcome.candidates["scorr"]])


def test_a_reference_is_prepared_once_and_gives_the_same_candidates(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str] = []

    def counting(image, config, *, role="image"):  # type: ignore[no-untyped-def]
        prepared.append(role)
        return prepare_frame(image, config, role=role)

    monkeypatch.setattr(frame_module, "_REFERENCES", frame_module._ReferenceCache())
    monkeypatch.setattr(frame_module, "prepare_frame", counting)
    first = _run(pair, tmp_path / "a")
    again = _run(pair, tmp_path / "b")
    assert prepared == ["reference"]  # the science frames are prepared in prepare_pair
    np.testing.assert_array_equal(first, again)  # nothing of the kept preparation changed
    # the reference file rewritten (new content, same name): prepared again
    with fits.open(pair["reference"]) as hdus:
        data, header = hdus[0].data * 1.0, hdus[0].header
    fits.PrimaryHDU(data, header).writeto(pair["reference"], overwrite=True)
    stat = pair["reference"].stat()
    os.utime(pair["reference"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    np.testing.assert_array_equal(_run(pair, tmp_path / "c"), first)
    assert prepared == ["reference", "reference"]


def test_a_url_is_known_by_content_only_when_it_is_a_store_key() -> None:
    digest = "ab" * 32
    key = f"s3://bucket/store/sha256/ab/ab/{digest}.fits"
    assert frame_module._file_identity(FrameSource(label="r", url=key)) == (key,)
    for url in ("s3://bucket/night/ref.fits", f"s3://bucket/sha256/ab/ab/{digest}/x.fits"):
        assert frame_module._file_identity(FrameSource(label="r", url=url)) is None


def test_processes_of_a_batch_share_the_preparation_through_its_folder(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    prepared: list[str] = []

    def counting(image, config, *, role="image"):  # type: ignore[no-untyped-def]
        prepared.append(role)
        return prepare_frame(image, config, role=role)

    monkeypatch.setattr(frame_module, "prepare_frame", counting)
    kept = tmp_path / "kept"
    kept.mkdir()
    outcomes = []
    for k in range(3):  # a fresh cache each time: a new process of the batch
        monkeypatch.setattr(frame_module, "_REFERENCES", frame_module._ReferenceCache())
        if k == 2:  # a damaged file is prepared again, with a warning, not a failure
            (only,) = kept.glob("*.pickle")
            only.write_bytes(only.read_bytes()[:100])
        outcome = process_frame(
            FrameSource.file(pair["science"]), FrameSource.file(pair["reference"]),
            str(tmp_path / f"out{k}"), PipelineConfig(), threads=1, reference_cache=str(kept),
        )  # fmt: skip
        outcomes.append(outcome)
    assert prepared == ["reference", "reference"]  # the second process read the first's
    assert "cannot read the kept reference preparation" in caplog.text
    assert [p.name for p in kept.iterdir() if p.name.startswith(".")] == []  # no partial file
    tables = [o.candidates for o in outcomes]
    assert all(t is not None and len(t) > 0 for t in tables)
    for table in tables[1:]:
        assert table is not None and tables[0] is not None
        np.testing.assert_array_equal(table["scorr"], tables[0]["scorr"])
