"""Host-assignment accuracy and reference-extraction time on synthetic fields.

Run: ``PYTHONPATH=src python benchmarks/host_assignment.py``
"""

from __future__ import annotations

import time

import numpy as np
from astropy.wcs import WCS

from astrid.context.host import assign_hosts
from astrid.context.reference_sources import find_reference_sources


def _wcs(n: int) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [n / 2, n / 2]
    w.wcs.cdelt = [-0.25 / 3600, 0.25 / 3600]
    return w


def field(seed: int, n: int, n_gal: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise (rms 1) plus elliptical Gaussian galaxies; returns image and galaxy params."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0.0, 1.0, (n, n))
    gals = np.column_stack(
        [
            rng.uniform(30, n - 30, n_gal),
            rng.uniform(30, n - 30, n_gal),
            rng.uniform(4, 10, n_gal),
            rng.uniform(2.5, 4, n_gal),
            rng.uniform(-np.pi / 2, np.pi / 2, n_gal),
            rng.uniform(30, 300, n_gal),
        ]
    )
    for x0, y0, sa, sb, th, amp in gals:
        h = int(5 * sa)
        x1, x2, y1, y2 = int(x0) - h, int(x0) + h, int(y0) - h, int(y0) + h
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, n), min(y2, n)
        yy, xx = np.mgrid[y1:y2, x1:x2]
        dx, dy = xx - x0, yy - y0
        u = dx * np.cos(th) + dy * np.sin(th)
        v = -dx * np.sin(th) + dy * np.cos(th)
        img[y1:y2, x1:x2] += amp * np.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2))
    return img, gals


def main() -> None:
    """Print host-assignment accuracy over 5 seeds and extraction times."""
    n = 1024
    wcs = _wcs(n)
    right = total = 0
    for seed in range(5):
        img, gals = field(seed, n, 60)
        src = find_reference_sources(img, wcs, psf_fwhm_px=3.5, background_rms=1.0)
        rng = np.random.default_rng(100 + seed)
        for x0, y0, sa, _sb, th, _amp in gals:
            f = rng.uniform(0, 1.5)
            phi = rng.uniform(0, 2 * np.pi)
            tx = x0 + f * sa * np.cos(phi) * np.cos(th)
            ty = y0 + f * sa * np.cos(phi) * np.sin(th)
            sky = wcs.pixel_to_world(tx, ty)
            (m,) = assign_hosts(src, sky.ra.deg, sky.dec.deg)
            total += 1
            if m is not None:
                hx, hy = wcs.world_to_pixel_values(m.ra, m.dec)
                right += int(np.hypot(hx - x0, hy - y0) < 3)
    print(f"right host: {right}/{total} = {right / total:.3f} (5 seeds, 60 galaxies each)")
    for size, ng in ((1024, 60), (4096, 960)):
        img, _ = field(7, size, ng)
        t0 = time.perf_counter()
        src = find_reference_sources(img, _wcs(size), psf_fwhm_px=3.5, background_rms=1.0)
        print(f"extract {size}^2: {time.perf_counter() - t0:.2f} s, {len(src)} sources")


if __name__ == "__main__":
    main()
