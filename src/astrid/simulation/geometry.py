"""Where the two simulated images point and how they see: TAN WCS and PSF field of each.

The reference points ``config.reference_offset_px`` (plus a random sub-pixel part) away from
the science image in a random direction, its pixel grid rotated by
``config.reference_rotation_deg``. Sky positions are degrees ICRS; pixels 0-based ``(x, y)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from astropy.wcs import WCS

from astrid.simulation.config import SimulationConfig
from astrid.simulation.psf_field import MoffatPSFField


@dataclass(frozen=True, eq=False)
class PairGeometry:
    """The WCS and the PSF field of the science and the reference image."""

    science_wcs: WCS
    reference_wcs: WCS
    science_psf: MoffatPSFField
    reference_psf: MoffatPSFField

    def with_science_seeing(self, seeing: float) -> PairGeometry:
        """The same geometry with the science PSF's FWHM multiplied by ``seeing``."""
        if seeing == 1.0:
            return self
        psf = self.science_psf
        scaled = replace(
            psf, fwhm_center=psf.fwhm_center * seeing, fwhm_corner=psf.fwhm_corner * seeing
        )
        return replace(self, science_psf=scaled)

    def to_sky(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RA, Dec (degrees, RA in [0, 360)) of science pixels ``(x, y)``."""
        ra, dec = self.science_wcs.pixel_to_world_values(x, y)
        return np.asarray(ra) % 360.0, np.asarray(dec)

    def to_reference(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reference pixels of science pixels ``(x, y)``."""
        ra, dec = self.science_wcs.pixel_to_world_values(x, y)
        rx, ry = self.reference_wcs.world_to_pixel_values(ra, dec)
        return np.asarray(rx), np.asarray(ry)

    def reference_to_science(self, xy: np.ndarray) -> np.ndarray:
        """Science pixels ``(n, 2)`` of reference pixels ``xy`` ``(n, 2)``."""
        ra, dec = self.reference_wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
        return np.column_stack(self.science_wcs.world_to_pixel_values(ra, dec))

    def science_to_reference_jacobian(self) -> np.ndarray:
        """``J = CD_ref^-1 CD_sci``: science-pixel offsets to reference-pixel offsets."""
        return np.linalg.solve(
            self.reference_wcs.pixel_scale_matrix, self.science_wcs.pixel_scale_matrix
        )


def draw_geometry(config: SimulationConfig, rng: np.random.Generator) -> PairGeometry:
    """Draw the reference pointing and both PSF orientations (in that order) from ``rng``."""
    ny, nx = config.shape
    sci_wcs = tan_wcs(config.shape, config.pixel_scale, config.center, 0.0)
    phi = rng.uniform(0.0, 2.0 * math.pi)
    offset = config.reference_offset_px * np.array([math.cos(phi), math.sin(phi)])
    offset += rng.uniform(-0.5, 0.5, size=2)
    ref_ra, ref_dec = sci_wcs.pixel_to_world_values(
        (nx - 1) / 2 + offset[0], (ny - 1) / 2 + offset[1]
    )
    ref_wcs = tan_wcs(
        config.shape,
        config.pixel_scale,
        (float(ref_ra), float(ref_dec)),
        config.reference_rotation_deg,
    )
    psf_s = MoffatPSFField(
        config.shape,
        *config.science_fwhm,
        config.ellipticity,
        config.moffat_beta,
        angle0=rng.uniform(0.0, math.pi),
    )
    psf_r = MoffatPSFField(
        config.shape,
        *config.reference_fwhm,
        config.ellipticity,
        config.moffat_beta,
        angle0=rng.uniform(0.0, math.pi),
    )
    return PairGeometry(sci_wcs, ref_wcs, psf_s, psf_r)


def tan_wcs(
    shape: tuple[int, int], pixel_scale: float, center: tuple[float, float], rotation_deg: float
) -> WCS:
    """TAN WCS with the reference pixel at the image centre, north up, east left."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.crval = [float(center[0]) % 360.0, float(center[1])]
    scale = pixel_scale / 3600.0
    rot = math.radians(rotation_deg)
    cos, sin = math.cos(rot), math.sin(rot)
    wcs.wcs.cd = scale * np.array([[-cos, sin], [sin, cos]])
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.set()
    return wcs
