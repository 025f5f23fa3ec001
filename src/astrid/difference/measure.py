"""Measure candidates on the ZOGY products: position, PSF flux, shape, masked pixels.

Position and flux: a least-squares fit to D of the exact response in D of a point source
(the tile's ZOGY kernels applied to the science PSF at the candidate's position), shifted
with the Fourier shift theorem; Gauss-Newton steps in position start from the sub-pixel
maximum of |S| (a log-parabola through the 3×3 pixels around the peak). At fixed position
the flux is ZOGY's α = S/F_S evaluated between pixels. Error: ZOGY's sqrt(V_S)/F_S at the peak,
which carries source and astrometric noise. Position errors: the covariance of the fit in
(flux, x, y) — the inverse of JᵀJ, J the model's derivatives at the fitted position — scaled
so that its flux variance is ZOGY's (D's noise is white, and ZOGY's error adds the source's
own noise), so σ_x = σ_F √(C_xx / C_FF). Shape: Gaussian-windowed second moments of
sign × D, deconvolved from the window (exact for a Gaussian profile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from astrid.difference.peaks import Peaks
from astrid.difference.zogy import ZogyResult
from astrid.preprocess.psf import psf_fwhm

__all__ = ["Measurements", "measure_candidates"]


@dataclass(frozen=True, eq=False)
class Measurements:
    """Per-candidate measurements, one array element per peak (science pixel coordinates)."""

    x: np.ndarray
    y: np.ndarray
    x_err: np.ndarray  # 1σ, pixels, from the fit's covariance (module notes)
    y_err: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    snr: np.ndarray
    fwhm: np.ndarray
    elongation: np.ndarray
    n_bad_pixels: np.ndarray


def _subpixel(s: np.ndarray, x: int, y: int) -> tuple[float, float]:
    ny, nx = s.shape
    if not (0 < x < nx - 1 and 0 < y < ny - 1):
        return 0.0, 0.0
    patch = np.abs(s[y - 1 : y + 2, x - 1 : x + 2].astype(float))
    use_log = bool(np.all(patch > 0))
    p = np.log(patch) if use_log else patch
    offsets = []
    for left, centre, right in ((p[1, 0], p[1, 1], p[1, 2]), (p[0, 1], p[1, 1], p[2, 1])):
        curvature = left - 2 * centre + right
        offsets.append(
            0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
        )
    return offsets[0], offsets[1]


def _fit_point_source(
    data: np.ndarray,
    response_and_spectrum: tuple[np.ndarray, np.ndarray],
    dx: float,
    dy: float,
    window: slice,
) -> tuple[float, float, float, np.ndarray]:
    """Least-squares flux and sub-pixel position of a response in `data` (Gauss-Newton),
    and the fit's shape of the covariance of (flux, x, y): ``(JᵀJ)⁻¹`` (module notes).

    ``response_and_spectrum`` is the response and its ``rfft2``: one serves many candidates.
    """
    response, spectrum = response_and_spectrum
    ny, nx = response.shape
    fy, fx = sfft.fftfreq(ny)[:, None], sfft.rfftfreq(nx)[None, :]

    def shifted_spectrum(dx: float, dy: float) -> np.ndarray:
        # the Fourier shift theorem (`astrid.preprocess.psf.fourier_shift`), the stamp's
        # transform taken once
        return spectrum * np.exp(-2j * np.pi * (fx * dx + fy * dy))

    def shifted(dx: float, dy: float) -> np.ndarray:
        return sfft.irfft2(shifted_spectrum(dx, dy), s=(ny, nx))

    model = shifted(dx, dy)[window, window]
    flux = float((data * model).sum() / (model**2).sum())
    for _ in range(3):
        gy, gx = np.gradient(model)
        design = np.column_stack([model.ravel(), -gx.ravel(), -gy.ravel()])
        sol = np.linalg.lstsq(design, data.ravel(), rcond=None)[0]
        if sol[0] == 0 or not np.all(np.isfinite(sol)):
            break
        step_x, step_y = sol[1] / sol[0], sol[2] / sol[0]
        new_dx, new_dy = float(np.clip(dx + step_x, -1, 1)), float(np.clip(dy + step_y, -1, 1))
        model = shifted(new_dx, new_dy)[window, window]
        dx, dy = new_dx, new_dy
        flux = float((data * model).sum() / (model**2).sum())
        if abs(step_x) < 0.005 and abs(step_y) < 0.005:
            break
    # the model's exact derivatives in position, by the derivative theorem (np.gradient's
    # central differences are ~15 % short on a 2 px PSF and would inflate the errors)
    at_fit = shifted_spectrum(dx, dy)
    columns = [model.ravel()]
    for frequency in (fx, fy):
        slope = sfft.irfft2(at_fit * (-2j * np.pi * frequency), s=(ny, nx))
        columns.append(flux * slope[window, window].ravel())
    jacobian = np.column_stack(columns)
    return flux, dx, dy, np.linalg.pinv(jacobian.T @ jacobian)


def _stamp(image: np.ndarray, x: int, y: int, half: int) -> np.ndarray:
    ny, nx = image.shape
    out = np.zeros((2 * half + 1, 2 * half + 1), dtype=float)
    ya, yb = max(0, y - half), min(ny, y + half + 1)
    xa, xb = max(0, x - half), min(nx, x + half + 1)
    out[ya - (y - half) : yb - (y - half), xa - (x - half) : xb - (x - half)] = image[ya:yb, xa:xb]
    return out


def _windowed_shape(stamp: np.ndarray, sigma_w: float) -> tuple[float, float]:
    half = stamp.shape[0] // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    w = np.exp(-(xx**2 + yy**2) / (2 * sigma_w**2)) * np.clip(stamp, 0, None)
    total = w.sum()
    if total <= 0:
        return np.nan, np.nan
    mx, my = (w * xx).sum() / total, (w * yy).sum() / total
    cxx = (w * (xx - mx) ** 2).sum() / total
    cyy = (w * (yy - my) ** 2).sum() / total
    cxy = (w * (xx - mx) * (yy - my)).sum() / total
    tr, det = cxx + cyy, cxx * cyy - cxy**2
    disc = np.sqrt(max(tr**2 / 4 - det, 0.0))
    lam1, lam2 = tr / 2 + disc, max(tr / 2 - disc, 1e-6)
    # Deconvolve the Gaussian window: 1/σ_obs² = 1/σ² + 1/σ_w².
    inv_w = 1.0 / sigma_w**2
    s1 = 1.0 / max(1.0 / lam1 - inv_w, 1e-6)
    s2 = 1.0 / max(1.0 / lam2 - inv_w, 1e-6)
    fwhm = 2.3548 * float(np.sqrt(np.sqrt(s1 * s2)))
    return fwhm, float(np.sqrt(s1 / s2))


def measure_candidates(
    peaks: Peaks,
    result: ZogyResult,
    mask: np.ndarray,
    *,
    science_psf: Callable[[float, float], np.ndarray] | None = None,
    bad_pixel_radius: float = 5.0,
    response_cell: int = 64,
) -> Measurements:
    """Measure every peak on the ZOGY products.

    Parameters
    ----------
    peaks : Peaks
        Output of `find_peaks`.
    result : ZogyResult
        The ZOGY products (D, S, flux error map, per-tile P_D and F_D).
    mask : ndarray of bool
        Pixels bad in the science or aligned reference image.
    science_psf : callable, optional
        ``psf(x, y)``; when given, the flux fit uses the exact response in D of a source
        with the science PSF at the candidate's position, not the tile's P_D.
    bad_pixel_radius : float
        Masked pixels within this radius (pixels) are counted.
    response_cell : int
        Size (pixels) of the cells within which one point-source response is shared.
    """
    n = len(peaks)
    names = ("x", "y", "x_err", "y_err", "flux", "flux_err", "snr", "fwhm", "elong")
    out = {k: np.full(n, np.nan) for k in names}
    n_bad = np.zeros(n, int)
    responses: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
    rb = int(np.ceil(bad_pixel_radius))
    yy, xx = np.mgrid[-rb : rb + 1, -rb : rb + 1]
    disk = xx**2 + yy**2 <= bad_pixel_radius**2
    for k in range(n):
        xi, yi = int(peaks.x[k]), int(peaks.y[k])
        dx, dy = _subpixel(result.score, xi, yi)
        tile = result.tile_at(xi, yi)
        psf_d = tile.psf_d
        if science_psf is not None:
            # The PSF changes little over a response cell: compute once per cell and tile.
            cell: tuple[int, ...] = (id(tile), xi // response_cell, yi // response_cell)
            if cell not in responses:
                cx = (cell[1] + 0.5) * response_cell
                cy = (cell[2] + 0.5) * response_cell
                stamp = tile.point_source_response(science_psf(cx, cy))
                responses[cell] = (stamp, sfft.rfft2(stamp))
        else:
            cell = (id(tile),)
            if cell not in responses:
                stamp = psf_d * tile.f_d
                responses[cell] = (stamp, sfft.rfft2(stamp))
        response = responses[cell]
        half = response[0].shape[0] // 2
        # A very wide PSF estimate must not ask for a window beyond the response stamp.
        fit_half = min(half, max(3, int(np.ceil(1.5 * psf_fwhm(psf_d)))))
        window = slice(half - fit_half, half + fit_half + 1)
        data = _stamp(result.difference, xi, yi, fit_half)
        flux, dx, dy, shape = _fit_point_source(data, response, dx, dy, window)
        err = float(result.flux_err[yi, xi])
        out["x"][k], out["y"][k] = xi + dx, yi + dy
        if shape[0, 0] > 0 and err > 0:
            out["x_err"][k] = err * float(np.sqrt(max(shape[1, 1], 0.0) / shape[0, 0]))
            out["y_err"][k] = err * float(np.sqrt(max(shape[2, 2], 0.0) / shape[0, 0]))
        out["flux"][k], out["flux_err"][k] = flux, err
        out["snr"][k] = flux / err if err > 0 else np.nan
        sigma_w = psf_fwhm(psf_d) / 2.3548
        out["fwhm"][k], out["elong"][k] = _windowed_shape(peaks.sign[k] * data, sigma_w)
        n_bad[k] = int((_stamp(mask, xi, yi, rb)[disk] > 0).sum())
    return Measurements(
        x=out["x"],
        y=out["y"],
        x_err=out["x_err"],
        y_err=out["y_err"],
        flux=out["flux"],
        flux_err=out["flux_err"],
        snr=out["snr"],
        fwhm=out["fwhm"],
        elongation=out["elong"],
        n_bad_pixels=n_bad,
    )
