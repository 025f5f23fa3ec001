"""Empirical PSF measured from bright, isolated, unsaturated stars, varying across the image.

Every PSF pixel is a low-order polynomial in the image position, fitted over the star
stamps (re-centred by sub-pixel Fourier shifts), as PSFEx does. Stamps are odd-sized,
unit-sum and centred on the central pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from scipy import fft as sfft
from scipy.spatial import cKDTree

from astrid.errors import PSFError

__all__ = ["PSFConfig", "PSFModel", "StarList", "find_stars", "fourier_shift", "measure_psf"]


@dataclass(frozen=True)
class PSFConfig:
    """How stars are chosen and stacked.

    Attributes
    ----------
    size : int
        Odd stamp size in pixels.
    max_degree : int
        Highest polynomial degree of the PSF's variation with position.
    max_stars : int
        Stars used at most (the brightest).
    min_snr : float
        Minimum signal-to-noise (flux / flux error) of a PSF star.
    max_peak_fraction : float
        Stars whose peak exceeds this fraction of the saturation level are rejected.
    """

    size: int = 31
    max_degree: int = 2
    max_stars: int = 400
    min_snr: float = 10.0
    max_peak_fraction: float = 0.5


@dataclass(frozen=True, eq=False)
class StarList:
    """Sources found by `find_stars`; ``psf_candidate`` marks the ones fit to model the PSF."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    peak: np.ndarray
    a: np.ndarray
    b: np.ndarray
    psf_candidate: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def find_stars(
    data: np.ndarray,
    rms: np.ndarray,
    mask: np.ndarray,
    *,
    saturation: float = np.inf,
    threshold: float = 5.0,
    config: PSFConfig = PSFConfig(),
) -> StarList:
    """Detect sources on a background-subtracted image and flag good PSF stars.

    Parameters
    ----------
    data : ndarray
        Background-subtracted image.
    rms : ndarray
        Per-pixel noise map.
    mask : ndarray of bool
        Bad pixels.
    saturation : float
        Saturation level above background.
    threshold : float
        Detection threshold in noise sigmas.
    config : PSFConfig
        Star selection settings.
    """
    work = np.ascontiguousarray(data, dtype=np.float32)
    err = np.ascontiguousarray(rms, dtype=np.float32)
    sep.set_extract_pixstack(max(300000, work.size // 4))
    sep.set_sub_object_limit(4096)
    objects = sep.extract(work, threshold, err=err, mask=mask, minarea=5, deblend_cont=0.005)
    if len(objects) == 0:
        empty = np.zeros(0)
        return StarList(empty, empty, empty, empty, empty, empty, empty, np.zeros(0, bool))
    # Windowed centroids: far less noisy than isophotal barycentres (alignment uses them).
    sig = np.clip(np.sqrt(objects["a"] * objects["b"]), 0.5, 10.0)
    wx, wy, wflag = sep.winpos(work, objects["x"], objects["y"], sig, mask=mask)
    usable = (wflag == 0) & np.isfinite(wx) & np.isfinite(wy)
    usable &= np.hypot(wx - objects["x"], wy - objects["y"]) < 2.0
    x = np.where(usable, wx, objects["x"])
    y = np.where(usable, wy, objects["y"])
    radius = np.full(len(objects), 3.0)
    flux, flux_err, _ = sep.sum_circle(work, x, y, radius * 2, err=err, mask=mask)
    peak = objects["peak"]
    half = config.size // 2
    ny, nx = work.shape
    inside = (x > half + 2) & (x < nx - half - 3) & (y > half + 2) & (y < ny - half - 3)
    snr = flux / np.maximum(flux_err, 1e-30)
    ok = (
        (objects["flag"] == 0)
        & inside
        & (snr > config.min_snr)
        & (peak < config.max_peak_fraction * saturation)
        & (objects["b"] > 0.4)
    )
    # Isolation: no detected neighbour within one stamp half-width brighter than 1% of it.
    if len(x) > 1:
        tree = cKDTree(np.column_stack([x, y]))
        pairs = tree.query_pairs(half + 2, output_type="ndarray")
        if len(pairs):
            i, j = pairs[:, 0], pairs[:, 1]
            ok[i[flux[j] > 0.01 * flux[i]]] = False
            ok[j[flux[i] > 0.01 * flux[j]]] = False
    # Masked pixels anywhere in the stamp spoil it.
    if ok.any() and mask.any():
        xi = np.clip(np.round(x).astype(int), 0, nx - 1)
        yi = np.clip(np.round(y).astype(int), 0, ny - 1)
        for k in np.flatnonzero(ok):
            ok[k] = not mask[
                max(yi[k] - half, 0) : yi[k] + half + 1, max(xi[k] - half, 0) : xi[k] + half + 1
            ].any()
    # Stellar locus: at any position stars share the (smoothly varying) PSF size, galaxies
    # are bigger. Fit size vs position to the smallest objects and keep the tight locus.
    if ok.sum() >= 8:
        # Half-light radius does not depend on brightness (isophotal sizes do).
        radius, rflag = sep.flux_radius(
            work,
            x[ok],
            y[ok],
            np.full(int(ok.sum()), float(half)),
            0.5,
            normflux=flux[ok],
            subpix=5,
        )
        locus = _on_stellar_locus(radius, x[ok], y[ok], work.shape) & (rflag == 0)
        ok[ok] = locus
    return StarList(
        x=np.asarray(x, float),
        y=np.asarray(y, float),
        flux=np.asarray(flux, float),
        flux_err=np.asarray(flux_err, float),
        peak=np.asarray(peak, float),
        a=np.asarray(objects["a"], float),
        b=np.asarray(objects["b"], float),
        psf_candidate=ok,
    )


def _on_stellar_locus(
    size: np.ndarray, x: np.ndarray, y: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """Objects whose size matches the smooth lower envelope of size vs position."""
    degree = 2 if len(size) >= 40 else (1 if len(size) >= 15 else 0)
    basis = _basis(x, y, (int(shape[0]), int(shape[1])), degree)
    keep = size <= np.percentile(size, 30)  # start compact: stars, not galaxies
    for _ in range(8):
        coeffs = np.linalg.lstsq(basis[keep], size[keep], rcond=None)[0]
        resid = size - basis @ coeffs
        # Galaxies only ever lie above the locus, so its width comes from the side below
        # the fit, which holds stars alone; a width taken from the clipped set itself
        # shrinks with every pass and can end on a third of the stars. With few objects
        # below, the clipped set's spread is all there is; and sizes measured on noisy
        # stamps scatter by a few per cent, so the width is never taken below 4 %.
        below = resid[resid <= 0.0]
        if below.size >= 5:
            spread = 1.4826 * float(np.median(np.abs(below)))
        else:
            spread = 1.4826 * float(np.median(np.abs(resid[keep] - np.median(resid[keep]))))
        sigma = max(spread, 0.04 * float(np.median(size[keep])), 1e-3)
        new_keep = (resid < 2.0 * sigma) & (resid > -4.0 * sigma)
        if new_keep.sum() < 3 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return keep


def fourier_shift(stamp: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Shift a stamp by ``(dx, dy)`` pixels with the Fourier shift theorem (band-limited)."""
    ny, nx = stamp.shape
    fy = sfft.fftfreq(ny)[:, None]
    fx = sfft.rfftfreq(nx)[None, :]
    phase = np.exp(-2j * np.pi * (fx * dx + fy * dy))
    return sfft.irfft2(sfft.rfft2(stamp) * phase, s=stamp.shape)


def _cutout_centred(data: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    half = size // 2
    xi, yi = int(round(x)), int(round(y))
    stamp = data[yi - half : yi + half + 1, xi - half : xi + half + 1].astype(float)
    return fourier_shift(stamp, xi - x, yi - y)


def _taper(size: int) -> np.ndarray:
    """A circular window: 1 inside 0.7 of the half-size, cosine to 0 at the stamp edge."""
    half = size // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    r = np.hypot(xx, yy) / half
    window = np.clip((1.0 - r) / 0.3, 0.0, 1.0)
    return np.where(r < 0.7, 1.0, 0.5 - 0.5 * np.cos(np.pi * window))


@dataclass(frozen=True, eq=False)
class PSFModel:
    """A PSF whose pixels are polynomials in the image position (as PSFEx does).

    ``at(x, y)`` evaluates ``Σ_k coeffs[k] · basis_k(u, v)`` with ``u, v`` the position
    scaled to [-1, 1] over the image and the basis the monomials up to ``degree``.

    Attributes
    ----------
    coeffs : ndarray
        ``[n_terms, size, size]`` polynomial coefficients of every PSF pixel.
    degree : int
        Polynomial degree in position (0 = constant PSF).
    shape : tuple of int
        ``(ny, nx)`` of the image the model describes.
    n_stars : int
        Stars used in the final fit.
    """

    coeffs: np.ndarray
    degree: int
    shape: tuple[int, int]
    n_stars: int

    @property
    def size(self) -> int:
        """Stamp size in pixels."""
        return int(self.coeffs.shape[-1])

    def at(self, x: float, y: float) -> np.ndarray:
        """The unit-sum PSF stamp at image position ``(x, y)``."""
        basis = _basis(np.atleast_1d(float(x)), np.atleast_1d(float(y)), self.shape, self.degree)
        psf = np.tensordot(basis[0], self.coeffs, axes=1)
        psf = np.clip(psf, 0.0, None)
        return psf / psf.sum()

    def fwhm_at(self, x: float, y: float) -> float:
        """FWHM in pixels from the PSF's effective area (exact for a Gaussian)."""
        return psf_fwhm(self.at(x, y))


def _basis(x: np.ndarray, y: np.ndarray, shape: tuple[int, int], degree: int) -> np.ndarray:
    """``[n, n_terms]`` monomials u^i v^j (i + j ≤ degree) of the scaled positions."""
    ny, nx = shape
    u = 2.0 * x / max(nx - 1, 1) - 1.0
    v = 2.0 * y / max(ny - 1, 1) - 1.0
    terms = [
        u**i * v**j for total in range(degree + 1) for i in range(total + 1) for j in [total - i]
    ]
    return np.column_stack(terms)


def psf_fwhm(psf: np.ndarray) -> float:
    """FWHM (pixels) of a unit-sum PSF from its noise-equivalent area, ``1/Σ P²``."""
    area = 1.0 / float(np.sum(psf**2))
    # Gaussian: area = 4π σ², FWHM = 2.3548 σ
    return float(2.3548 * np.sqrt(area / (4 * np.pi)))


def measure_psf(
    data: np.ndarray,
    stars: StarList,
    config: PSFConfig = PSFConfig(),
    *,
    label: str = "image",
) -> PSFModel:
    """Measure a spatially varying PSF from the PSF-candidate stars of `find_stars`.

    Each star is cut out, re-centred on its windowed centroid by a sub-pixel Fourier
    shift and normalised to unit flux; every PSF pixel is then fitted, by weighted least
    squares over the stars, as a polynomial in position (degree 2 with ≥ 30 stars, 1 with
    ≥ 10, else constant). Stars whose residual is an outlier are rejected and the fit
    repeated; each star's centre is refined once against the first model.

    Parameters
    ----------
    data : ndarray
        Background-subtracted image.
    stars : StarList
        Output of `find_stars`; only ``psf_candidate`` stars are used.
    config : PSFConfig
        Stamp size and polynomial degree limits.
    label : str
        Name of the image, for error messages.

    Raises
    ------
    PSFError
        When fewer than 3 usable stars exist in the whole image.
    """
    idx = np.flatnonzero(stars.psf_candidate)
    if len(idx) < 3:
        raise PSFError(
            f"{label}: only {len(idx)} bright isolated unsaturated stars found; need at least 3 "
            "to measure the PSF",
            n_stars=len(idx),
        )
    idx = idx[np.argsort(-stars.flux[idx])][: config.max_stars]
    size = config.size
    work = np.ascontiguousarray(data, dtype=np.float32)
    sigma = np.maximum(np.sqrt(stars.a[idx] * stars.b[idx]), 0.5)
    x, y, flag = sep.winpos(work, stars.x[idx], stars.y[idx], sigma)
    bad = (flag != 0) | ~np.isfinite(x) | ~np.isfinite(y)
    x = np.where(bad, stars.x[idx], x)
    y = np.where(bad, stars.y[idx], y)
    snr = stars.flux[idx] / np.maximum(stars.flux_err[idx], 1e-30)
    shape = (int(data.shape[0]), int(data.shape[1]))
    n = len(x)
    degree = config.max_degree if n >= 30 else (1 if n >= 10 else 0)
    degree = min(degree, config.max_degree)
    stamps = _normalised_stamps(data, x, y, size)
    weights = snr**2
    model = _fit(stamps, x, y, weights, shape, degree)
    # Refine centres against the first model (cross-correlation peak), then refit.
    dx, dy = _centre_offsets(stamps, model, x, y)
    x, y = x + dx, y + dy
    stamps = _normalised_stamps(data, x, y, size)
    keep = np.ones(n, bool)
    for _ in range(3):
        model = _fit(stamps[keep], x[keep], y[keep], weights[keep], shape, degree)
        predicted = np.stack([model.at(xi, yi) for xi, yi in zip(x, y, strict=True)])
        chi = np.sqrt(((stamps - predicted) ** 2).sum(axis=(1, 2))) * snr
        limit = np.median(chi[keep]) + 4 * 1.4826 * np.median(
            np.abs(chi[keep] - np.median(chi[keep]))
        )
        new_keep = chi <= limit
        if new_keep.sum() < max(3, n // 2) or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return model


def _normalised_stamps(data: np.ndarray, x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    stamps = np.stack([_cutout_centred(data, xi, yi, size) for xi, yi in zip(x, y, strict=True)])
    stamps *= _taper(size)
    flux = stamps.sum(axis=(1, 2))
    return stamps / np.where(flux > 0, flux, 1.0)[:, None, None]


def _fit(
    stamps: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    shape: tuple[int, int],
    degree: int,
) -> PSFModel:
    """Mean PSF plus a few principal components whose amplitudes are polynomials in position.

    Fitting every pixel's polynomial independently fits noise; the variation of a real PSF
    lives in a low-dimensional subspace (as PSFEx exploits), so only the amplitudes of the
    leading components vary, which keeps the model smooth with few stars.
    """
    n, size = len(stamps), stamps.shape[-1]
    flat = stamps.reshape(n, -1)
    w = weights / weights.sum()
    mean = w @ flat
    basis = _basis(x, y, shape, degree)
    n_terms = basis.shape[1]
    coeffs = np.zeros((n_terms, flat.shape[1]))
    coeffs[0] = mean
    n_comp = min(3, n // 10) if degree > 0 else 0
    if n_comp > 0:
        resid = flat - mean
        components = _leading_components(resid * np.sqrt(w)[:, None], n_comp)
        amplitudes = resid @ components.T  # [n, n_comp]
        sw = np.sqrt(w)[:, None]
        poly = np.linalg.lstsq(basis * sw, amplitudes * sw, rcond=None)[0]  # [n_terms, n_comp]
        coeffs += poly @ components
    return PSFModel(
        coeffs=coeffs.reshape(n_terms, size, size), degree=degree, shape=shape, n_stars=n
    )


def _leading_components(matrix: np.ndarray, k: int) -> np.ndarray:
    """Top `k` right singular vectors ``[k, n_pixels]`` by randomized subspace iteration.

    A full SVD or eigendecomposition is needlessly slow for three components with the BLAS
    builds we meet; a seeded subspace iteration with oversampling is exact to rounding for
    the leading components of these small, well-separated spectra.
    """
    n, p = matrix.shape
    width = min(k + 8, n, p)
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(matrix.T @ rng.standard_normal((n, width)))[0]  # [p, width]
    for _ in range(6):
        basis = np.linalg.qr(matrix.T @ (matrix @ basis))[0]
    _, _, vt = np.linalg.svd(matrix @ basis, full_matrices=False)  # small: [n, width]
    return (basis @ vt.T[:, :k]).T


def _centre_offsets(
    stamps: np.ndarray, model: PSFModel, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel shift of each stamp relative to the model, from a linearised fit."""
    dx = np.zeros(len(stamps))
    dy = np.zeros(len(stamps))
    for k, (xi, yi) in enumerate(zip(x, y, strict=True)):
        psf = model.at(xi, yi)
        gy, gx = np.gradient(psf)
        design = np.column_stack([psf.ravel(), -gx.ravel(), -gy.ravel()])
        sol = np.linalg.lstsq(design, stamps[k].ravel(), rcond=None)[0]
        if sol[0] > 0:
            dx[k] = np.clip(sol[1] / sol[0], -0.5, 0.5)
            dy[k] = np.clip(sol[2] / sol[0], -0.5, 0.5)
    return dx, dy
