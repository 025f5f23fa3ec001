"""Placing unit-sum stamps on an image: single stamps and many point sources at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astrid.simulation.psf_field import MoffatPSFField


def add_stamps(
    image: np.ndarray, stamps: np.ndarray, ix: np.ndarray, iy: np.ndarray, scale: np.ndarray
) -> None:
    """Add ``scale[k] * stamps[k]`` centred on pixel ``(ix[k], iy[k])``, clipped to the image."""
    ny, nx = image.shape
    size = stamps.shape[1]
    half = size // 2
    for k in range(len(ix)):
        x0, y0 = int(ix[k]) - half, int(iy[k]) - half
        xa, xb = max(x0, 0), min(x0 + size, nx)
        ya, yb = max(y0, 0), min(y0 + size, ny)
        if xa >= xb or ya >= yb:
            continue
        image[ya:yb, xa:xb] += scale[k] * stamps[k, ya - y0 : yb - y0, xa - x0 : xb - x0]


def nearest_pixel(v: np.ndarray) -> np.ndarray:
    """Index of the pixel containing ``v`` (halves rounded up, unlike ``np.round``)."""
    return np.floor(np.asarray(v, float) + 0.5).astype(np.int64)


@dataclass(frozen=True)
class PointStamps:
    """Unit-sum stamps of many point sources, grouped by stamp size.

    Bright sources get stamps large enough that their cut wings stay below a tenth of the
    background noise; sources whose stamp misses the image are not rendered.
    """

    n: int
    groups: tuple[tuple[np.ndarray, np.ndarray], ...]  # (source indices, stamps)

    @classmethod
    def render(
        cls,
        psf: MoffatPSFField,
        x: np.ndarray,
        y: np.ndarray,
        max_flux: np.ndarray,
        *,
        psf_size: int,
        sigma: float,
    ) -> PointStamps:
        ny, nx = psf.shape
        sizes = [psf_size, 2 * psf_size + 1, 4 * psf_size + 3, 8 * psf_size + 7]
        needed = np.full(len(x), sizes[-1])
        for size in reversed(sizes):
            wing = np.abs(max_flux) * psf.profile_at(x, y, np.full(len(x), size // 2))
            needed[wing < 0.1 * sigma] = size
        groups = []
        for size in sizes:
            half = size // 2
            idx = np.nonzero(
                (needed == size)
                & (x > -half - 1)
                & (x < nx + half)
                & (y > -half - 1)
                & (y < ny + half)
            )[0]
            if len(idx):
                groups.append((idx, psf.render(x[idx], y[idx], size)))
        return cls(len(x), tuple(groups))

    def peak(self) -> np.ndarray:
        """Largest pixel of each stamp (0 where not rendered)."""
        out = np.zeros(self.n)
        for idx, stamps in self.groups:
            out[idx] = stamps.max(axis=(1, 2))
        return out

    def sum_sq(self) -> np.ndarray:
        """``sum(P**2)`` of each stamp (0 where not rendered)."""
        out = np.zeros(self.n)
        for idx, stamps in self.groups:
            out[idx] = np.sum(stamps**2, axis=(1, 2))
        return out

    def add_to(self, image: np.ndarray, x: np.ndarray, y: np.ndarray, flux: np.ndarray) -> None:
        """Add every source of non-zero flux."""
        for idx, stamps in self.groups:
            keep = flux[idx] != 0
            sel = idx[keep]
            add_stamps(image, stamps[keep], nearest_pixel(x[sel]), nearest_pixel(y[sel]), flux[sel])
