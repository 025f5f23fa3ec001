"""Frames given by URL (issue 17): ``s3://bucket/frame.fits`` runs as the same file on disk
does; the observation records the URL; a URL that cannot be read fails its frame, named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from astrid.catalog import connect
from astrid.errors import InvalidImageError
from astrid.pipeline.runner import Pipeline
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from s3_server import S3Server
from small_field import SMALL_FIELD


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL_FIELD, seed=6).write(tmp_path_factory.mktemp("remote") / "pair")


@pytest.fixture
def urls(s3_server: S3Server, pair: dict[str, Path]) -> dict[str, str]:
    """The pair uploaded to a fresh bucket: role -> ``s3://`` URL."""
    import s3fs

    prefix = s3_server.new_store_url().replace("/store", "/frames")
    fs = s3fs.S3FileSystem(endpoint_url=s3_server.endpoint)
    out = {}
    for role, path in pair.items():
        url = f"{prefix}/{path.name}"
        fs.put_file(str(path), url)
        out[role] = url
    return out


def _same(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in {"id", "run_id", "created_at", "object_id"}}


def _run(root: Path, reference: str, sciences: list[str]) -> tuple[Any, list[dict[str, Any]]]:
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(root / "store")), publish_alerts=False)
        report = pipeline.run(reference, sciences, root / "out")
        return report, catalog.candidates()


def test_frames_given_by_url_give_the_candidates_of_the_files(
    pair: dict[str, Path], urls: dict[str, str], tmp_path: Path
) -> None:
    files, expected = _run(tmp_path / "files", str(pair["reference"]), [str(pair["science"])])
    remote, got = _run(tmp_path / "urls", urls["reference"], [urls["science"]])
    (frame,) = remote.frames
    assert frame.status == "done", frame.error
    assert frame.path == urls["science"]
    assert frame.n_candidates == files.frames[0].n_candidates > 0
    assert [_same(r) for r in got] == [_same(r) for r in expected]
    with connect(f"sqlite:///{tmp_path / 'urls' / 'astrid.sqlite'}") as catalog:
        paths = {o["role"]: o["path"] for o in catalog.observations()}
        assert paths == {"science": urls["science"], "reference": urls["reference"]}
        (run,) = catalog.runs()
        assert run.status == "done" and run.n_candidates == frame.n_candidates
    # no temporary copy of a fetched frame is left behind
    assert not list(Path(tmp_path / "urls").rglob("astrid-input-*"))


def test_a_url_that_cannot_be_read_fails_its_frame_alone(
    urls: dict[str, str], tmp_path: Path
) -> None:
    missing = urls["science"].replace("science", "missing")
    report, _ = _run(tmp_path, urls["reference"], [missing, urls["science"]])
    failed, good = report.frames
    assert good.status == "done", good.error
    assert failed.status == "failed" and failed.failed_stage == "read"
    assert failed.error is not None and missing in failed.error
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        (bad,) = [o for o in catalog.observations() if o["status"] == "failed"]
        assert bad["path"] == missing and bad["name"] == "missing.fits"


def test_an_unreadable_reference_url_stops_the_batch_naming_it(
    urls: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(InvalidImageError, match=r"nosuch://bucket/reference\.fits"):
        _run(tmp_path, "nosuch://bucket/reference.fits", [urls["science"]])
    missing = urls["reference"].replace("reference", "gone")
    with pytest.raises(InvalidImageError, match=re.escape(missing)):
        _run(tmp_path, missing, [urls["science"]])
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        assert catalog.runs() == []
