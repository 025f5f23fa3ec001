"""A small catalog with known contents for the service tests (API and web page).

Two nights of one field: a reference and two science observations, one run each, and
candidates with stored cutout triplets. Scores (rb, ood and its components) are written
directly, as the scoring stage would, on all but the last few candidates (so unscored ones
are present too). Positions repeat across the two runs so that neighbours exist. The
observations have no WCS and only a placeholder image; `store_reference_image` gives the
reference both (for finder charts).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from sqlalchemy import update

from astrid.catalog import Catalog
from astrid.catalog.models import Candidate, Observation
from astrid.store import ObjectStore

FIELD_RA, FIELD_DEC = 150.0, 2.0
N_PER_RUN = 12
N_UNSCORED = 3  # the last candidates of the second run have no scores
MJD = (60300.2, 60301.3)
REFERENCE_SHAPE = (240, 300)  # (ny, nx) of the image `store_reference_image` stores
REFERENCE_STAR = (180, 90)  # (x, y), 0-based: where it puts the given position and a star
REFERENCE_SCALE_ARCSEC = 1.0


@dataclass(frozen=True)
class Seeded:
    """Ids of what `seed` wrote."""

    reference_id: int
    science_ids: tuple[int, int]
    run_ids: tuple[int, int]
    candidate_ids: tuple[int, ...]


def _fits(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    fits.PrimaryHDU(data=data.astype(np.float32)).writeto(buffer)
    return buffer.getvalue()


def _triplet(rng: np.random.Generator, sign: int) -> list[np.ndarray]:
    y, x = np.mgrid[:63, :63]
    star = 400.0 * np.exp(-((x - 31) ** 2 + (y - 31) ** 2) / (2 * 2.0**2))
    reference = rng.normal(100.0, 5.0, (63, 63)) + star
    science = reference + sign * star * 0.5 + rng.normal(0, 5.0, (63, 63))
    return [science, reference, science - reference]


def _observation(catalog: Catalog, store: ObjectStore, name: str, role: str, mjd: float) -> int:
    # distinct content per observation (str hashes are salted per process: not used)
    fill = float(sum(name.encode()))
    key = store.put_bytes(_fits(np.full((8, 8), fill, dtype=np.float32)), suffix=".fits")
    return catalog.register_observation(
        content_sha256=key.split("/")[-1].split(".")[0],
        name=name,
        path=f"/data/{name}.fits",
        role=role,
        mjd=mjd,
        filter="r",
        exptime=60.0,
        gain=1.5,
        shape=(2048, 2048),
        wcs_header=None,
        store_key=key,
    )


def seed(catalog: Catalog, store: ObjectStore, *, seed: int = 0) -> Seeded:
    """Fill an empty catalog and store with the two-night field."""
    rng = np.random.default_rng(seed)
    reference = _observation(catalog, store, "ref_r", "reference", 60000.0)
    offsets = rng.uniform(-0.05, 0.05, (N_PER_RUN, 2))
    science_ids, run_ids = [], []
    for night, mjd in enumerate(MJD):
        science = _observation(catalog, store, f"sci_r_{night}", "science", mjd)
        run = catalog.start_run(
            key=f"run-{night}",
            science_id=science,
            reference_id=reference,
            config={"threshold": 5.0},
            code_version="test",
        )
        rows = []
        for k in range(N_PER_RUN):
            sign = 1 if k % 3 else -1
            keys = [store.put_bytes(_fits(a), suffix=".fits") for a in _triplet(rng, sign)]
            # the same sky positions both nights, shifted by < 0.3 arcsec
            jitter = rng.normal(0, 0.1 / 3600, 2)
            rows.append(
                {
                    "x": 100.0 + 10 * k,
                    "y": 200.0 + 5 * k,
                    "ra": FIELD_RA + offsets[k, 0] + jitter[0],
                    "dec": FIELD_DEC + offsets[k, 1] + jitter[1],
                    "sign": sign,
                    "scorr": sign * (5.0 + 1.5 * k + night),
                    "snr": 5.0 + 1.5 * k,
                    "flux": 1000.0 + 100 * k,
                    "flux_err": 50.0,
                    "mag": 20.0 - 0.1 * k,
                    "mag_err": 0.05,
                    "fwhm": 3.0,
                    "elongation": 1.1,
                    "n_bad_pixels": k % 2,
                    "dist_nearest_ref_source_arcsec": None if k % 4 == 0 else 3.0 + k,
                    "cutout_science_key": keys[0],
                    "cutout_reference_key": keys[1],
                    "cutout_difference_key": keys[2],
                    "psf_chi2": 1.0 + 0.1 * k,
                }
            )
        catalog.finish_run(
            run,
            candidates=rows,
            stats={"scorr_std": 1.0},
            timings={"read": 0.1, "preprocess": 1.0 + night, "difference": 2.0, "write": 0.2},
            products={},
        )
        science_ids.append(science)
        run_ids.append(run)
    candidates = catalog.candidates()
    ids = tuple(int(c["id"]) for c in candidates)
    with catalog.engine.begin() as conn:
        for i, cid in enumerate(ids[: len(ids) - N_UNSCORED]):
            rb = (i * 0.37) % 1.0
            ood = (i * 0.61) % 1.0
            conn.execute(
                update(Candidate)
                .where(Candidate.id == cid)
                .values(
                    rb=rb,
                    ood=ood,
                    ood_msp=1 - ood / 2,
                    ood_energy=-3.0 - ood,
                    ood_mahalanobis=10 * ood,
                )
            )
    return Seeded(
        reference_id=reference,
        science_ids=(science_ids[0], science_ids[1]),
        run_ids=(run_ids[0], run_ids[1]),
        candidate_ids=ids,
    )


def store_reference_image(
    catalog: Catalog,
    store: ObjectStore,
    reference_id: int,
    *,
    ra: float,
    dec: float,
    rotation_deg: float = 0.0,
) -> WCS:
    """Store a reference image with a star at (``ra``, ``dec``) and record it, with its WCS
    (1″ pixels, north rotated by ``rotation_deg`` from up towards the left), on the
    reference observation; the WCS."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[: REFERENCE_SHAPE[0], : REFERENCE_SHAPE[1]]
    sx, sy = REFERENCE_STAR
    star = 3000.0 * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 2.0**2))
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [sx + 1.0, sy + 1.0]
    s, t = REFERENCE_SCALE_ARCSEC / 3600, math.radians(rotation_deg)
    wcs.wcs.cd = np.array([[-s * math.cos(t), -s * math.sin(t)],
                           [-s * math.sin(t), s * math.cos(t)]])  # fmt: skip
    image = rng.normal(100.0, 5.0, REFERENCE_SHAPE) + star
    buffer = io.BytesIO()
    fits.PrimaryHDU(image.astype(np.float32), header=wcs.to_header()).writeto(buffer)
    key = store.put_bytes(buffer.getvalue(), suffix=".fits")
    with catalog.engine.begin() as conn:
        conn.execute(
            update(Observation)
            .where(Observation.id == reference_id)
            .values(
                store_key=key,
                wcs_header=wcs.to_header().tostring(sep="\n"),
                shape_y=REFERENCE_SHAPE[0],
                shape_x=REFERENCE_SHAPE[1],
            )
        )
    return wcs
