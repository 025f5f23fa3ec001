"""Tests of the seeded sky simulator: truth, PSF, WCS, noise, saturation, files."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy import ndimage

from astrid.errors import ConfigurationError
from astrid.observations.image import Image
from astrid.simulation import (
    ARTIFACT_KINDS,
    TRUTH_COLUMNS,
    SimulatedPair,
    SimulationConfig,
    simulate_pair,
)

# Default density of stars and galaxies on a quarter of the default area.
CROWDED = SimulationConfig(
    shape=(512, 512),
    n_stars=400,
    n_galaxies=80,
    n_transients=60,
    n_transients_on_galaxies=15,
    n_variables=8,
    n_cosmic_rays=20,
    n_hot_pixels=10,
    n_bad_columns=2,
)
# Few stars, so that big apertures around transients and variables hold nothing else.
SPARSE = SimulationConfig(
    shape=(512, 512),
    n_stars=40,
    n_galaxies=8,
    n_transients=80,
    n_transients_on_galaxies=4,
    n_variables=6,
    n_cosmic_rays=0,
    n_hot_pixels=0,
    n_bad_columns=0,
)
TINY = SimulationConfig(
    shape=(200, 200),
    n_stars=30,
    n_galaxies=5,
    n_transients=6,
    n_transients_on_galaxies=1,
    n_variables=2,
    n_cosmic_rays=5,
    n_hot_pixels=3,
    n_bad_columns=1,
    n_satellite_trails=1,
)
KNOWN_KINDS = {
    "star",
    "saturated_star",
    "variable",
    "galaxy",
    "transient",
    "transient_on_galaxy",
    *ARTIFACT_KINDS,
}


@pytest.fixture(scope="session")
def crowded() -> SimulatedPair:
    return simulate_pair(CROWDED, seed=3)


@pytest.fixture(scope="session")
def sparse() -> SimulatedPair:
    return simulate_pair(SPARSE, seed=11)


def rows(pair: SimulatedPair, *kinds: str) -> Table:
    return pair.truth[np.isin(pair.truth["kind"], kinds)]


def aperture_sum(data: np.ndarray, x: float, y: float, radius: float) -> tuple[float, int]:
    """Sum and pixel count of the pixels whose centres lie within ``radius`` of (x, y)."""
    x0, x1 = math.floor(x - radius), math.ceil(x + radius) + 1
    y0, y1 = math.floor(y - radius), math.ceil(y + radius) + 1
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx - x) ** 2 + (yy - y) ** 2 <= radius**2
    return float(data[y0:y1, x0:x1][inside].sum()), int(inside.sum())


def stamp_fraction(stamp: np.ndarray, dx: float, dy: float, radius: float) -> float:
    """Fraction of a sub-pixel-offset stamp inside a pixel-centre aperture."""
    half = stamp.shape[0] // 2
    t = np.arange(-half, half + 1)
    inside = (t[None, :] - dx) ** 2 + (t[:, None] - dy) ** 2 <= radius**2
    return float(stamp[inside].sum())


def empty_sky_std(
    image: Image, xy: np.ndarray, saturated_x: np.ndarray, *, radius: float, border: int
) -> float:
    """Robust noise of the pixels far from every listed object, bleed columns excluded."""
    ny, nx = image.shape
    occupied = np.zeros(image.shape, dtype=bool)
    ix = np.clip(np.round(xy[:, 0]).astype(int), 0, nx - 1)
    iy = np.clip(np.round(xy[:, 1]).astype(int), 0, ny - 1)
    occupied[iy, ix] = True
    free = ndimage.distance_transform_edt(~occupied) > radius
    free[:border] = free[-border:] = False
    free[:, :border] = free[:, -border:] = False
    for x in np.round(saturated_x).astype(int):
        free[:, max(x - 5, 0) : x + 6] = False
    # differences of horizontal neighbours cancel smooth light (galaxy wings) but not white noise
    both = free[:, 1:] & free[:, :-1]
    diffs = np.diff(image.data.astype(np.float64), axis=1)[both]
    assert diffs.size > 5000
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / math.sqrt(2.0))


def moment_fwhm(stamp: np.ndarray, beta: float) -> float:
    """Geometric-mean FWHM of a centred pixelised Moffat stamp from its second moments."""
    half = stamp.shape[0] // 2
    t = np.arange(-half, half + 1, dtype=float)
    yy, xx = np.meshgrid(t, t, indexing="ij")
    p = stamp / stamp.sum()
    mx, my = (p * xx).sum(), (p * yy).sum()
    cxx = (p * (xx - mx) ** 2).sum() - 1 / 12
    cyy = (p * (yy - my) ** 2).sum() - 1 / 12
    cxy = (p * (xx - mx) * (yy - my)).sum()
    sigma = (cxx * cyy - cxy**2) ** 0.25
    # Moffat: variance per axis alpha^2 / (2 (beta - 2)); FWHM = 2 alpha sqrt(2^(1/beta) - 1)
    alpha = sigma * math.sqrt(2 * (beta - 2))
    return 2 * alpha * math.sqrt(2 ** (1 / beta) - 1)


# --- determinism and truth -------------------------------------------------------------


def test_same_seed_gives_identical_pair_and_other_seed_does_not() -> None:
    a, b, c = simulate_pair(TINY, seed=5), simulate_pair(TINY, seed=5), simulate_pair(TINY, seed=6)
    assert np.array_equal(a.science.data, b.science.data)
    assert np.array_equal(a.reference.data, b.reference.data)
    assert np.array_equal(a.truth["kind"], b.truth["kind"])
    for name in a.truth.colnames[1:]:
        assert np.array_equal(a.truth[name], b.truth[name], equal_nan=True)
    assert not np.array_equal(a.science.data, c.science.data)
    assert a.reference.wcs.wcs.crval.tolist() != c.reference.wcs.wcs.crval.tolist()


def test_images_are_float32_with_sky_empty_masks_and_metadata(crowded: SimulatedPair) -> None:
    for image, sky in ((crowded.science, 800.0), (crowded.reference, 1600.0)):
        assert image.data.dtype == np.float32
        assert image.shape == CROWDED.shape
        assert not image.mask.any()
        assert np.all(np.isfinite(image.data))
        assert abs(np.median(image.data) - sky) < 0.1 * sky
        assert image.meta.gain == CROWDED.gain
        assert image.meta.saturation == CROWDED.saturation
        assert image.meta.filter == "r"
    assert crowded.reference.meta.mjd < crowded.science.meta.mjd
    k = crowded.reference_flux_scale
    assert crowded.reference.meta.exptime == pytest.approx(k * crowded.science.meta.exptime)


def test_truth_has_scorer_columns_and_requested_counts(crowded: SimulatedPair) -> None:
    truth = crowded.truth
    assert tuple(truth.colnames[:7]) == TRUTH_COLUMNS
    assert set(truth["kind"]) == KNOWN_KINDS - {"satellite_trail"}
    counts = {kind: int((truth["kind"] == kind).sum()) for kind in KNOWN_KINDS}
    assert counts["transient"] == CROWDED.n_transients
    assert counts["transient_on_galaxy"] == CROWDED.n_transients_on_galaxies
    assert counts["variable"] == CROWDED.n_variables
    assert counts["galaxy"] == CROWDED.n_galaxies
    assert counts["star"] + counts["saturated_star"] + counts["variable"] == CROWDED.n_stars
    assert counts["cosmic_ray"] == CROWDED.n_cosmic_rays
    assert counts["hot_pixel"] == CROWDED.n_hot_pixels
    assert counts["bad_column"] == CROWDED.n_bad_columns
    # ~1 % of stars saturate the science image; more saturate the deeper reference
    assert 1 <= counts["saturated_star"] <= 0.1 * CROWDED.n_stars
    ny, nx = CROWDED.shape
    assert np.all((truth["x"] >= -0.5) & (truth["x"] < nx - 0.5))
    assert np.all((truth["y"] >= -0.5) & (truth["y"] < ny - 0.5))


def test_satellite_trails_are_recorded() -> None:
    pair = simulate_pair(TINY, seed=2)
    trail = rows(pair, "satellite_trail")
    assert len(trail) == 1
    assert trail["flux"][0] > 0 and trail["snr"][0] > 5


def test_transients_are_isolated_and_inside(crowded: SimulatedPair) -> None:
    ny, nx = CROWDED.shape
    tr = rows(crowded, "transient", "transient_on_galaxy")
    xy = np.column_stack([tr["x"], tr["y"]])
    assert np.all((xy >= 30) & (xy <= np.array([nx - 31, ny - 31])))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 20.0
    stars = rows(crowded, "star", "saturated_star", "variable")
    ds = np.hypot(tr["x"][:, None] - stars["x"][None, :], tr["y"][:, None] - stars["y"][None, :])
    assert ds.min() >= 4 * CROWDED.science_fwhm[0]
    isolated = rows(crowded, "transient")
    gal = rows(crowded, "galaxy")
    dg = np.hypot(
        isolated["x"][:, None] - gal["x"][None, :], isolated["y"][:, None] - gal["y"][None, :]
    )
    assert dg.min() >= 4 * CROWDED.science_fwhm[0] + 2 * 2.0
    on = rows(crowded, "transient_on_galaxy")
    d_host = np.hypot(on["x"][:, None] - gal["x"][None, :], on["y"][:, None] - gal["y"][None, :])
    assert np.all((d_host.min(axis=1) >= 0.3 * 2.0) & (d_host.min(axis=1) <= 1.5 * 8.0))


def test_snr_column_follows_the_matched_filter_definition(crowded: SimulatedPair) -> None:
    sigma = math.sqrt(CROWDED.sky_science * CROWDED.gain + CROWDED.read_noise**2) / CROWDED.gain
    assert crowded.config.science_sigma == pytest.approx(sigma)
    tr = rows(crowded, "transient", "transient_on_galaxy")
    lo, hi = CROWDED.snr_range
    assert np.all((tr["snr"] >= lo) & (tr["snr"] <= hi))
    for row in tr:
        rendered = crowded.science_psf(row["x"], row["y"], CROWDED.psf_size, subpixel=True)
        centred = crowded.science_psf(row["x"], row["y"])
        snr = row["flux"] * math.sqrt(float(np.sum(rendered**2))) / sigma
        assert row["snr"] == pytest.approx(snr, rel=1e-9)
        # the sub-pixel phase changes sum(P^2) by a few per cent at most
        snr_centred = row["flux"] * math.sqrt(float(np.sum(centred**2))) / sigma
        assert row["snr"] == pytest.approx(snr_centred, rel=0.05)
    assert np.all(np.isfinite(crowded.truth["snr"]))


def test_total_noise_snr_adds_the_reference_and_the_host(crowded: SimulatedPair) -> None:
    """On empty sky ``snr_total`` is ``snr`` with the reference's noise added (times ZOGY's
    small gain from the sharper reference PSF); on a galaxy its photons lower it further;
    other kinds have none."""
    truth = crowded.truth
    depth = crowded.config.reference_depth
    ratio = np.asarray(rows(crowded, "transient")["snr_total"] / rows(crowded, "transient")["snr"])
    floor = 1.0 / math.sqrt(1.0 + 1.0 / depth**2)
    # a few sit on the wing of a star or galaxy; the median is empty sky
    assert np.all(ratio <= floor * 1.03) and np.median(ratio) >= floor * 1.005
    on_galaxy = rows(crowded, "transient_on_galaxy")
    hosted = np.asarray(on_galaxy["snr_total"] / on_galaxy["snr"])
    assert np.median(hosted) < np.median(ratio) - 0.02
    transient = np.isin(truth["kind"], ["transient", "transient_on_galaxy"])
    assert np.all(np.isnan(truth["snr_total"][~transient]))


def test_sharper_reference_gain_is_one_for_equal_psfs_and_above_for_a_sharper_one() -> None:
    from astrid.simulation.placement import _sharper_reference_gain

    yy, xx = np.mgrid[-15:16, -15:16]
    wide = np.exp(-(xx**2 + yy**2) / (2 * 1.6**2))[None]
    sharp = np.exp(-(xx**2 + yy**2) / (2 * 1.1**2))[None]
    wide, sharp = wide / wide.sum(), sharp / sharp.sum()
    assert _sharper_reference_gain(wide, wide, 1 / 9) == pytest.approx([1.0], abs=1e-12)
    assert 1.0 < _sharper_reference_gain(wide, sharp, 1 / 9)[0] < math.sqrt(1 + 1 / 9)


@pytest.mark.parametrize("field", ["crowded", "sparse"])
def test_matched_filter_at_isolated_transients_recovers_the_truth_snr(
    field: str, request: pytest.FixtureRequest
) -> None:
    # On empty sky the PSF-weighted sum at the true position is N(snr, 1) (background noise;
    # kept to snr < 15 where the transient's own Poisson noise is negligible).
    pair: SimulatedPair = request.getfixturevalue(field)
    sigma, sky = pair.config.science_sigma, pair.config.sky_science
    offsets = []
    for row in rows(pair, "transient")[rows(pair, "transient")["snr"] < 15]:
        x, y = row["x"], row["y"]
        ix, iy = math.floor(x + 0.5), math.floor(y + 0.5)
        psf = pair.science_psf(x, y, 31, subpixel=True)
        cut = pair.science.data[iy - 15 : iy + 16, ix - 15 : ix + 16].astype(np.float64) - sky
        measured = float((cut * psf).sum()) / (sigma * math.sqrt(float((psf**2).sum())))
        offsets.append(measured - row["snr"])
    offsets_arr = np.asarray(offsets)
    assert len(offsets_arr) >= 20
    assert abs(offsets_arr.mean()) < 3.5 / math.sqrt(len(offsets_arr))
    assert 0.75 < offsets_arr.std() < 1.35


# --- photometry -----------------------------------------------------------------------


def test_transient_aperture_flux_agrees_with_truth_within_noise(sparse: SimulatedPair) -> None:
    # Known skies are subtracted from both images; subtracting the reference's aperture (in
    # science units) also removes neighbours' light, which the reference holds too, and
    # checks that the transient is absent from the reference.
    radius, k, gain = 8.0, sparse.reference_flux_scale, SPARSE.gain
    sig_s, sig_r = SPARSE.science_sigma, SPARSE.reference_sigma
    pulls = []
    for row in rows(sparse, "transient"):
        x, y, flux = row["x"], row["y"], row["flux"]
        sci, n_s = aperture_sum(sparse.science.data, x, y, radius)
        ref, n_r = aperture_sum(sparse.reference.data, row["ref_x"], row["ref_y"], radius)
        measured = (sci - SPARSE.sky_science * n_s) - (ref - SPARSE.sky_reference * n_r) / k
        stamp = sparse.science_psf(x, y, 41, subpixel=True)
        expected = flux * stamp_fraction(stamp, x - round(x), y - round(y), radius)
        assert expected > 0.95 * flux
        error = math.sqrt(n_s * sig_s**2 + n_r * sig_r**2 / k**2 + expected / gain)
        pulls.append((measured - expected) / error)
    pulls_arr = np.asarray(pulls)
    assert abs(pulls_arr.mean()) < 4 / math.sqrt(len(pulls_arr))
    assert 0.75 < pulls_arr.std() < 1.3
    assert np.abs(pulls_arr).max() < 4.5


def test_variable_flux_change_is_science_minus_reference(sparse: SimulatedPair) -> None:
    radius, k = 12.0, sparse.reference_flux_scale
    sig_s, sig_r, gain = SPARSE.science_sigma, SPARSE.reference_sigma, SPARSE.gain
    var = rows(sparse, "variable")
    assert np.all(np.abs(var["flux"]) >= 0.2 * var["flux_reference"] / k * (1 - 1e-9))
    assert np.all(np.abs(var["flux"]) <= 1.0 * var["flux_reference"] / k * (1 + 1e-9))
    for row in var:
        s, n_s = aperture_sum(sparse.science.data, row["x"], row["y"], radius)
        r, n_r = aperture_sum(sparse.reference.data, row["ref_x"], row["ref_y"], radius)
        measured = (s - SPARSE.sky_science * n_s) - (r - SPARSE.sky_reference * n_r) / k
        error = math.sqrt(
            n_s * sig_s**2
            + (n_r * sig_r**2) / k**2
            + row["flux_science"] / gain
            + row["flux_reference"] / gain / k**2
        )
        # a few per cent of the flux lies outside the aperture
        slack = 0.03 * (row["flux_science"] + row["flux_reference"] / k)
        assert abs(measured - row["flux"]) < 5 * error + slack


# --- PSF ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["science", "reference"])
def test_psf_is_unit_sum_and_fwhm_grows_from_centre_to_corner(
    crowded: SimulatedPair, which: str
) -> None:
    fwhm_centre, fwhm_corner = getattr(CROWDED, f"{which}_fwhm")
    psf = getattr(crowded, f"{which}_psf")
    ny, nx = CROWDED.shape
    centre = psf((nx - 1) / 2, (ny - 1) / 2, 101)
    corner = psf(0.0, ny - 1.0, 101)
    small = psf(100.3, 200.7, 31, subpixel=True)
    for stamp in (centre, corner, small):
        assert stamp.sum() == pytest.approx(1.0, abs=1e-12)
        assert stamp.min() >= 0
    assert moment_fwhm(centre, CROWDED.moffat_beta) == pytest.approx(fwhm_centre, rel=0.03)
    assert moment_fwhm(corner, CROWDED.moffat_beta) == pytest.approx(fwhm_corner, rel=0.03)
    half = psf(0.0, 0.0, 31).shape[0] // 2
    assert np.unravel_index(np.argmax(centre), centre.shape) == (50, 50)
    assert half == 15


def test_psf_ellipticity_is_bounded_and_varies(crowded: SimulatedPair) -> None:
    field = crowded.science_psf_field
    yy, xx = np.mgrid[0:512:32, 0:512:32]
    _, ell, angle = field.shape_parameters(xx.ravel(), yy.ravel())
    assert ell.max() <= CROWDED.ellipticity + 1e-12
    assert ell.max() > 0.7 * CROWDED.ellipticity
    assert np.ptp(angle) > 0.5


# --- geometry -------------------------------------------------------------------------


def test_truth_pixels_follow_each_image_wcs(crowded: SimulatedPair) -> None:
    truth = crowded.truth[np.isfinite(crowded.truth["ra"])]
    x, y = crowded.science.wcs.world_to_pixel_values(truth["ra"], truth["dec"])
    np.testing.assert_allclose(x, truth["x"], atol=1e-6)
    np.testing.assert_allclose(y, truth["y"], atol=1e-6)
    sources = truth[np.isfinite(truth["ref_x"])]
    rx, ry = crowded.reference.wcs.world_to_pixel_values(sources["ra"], sources["dec"])
    np.testing.assert_allclose(rx, sources["ref_x"], atol=1e-6)
    np.testing.assert_allclose(ry, sources["ref_y"], atol=1e-6)


def test_reference_is_offset_and_rotated_as_configured(crowded: SimulatedPair) -> None:
    ny, nx = CROWDED.shape
    ra, dec = crowded.reference.wcs.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
    x, y = crowded.science.wcs.world_to_pixel_values(ra, dec)
    shift = math.hypot(x - (nx - 1) / 2, y - (ny - 1) / 2)
    assert CROWDED.reference_offset_px - 0.75 <= shift <= CROWDED.reference_offset_px + 0.75
    cd_s = crowded.science.wcs.pixel_scale_matrix
    cd_r = crowded.reference.wcs.pixel_scale_matrix
    rot = np.linalg.solve(cd_s, cd_r)
    angle = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    assert abs(angle) == pytest.approx(CROWDED.reference_rotation_deg, rel=1e-6)
    scale = math.sqrt(abs(np.linalg.det(cd_s))) * 3600
    assert scale == pytest.approx(CROWDED.pixel_scale, rel=1e-9)


# --- noise and saturation ---------------------------------------------------------------


def test_background_noise_matches_sigma_pix_and_reference_is_deeper(
    crowded: SimulatedPair,
) -> None:
    truth = crowded.truth
    sat_x = rows(crowded, "saturated_star")
    sci = empty_sky_std(
        crowded.science,
        np.column_stack([truth["x"], truth["y"]]),
        np.concatenate([sat_x["x"], rows(crowded, "bad_column")["x"]]),
        radius=12,
        border=20,
    )
    assert sci == pytest.approx(CROWDED.science_sigma, rel=0.05)
    sources = truth[np.isfinite(truth["ref_x"])]
    ref = empty_sky_std(
        crowded.reference,
        np.column_stack([sources["ref_x"], sources["ref_y"]]),
        sat_x["ref_x"],
        radius=12,
        border=30,
    )
    assert ref == pytest.approx(CROWDED.reference_sigma, rel=0.05)
    # in science flux units the reference is reference_depth times quieter
    k = crowded.reference_flux_scale
    assert sci / (ref / k) == pytest.approx(CROWDED.reference_depth, rel=0.07)


def test_saturated_pixels_are_clipped_and_bleed_along_columns(crowded: SimulatedPair) -> None:
    sat = CROWDED.saturation
    assert crowded.science.data.max() <= sat
    assert crowded.reference.data.max() <= sat
    clipped = crowded.science.data >= sat
    assert clipped.any()
    # saturated regions are taller than wide: the excess charge runs up and down the column
    labels, n = ndimage.label(clipped)
    tall = 0
    for sl in ndimage.find_objects(labels):
        height, width = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        tall += height > width
    assert tall >= max(1, n // 2)
    # every saturated_star reaches saturation in at least one of the two images
    k = crowded.reference_flux_scale
    for row in rows(crowded, "saturated_star"):
        peak_s = row["flux"] * crowded.science_psf(row["x"], row["y"]).max()
        peak_r = k * row["flux"] * crowded.reference_psf(row["ref_x"], row["ref_y"]).max()
        assert max(CROWDED.sky_science + peak_s, CROWDED.sky_reference + peak_r) > sat


def test_artifacts_are_in_the_science_image_only(crowded: SimulatedPair) -> None:
    clean = simulate_pair(
        replace(CROWDED, n_cosmic_rays=0, n_hot_pixels=0, n_bad_columns=0), seed=crowded.seed
    )
    assert np.array_equal(clean.reference.data, crowded.reference.data)
    changed = crowded.science.data != clean.science.data
    explained = np.zeros_like(changed)
    for row in rows(crowded, "cosmic_ray", "hot_pixel"):
        x, y = round(float(row["x"])), round(float(row["y"]))
        explained[max(y - 8, 0) : y + 9, max(x - 8, 0) : x + 9] = True
    for row in rows(crowded, "bad_column"):
        explained[:, int(row["x"])] = True
    assert changed.any()
    assert not (changed & ~explained).any()
    sigma = CROWDED.science_sigma
    for row in rows(crowded, "hot_pixel"):
        x, y = int(row["x"]), int(row["y"])
        if clean.science.data[y, x] < CROWDED.saturation - 500 * sigma:  # not clipped
            assert crowded.science.data[y, x] - clean.science.data[y, x] > 19 * sigma
    for row in rows(crowded, "bad_column"):
        x, yc = int(row["x"]), row["y"]
        segment = crowded.science.data[int(yc) - 40 : int(yc) + 40, x]
        assert np.ptp(segment) == 0.0


# --- files ------------------------------------------------------------------------------


def test_write_round_trips_images_headers_and_truth(crowded: SimulatedPair, tmp_path) -> None:
    paths = crowded.write(tmp_path / "field")
    assert set(paths) == {"science", "reference", "truth"}
    mjds = {}
    for name in ("science", "reference"):
        image = getattr(crowded, name)
        with fits.open(paths[name]) as hdul:
            header, data = hdul[0].header, hdul[0].data
            assert np.array_equal(data, image.data)
            for key in ("GAIN", "RDNOISE", "SATURATE", "EXPTIME", "MJD-OBS", "FWHM"):
                assert key in header
            assert header["FILTER"] == "r"
            assert header["GAIN"] == CROWDED.gain
            assert header["SATURATE"] == CROWDED.saturation
            assert header["FWHM"] == getattr(CROWDED, f"{name}_fwhm")[0]
            wcs = WCS(header)
            np.testing.assert_allclose(
                wcs.pixel_to_world_values(10.0, 20.0),
                image.wcs.pixel_to_world_values(10.0, 20.0),
                atol=1e-10,
            )
            mjds[name] = header["MJD-OBS"]
    assert mjds["reference"] < mjds["science"]
    table = Table.read(paths["truth"], format="ascii.csv")
    assert tuple(table.colnames[:7]) == TRUTH_COLUMNS
    np.testing.assert_allclose(table["ra"], crowded.truth["ra"], rtol=0, atol=1e-10)
    # the reference scorer reads it with pandas
    frame = pd.read_csv(paths["truth"])
    assert int(frame.kind.str.startswith("transient").sum()) == 75


# --- configuration ----------------------------------------------------------------------


def test_reference_flux_scale_sets_the_depth() -> None:
    config = SimulationConfig()
    k = config.reference_flux_scale
    assert config.science_sigma / (config.reference_sigma / k) == pytest.approx(3.0)
    assert k == pytest.approx(3.0 * math.sqrt(2436.0) / math.sqrt(1236.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"psf_size": 30},
        {"shape": (40, 40)},
        {"snr_range": (5.0, 3.0)},
        {"n_galaxies": 3, "n_transients_on_galaxies": 4},
        {"ellipticity": 1.2},
    ],
)
def test_invalid_config_is_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigurationError):
        SimulationConfig(**kwargs)


def test_impossible_placement_says_how_many_fit() -> None:
    config = SimulationConfig(
        shape=(128, 128),
        n_stars=10,
        n_galaxies=2,
        n_transients=200,
        n_transients_on_galaxies=0,
        n_variables=0,
    )
    with pytest.raises(ConfigurationError, match="isolated transients") as info:
        simulate_pair(config, seed=0)
    assert info.value.requested == 200
    assert 0 < info.value.placed < 200


@pytest.mark.slow
def test_default_2048_field_simulates() -> None:
    pair = simulate_pair(SimulationConfig(shape=(2048, 2048)), seed=0)
    assert int((pair.truth["kind"] == "transient").sum()) == 200


@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.01, 0.0), (0.3, -0.2), (0.5, 0.5)])
def test_galaxy_core_pixel_holds_its_share_of_a_sersic_cusp(offset: tuple[float, float]) -> None:
    # A 7x7 sub-pixel grid put up to 45 % of an n = 4 galaxy's flux too much into the pixel
    # holding its centre whenever a sample fell on the cusp.
    from astrid.simulation.galaxies import _sersic_b, _sersic_stamp

    n, r_eff, half = 4.0, 2.0, 30
    dx, dy = offset
    stamp = _sersic_stamp(dx, dy, np.eye(2), n, r_eff, half)
    sub = (np.arange(2000) + 0.5) / 2000 - 0.5
    r = np.hypot(sub[None, :] - dx, sub[:, None] - dy) / r_eff
    b_n = _sersic_b(n)
    exact = np.exp(-b_n * (r ** (1 / n) - 1)).mean()
    total = 2 * np.pi * r_eff**2 * n * np.exp(b_n) / b_n ** (2 * n) * math.gamma(2 * n)
    assert abs(stamp[half, half] - exact) < 1e-4 * total
