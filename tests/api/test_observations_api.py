"""Observations and runs: listing, downloads, FITS uploads (good and hostile), processing."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import func, select

from astrid.catalog.access import audit_log
from astrid.catalog.candidates import list_candidates
from astrid.catalog.models import Job, Observation
from astrid.catalog.query_params import CandidateFilters
from astrid.simulation import simulate_pair
from service_env import Env, build_env
from small_field import SMALL_FIELD

API = "/api/v1"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_pair(SMALL_FIELD, seed=5).write(tmp_path_factory.mktemp("upload"))


def _upload(env: Env, data: bytes, filename: str, **params: object) -> object:
    return env.client.post(
        f"{API}/observations",
        params={"filename": filename, **params},
        content=data,
        headers={**env.headers("admin"), "Content-Type": "application/fits"},
    )


def _counts(env: Env) -> tuple[int, int, int]:
    """Observations and jobs in the catalog, objects in the store."""
    with env.service.catalog.session() as session:
        n_obs = session.scalar(select(func.count(Observation.id))) or 0
        n_jobs = session.scalar(select(func.count(Job.id))) or 0
    fs, root = fsspec.core.url_to_fs(env.service.store.url_root)  # a folder or a bucket
    n_files = sum(1 for p in fs.find(root) if not p.endswith(".probe"))
    return int(n_obs), int(n_jobs), n_files


def test_list_and_get(env: Env) -> None:
    h = env.headers("viewer")
    listed = env.client.get(f"{API}/observations", headers=h).json()
    assert [o["role"] for o in listed] == ["reference", "science", "science"]
    science = env.client.get(f"{API}/observations", params={"role": "science"}, headers=h)
    assert len(science.json()) == 2
    page = env.client.get(f"{API}/observations", params={"after_id": listed[0]["id"]}, headers=h)
    assert [o["id"] for o in page.json()] == [o["id"] for o in listed[1:]]
    one = env.client.get(f"{API}/observations/{listed[0]['id']}", headers=h).json()
    assert one["name"] == "ref_r" and "wcs_header" in one and "path" not in one
    assert env.client.get(f"{API}/observations/99999", headers=h).status_code == 404
    bad = env.client.get(f"{API}/observations", params={"role": "other"}, headers=h)
    assert bad.status_code == 422


def test_download_the_stored_file(env: Env) -> None:
    h = env.headers("viewer")
    r = env.client.get(f"{API}/observations/{env.seeded.reference_id}/file", headers=h)
    assert r.status_code == 200
    with fits.open(io.BytesIO(r.content)) as hdul:
        assert hdul[0].data.shape == (8, 8)
    assert "immutable" in r.headers["cache-control"]


def test_runs_with_stage_timings(env: Env) -> None:
    h = env.headers("viewer")
    runs = env.client.get(f"{API}/runs", headers=h).json()
    assert [r["id"] for r in runs] == sorted(env.seeded.run_ids, reverse=True)
    assert runs[0]["timings"] == {"read": 0.1, "preprocess": 2.0, "difference": 2.0, "write": 0.2}
    assert runs[0]["status"] == "done" and runs[0]["n_candidates"] == 12
    detail = env.client.get(f"{API}/runs/{runs[0]['id']}", headers=h).json()
    assert detail["config"] == {"threshold": 5.0} and detail["stats"] == {"scorr_std": 1.0}
    assert env.client.get(f"{API}/runs/99999", headers=h).status_code == 404
    missing = env.client.get(f"{API}/runs/{runs[0]['id']}/products/difference", headers=h)
    assert missing.status_code == 404
    done = env.client.get(f"{API}/runs", params={"status": "done"}, headers=h).json()
    assert len(done) == 2


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Env]:
    yield from build_env(tmp_path / "uploads", seed_catalog=False, upload_max_bytes=4_000_000)


def test_upload_reference_then_science_and_process(empty: Env, pair: dict[str, Path]) -> None:
    before = _counts(empty)
    science_bytes = pair["science"].read_bytes()
    # a science image in a filter with no reference yet: refused, nothing stored
    early = _upload(empty, science_bytes, "science.fits")
    assert early.status_code == 422 and "no reference" in early.text  # type: ignore[attr-defined]
    assert _counts(empty) == before

    ref = _upload(empty, pair["reference"].read_bytes(), "reference.fits", role="reference")
    assert ref.status_code == 201, ref.text  # type: ignore[attr-defined]
    assert ref.json()["job"] is None  # type: ignore[attr-defined]
    sci = _upload(empty, science_bytes, "science.fits")
    assert sci.status_code == 201, sci.text  # type: ignore[attr-defined]
    body = sci.json()  # type: ignore[attr-defined]
    job = body["job"]
    assert job["status"] == "queued" and job["observation_id"] == body["observation"]["id"]

    again = _upload(empty, science_bytes, "science.fits")
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert again.json()["created"] is False  # type: ignore[attr-defined]
    assert again.json()["job"]["id"] == job["id"], "no second job"  # type: ignore[attr-defined]
    as_ref = _upload(empty, science_bytes, "science.fits", role="reference")
    assert as_ref.status_code == 409  # type: ignore[attr-defined]

    assert empty.service.worker.run_once() is True
    assert empty.service.worker.run_once() is False
    polled = empty.client.get(f"{API}/jobs/{job['id']}", headers=empty.headers("viewer")).json()
    assert polled["status"] == "done", polled
    run = empty.client.get(f"{API}/runs/{polled['run_id']}", headers=empty.headers("viewer"))
    run_body = run.json()
    assert run_body["status"] == "done" and run_body["n_candidates"] > 0
    assert {"difference", "read"} <= set(run_body["timings"])
    found = list_candidates(
        empty.service.catalog, filters=CandidateFilters(run_id=polled["run_id"])
    )
    assert found.items and found.items[0].cutout_difference_key is not None

    metrics = empty.client.get("/metrics").text
    assert "astrid_pipeline_stage_duration_seconds_count" in metrics
    assert f"astrid_candidates_processed_total {float(run_body['n_candidates'])}" in metrics
    actions = [e.action for e in audit_log(empty.service.catalog)]
    assert actions.count("observation.upload") == 2 and "job.create" in actions
    products = run_body["products"]
    if products:
        name = next(iter(products))
        got = empty.client.get(products[name], headers=empty.headers("viewer"))
        assert got.status_code == 200


def _fits_bytes(hdu: fits.PrimaryHDU) -> bytes:
    buffer = io.BytesIO()
    hdu.writeto(buffer)
    return buffer.getvalue()


def test_bad_uploads_are_refused_and_not_stored(empty: Env, pair: dict[str, Path]) -> None:
    before = _counts(empty)
    good = pair["reference"].read_bytes()
    no_wcs = _fits_bytes(fits.PrimaryHDU(np.ones((64, 64), dtype=np.float32)))
    cases = {
        "not FITS": (b"hello, this is not a FITS file" * 10, 422),
        "truncated": (good[: len(good) // 2], 422),
        "no WCS": (no_wcs, 422),
        "empty": (b"", 422),
        "too large": (good + b"\0" * 4_000_000, 413),
    }
    for name, (data, status) in cases.items():
        r = _upload(empty, data, "field.fits", role="reference")
        assert r.status_code == status, (name, r.text)  # type: ignore[attr-defined]
        detail = r.json()["detail"]  # type: ignore[attr-defined]
        assert "field.fits" in str(detail) or status == 413 or name == "empty", (name, detail)
        assert str(empty.service.settings.data_dir) not in str(detail), "no server paths"
    assert _counts(empty) == before
    assert not any(empty.service.incoming_dir.rglob("*.fits")), "received files are removed"


def test_upload_query_validation(empty: Env, pair: dict[str, Path]) -> None:
    data = pair["reference"].read_bytes()
    for params in (
        {"filename": "../../etc/passwd"},
        {"filename": ".hidden"},
        {"filename": "a" * 300},
        {"filename": "ok.fits", "role": "dark"},
        {"filename": "ok.fits", "reference_id": 0},
    ):
        r = empty.client.post(
            f"{API}/observations", params=params, content=data, headers=empty.headers("admin")
        )
        assert r.status_code == 422, (params, r.text)
    unknown_ref = _upload(empty, pair["science"].read_bytes(), "s.fits", reference_id=999)
    assert unknown_ref.status_code == 422  # type: ignore[attr-defined]


def test_streamed_upload_over_the_limit_without_content_length(
    empty: Env, pair: dict[str, Path]
) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(5):
            yield b"\0" * 1_000_000

    before = _counts(empty)
    r = empty.client.post(
        f"{API}/observations",
        params={"filename": "big.fits", "role": "reference"},
        content=body(),
        headers=empty.headers("admin"),
    )
    assert r.status_code == 413
    assert _counts(empty) == before


def _compressed(path: Path, *, declare: tuple[int, int] | None = None) -> bytes:
    """``path``'s image tile-compressed (``.fz``), optionally declaring another size."""
    with fits.open(path) as hdul:
        hdu = fits.CompImageHDU(data=hdul[0].data, header=hdul[0].header)
        raw = _fits_bytes(fits.HDUList([fits.PrimaryHDU(), hdu]))  # type: ignore[arg-type]
    if declare is None:
        return raw
    for axis, n in zip((1, 2), declare, strict=True):
        old = next(
            raw[i : i + 80]
            for i in range(0, len(raw), 80)
            if raw[i : i + 80].startswith(f"ZNAXIS{axis} ".encode())
        )
        new = f"ZNAXIS{axis}".ljust(8) + "= " + f"{n:>20}"
        raw = raw.replace(old, new.ljust(80).encode(), 1)
    return raw


def test_upload_over_the_pixel_budget_is_refused_from_its_header(
    tmp_path: Path, pair: dict[str, Path]
) -> None:
    # The budget of ASTRID_MAX_IMAGE_PIXELS, below the 384² test field.
    envs = build_env(
        tmp_path / "budget", seed_catalog=False, upload_max_bytes=4_000_000, max_image_pixels=300**2
    )
    env = next(envs)
    try:
        before = _counts(env)
        fz = _compressed(pair["reference"])
        r = _upload(env, fz, "field.fits.fz", role="reference")
        assert r.status_code == 422, r.text  # type: ignore[attr-defined]
        detail = str(r.json()["detail"])  # type: ignore[attr-defined]
        assert "field.fits.fz" in detail and "384 × 384 = 147,456 pixels" in detail, detail
        assert "pixel budget of 90,000 (ASTRID_MAX_IMAGE_PIXELS)" in detail, detail

        # A small file declaring 16384² is refused without decompressing anything.
        bomb = _compressed(pair["reference"], declare=(16384, 16384))
        assert len(bomb) < 1_000_000
        tracemalloc.start()
        try:
            r = _upload(env, bomb, "bomb.fits.fz", role="reference")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert r.status_code == 422, r.text  # type: ignore[attr-defined]
        assert "16384 × 16384 = 268,435,456 pixels" in str(r.json()["detail"])  # type: ignore[attr-defined]
        assert peak < 30_000_000, f"{peak:,} bytes allocated"  # 16384² float32: 1 GiB
        assert _counts(env) == before
        assert not any(env.service.incoming_dir.rglob("*.fz")), "received files are removed"
    finally:
        envs.close()


def test_constant_images_are_refused_as_references_and_sciences(
    empty: Env, pair: dict[str, Path]
) -> None:
    header = fits.getheader(pair["reference"])
    flat = _fits_bytes(fits.PrimaryHDU(np.full((64, 64), 100.0, np.float32), header=header))
    before = _counts(empty)
    for role in ("reference", "science"):
        r = _upload(empty, flat, "blank.fits", role=role)
        assert r.status_code == 422, (role, r.text)  # type: ignore[attr-defined]
        detail = str(r.json()["detail"])  # type: ignore[attr-defined]
        assert f"blank.fits: {role} image has no signal" in detail, detail
    assert _counts(empty) == before
    # ... so a later science upload does not find a blank "latest reference of its band".
    r = _upload(empty, pair["science"].read_bytes(), "science.fits")
    assert r.status_code == 422 and "no reference" in r.text  # type: ignore[attr-defined]
