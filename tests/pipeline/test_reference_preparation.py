"""A reference file is prepared once for consecutive frames, a batch's processes and later
runs (`astrid.pipeline.reference_cache`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astrid.catalog import connect
from astrid.pipeline import frame as frame_module
from astrid.pipeline import reference_cache as cache_module
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.frame import process_frame
from astrid.pipeline.inputs import FrameSource
from astrid.pipeline.runner import Pipeline
from astrid.preprocess.pair import prepare_frame
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from small_field import SMALL_FIELD


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path_factory.mktemp("pair"))
    return {"science": Path(paths["science"]), "reference": Path(paths["reference"])}


def _run(
    pair: dict[str, Path], out: Path, folder: Path | None = None, threads: int = 1
) -> np.ndarray:
    outcome = process_frame(
        FrameSource.file(pair["science"]), FrameSource.file(pair["reference"]), str(out),
        PipelineConfig(), threads=threads,
        reference_cache=None if folder is None else str(folder),
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

    monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
    monkeypatch.setattr(cache_module, "prepare_frame", counting)
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
    assert cache_module.file_identity(FrameSource(label="r", url=key)) == (key,)
    for url in ("s3://bucket/night/ref.fits", f"s3://bucket/sha256/ab/ab/{digest}/x.fits"):
        assert cache_module.file_identity(FrameSource(label="r", url=url)) is None


def test_processes_of_a_batch_share_the_preparation_through_its_folder(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    prepared: list[str] = []

    def counting(image, config, *, role="image"):  # type: ignore[no-untyped-def]
        prepared.append(role)
        return prepare_frame(image, config, role=role)

    monkeypatch.setattr(cache_module, "prepare_frame", counting)
    kept = tmp_path / "kept"
    kept.mkdir()
    outcomes = []
    for k in range(3):  # a fresh cache each time: a new process of the batch
        monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
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


def _counting(prepared: list[str]):  # type: ignore[no-untyped-def]
    def counting(image, config, *, role="image"):  # type: ignore[no-untyped-def]
        prepared.append(role)
        return prepare_frame(image, config, role=role)

    return counting


def test_later_runs_read_the_kept_preparation(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `astrid run`-like pipelines, one after the other (each with a fresh process
    cache), against one reference: the second reads what the first kept."""
    prepared: list[str] = []
    monkeypatch.setattr(cache_module, "prepare_frame", _counting(prepared))
    kept = tmp_path / "data" / "cache" / "prepared"
    counts = []
    for k in range(2):
        monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
        with connect(f"sqlite:///{tmp_path / f'c{k}.sqlite'}") as catalog:
            pipeline = Pipeline(
                catalog, ObjectStore(str(tmp_path / f"store{k}")), workers=1, score=False,
                publish_alerts=False, reference_cache=kept,
            )  # fmt: skip
            report = pipeline.run(pair["reference"], [pair["science"]], tmp_path / f"out{k}")
        counts.append(report.frames[0].n_candidates)
    assert prepared == ["reference"]
    assert counts[0] == counts[1] > 0
    assert oct(kept.stat().st_mode & 0o777) == "0o700"
    assert len(list(kept.glob("*.pickle"))) == 1
    assert len(list(kept.glob("sources-*.fits"))) == 1  # the objects stage's host sources


def test_a_folder_others_may_write_to_is_not_read(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """A pickle runs code when read: a folder writable by others is not used at all."""
    prepared: list[str] = []
    monkeypatch.setattr(cache_module, "prepare_frame", _counting(prepared))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for k in range(2):
        monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
        outcome = process_frame(
            FrameSource.file(pair["science"]), FrameSource.file(pair["reference"]),
            str(tmp_path / f"out{k}"), PipelineConfig(), threads=1, reference_cache=str(shared),
        )  # fmt: skip
        assert outcome.ok, outcome.error
    assert prepared == ["reference", "reference"]
    assert list(shared.iterdir()) == []
    assert "writable by no one else" in caplog.text
    assert cache_module.persistent_folder(shared) is None


def test_another_code_version_prepares_again(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key holds a digest of the preparing code and libraries: what another AstrID
    kept is never read as this one's."""
    prepared: list[str] = []
    monkeypatch.setattr(cache_module, "prepare_frame", _counting(prepared))
    kept = cache_module.persistent_folder(tmp_path / "kept")
    assert kept is not None
    for digest in ("a", "a", "b"):
        monkeypatch.setattr(cache_module, "code_digest", lambda d=digest: d)
        monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
        outcome = process_frame(
            FrameSource.file(pair["science"]), FrameSource.file(pair["reference"]),
            str(tmp_path / "out"), PipelineConfig(), threads=1, reference_cache=kept,
        )  # fmt: skip
        assert outcome.ok, outcome.error
    assert prepared == ["reference", "reference"]
    assert len(list(Path(kept).glob("*.pickle"))) == 2


def test_prune_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    files = []
    for k, size in enumerate([300, 200, 100]):
        path = tmp_path / f"{k}.pickle"
        path.write_bytes(b"x" * size)
        os.utime(path, ns=(10**18 + k, 10**18 + k))  # 0 oldest, 2 newest
        files.append(path)
    (tmp_path / "other.txt").write_bytes(b"y" * 1000)  # not a kept preparation: left alone
    assert cache_module.prune(tmp_path, 600) == []
    assert cache_module.prune(tmp_path, 350) == [files[0]]
    assert cache_module.prune(tmp_path, 0) == files[1:]
    assert [p.name for p in tmp_path.iterdir()] == ["other.txt"]


def test_a_large_reference_is_prepared_beside_the_science_frame(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference is prepared in another process (``python -m
    astrid.pipeline.reference_aside``, which does not see this test's patches) while this
    one prepares the science frame: this process prepares no reference, and the candidates
    are those of preparing it here."""
    monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
    here = _run(pair, tmp_path / "here", tmp_path / "folder-here", threads=-1)
    prepared: list[str] = []
    monkeypatch.setattr(cache_module, "prepare_frame", _counting(prepared))
    monkeypatch.setattr(cache_module, "ASIDE_MIN_PIXELS", 0)
    monkeypatch.setattr(cache_module, "_cores", lambda: 2)
    monkeypatch.setattr(frame_module, "_REFERENCES", cache_module.ReferenceCache())
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    aside = _run(pair, tmp_path / "aside", folder, threads=-1)
    assert prepared == []  # the other process prepared it and kept it in the folder
    assert len(list(folder.glob("*.pickle"))) == 1
    np.testing.assert_array_equal(aside, here)


def test_a_reference_the_other_process_cannot_prepare_is_prepared_here(
    pair: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other process reads the file again and fails (here: a pixel limit it cannot
    meet): nothing is kept by it, and `prepared` prepares the reference in this process."""
    monkeypatch.setattr(cache_module, "ASIDE_MIN_PIXELS", 0)
    monkeypatch.setattr(cache_module, "_cores", lambda: 2)
    prepared: list[str] = []
    monkeypatch.setattr(cache_module, "prepare_frame", _counting(prepared))
    cache = cache_module.ReferenceCache()
    source = FrameSource.file(pair["reference"])
    image = source.read()
    config = PipelineConfig().prepare
    aside = cache.prepare_aside(source, image, config, str(tmp_path), max_pixels=1)
    assert aside is not None
    aside.join()
    assert not list(tmp_path.glob("*.pickle"))
    frame = cache.prepared(source, image, config, str(tmp_path))
    assert prepared == ["reference"] and frame.image is image
    assert cache.prepare_aside(source, image, config, str(tmp_path), max_pixels=1) is None
