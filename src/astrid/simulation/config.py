"""What the sky simulator draws: `SimulationConfig`, `ArtifactConfig` and shared constants.

See `astrid.simulation` for the conventions (pixels, fluxes, SNR, magnitudes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from astrid.errors import ConfigurationError

__all__ = ["SCIENCE_ZERO_POINT", "ArtifactConfig", "SimulationConfig"]

SCIENCE_ZERO_POINT = 28.0
"""Magnitude of 1 ADU in the science image."""

EDGE_MARGIN = 30
"""Pixels between a transient (or a variable) and the image edge."""


@dataclass(frozen=True)
class ArtifactConfig:
    """How many detector artifacts of each kind to add (see `add_artifacts`).

    Attributes
    ----------
    n_cosmic_rays : int
        Half compact blobs of 1-3 pixels, half straight tracks of 3-15 pixels, 5-100 σ.
    n_hot_pixels : int
        Single pixels at 20-500 σ.
    n_bad_columns : int
        100-500 pixel segments of one column stuck near 0 or 50-200 σ above the sky.
    n_satellite_trails : int
        Straight lines about 3 pixels wide across the whole image.
    trail_sigma : tuple of float
        Range of a trail's peak brightness in units of the background noise σ.
    """

    n_cosmic_rays: int = 40
    n_hot_pixels: int = 30
    n_bad_columns: int = 2
    n_satellite_trails: int = 0
    trail_sigma: tuple[float, float] = (1.0, 3.0)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    Attributes
    ----------
    shape : tuple of int
        ``(ny, nx)`` of both images.
    pixel_scale : float
        Arcsec per pixel, both images.
    center : tuple of float
        RA, Dec (degrees) of the science image centre.
    science_fwhm, reference_fwhm : tuple of float
        PSF FWHM in pixels at the chip centre and at the chip corners; it grows quadratically
        with the distance from the centre. The FWHM of an elliptical PSF is the geometric mean
        of its major- and minor-axis FWHMs.
    ellipticity : float
        Largest PSF ellipticity ``1 - b/a`` (reached at the corners); the orientation varies
        smoothly across the chip.
    moffat_beta : float
        Moffat index of the PSF.
    gain, read_noise : float
        e-/ADU and e-, both images.
    sky_science, sky_reference : float
        Sky level in ADU per pixel.
    reference_depth : float
        The reference's background noise per pixel, in science flux units, is this many times
        lower than the science's; see `reference_flux_scale`.
    reference_offset_px : float
        Reference pointing offset in pixels (random direction), plus a random sub-pixel part.
    reference_rotation_deg : float
        Rotation of the reference's pixel grid relative to the science's.
    saturation : float
        ADU; brighter pixels are clipped and their excess charge bleeds along the column.
    n_stars, n_galaxies : int
        Number of stars and galaxies centred on the science image (a few more are drawn in a
        margin around it so that the shifted reference is filled too).
    n_transients : int
        Isolated point sources on empty sky, science image only.
    n_transients_on_galaxies : int
        Point sources at 0.3-1.5 effective radii from a galaxy centre, science image only.
    snr_range : tuple of float
        Matched-filter SNR range of the transients (drawn log-uniformly).
    n_variables : int
        Stars whose science flux differs from their reference flux by 20-100 %.
    n_cosmic_rays, n_hot_pixels, n_bad_columns, n_satellite_trails : int
        Artifacts added to the science image only.
    trail_sigma : tuple of float
        Range of a satellite trail's peak brightness, in units of the science background
        noise per pixel (drawn uniformly).
    psf_size : int
        Odd side of the stamp on which point sources are rendered (bright stars get larger
        stamps so that their wings are not cut).
    """

    shape: tuple[int, int] = (1024, 1024)
    pixel_scale: float = 0.7
    center: tuple[float, float] = (150.0, 2.0)
    science_fwhm: tuple[float, float] = (3.2, 3.9)
    reference_fwhm: tuple[float, float] = (2.7, 3.1)
    ellipticity: float = 0.08
    moffat_beta: float = 3.5
    gain: float = 1.5
    read_noise: float = 6.0
    sky_science: float = 800.0
    sky_reference: float = 1600.0
    reference_depth: float = 3.0
    reference_offset_px: float = 6.0
    reference_rotation_deg: float = 0.1
    saturation: float = 60000.0
    n_stars: int = 1500
    n_galaxies: int = 300
    n_transients: int = 200
    n_transients_on_galaxies: int = 50
    snr_range: tuple[float, float] = (3.0, 40.0)
    n_variables: int = 20
    n_cosmic_rays: int = 40
    n_hot_pixels: int = 30
    n_bad_columns: int = 2
    n_satellite_trails: int = 0
    trail_sigma: tuple[float, float] = (1.0, 3.0)
    psf_size: int = 31

    def __post_init__(self) -> None:
        ny, nx = self.shape
        if min(ny, nx) < 2 * EDGE_MARGIN + 8:
            raise ConfigurationError(
                f"SimulationConfig.shape must be at least {2 * EDGE_MARGIN + 8} px a side, "
                f"got {self.shape}",
                shape=self.shape,
            )
        if self.psf_size < 5 or self.psf_size % 2 == 0:
            raise ConfigurationError(
                f"SimulationConfig.psf_size must be odd and >= 5, got {self.psf_size}",
                psf_size=self.psf_size,
            )
        if self.moffat_beta <= 1.0:
            raise ConfigurationError(
                f"SimulationConfig.moffat_beta must be > 1, got {self.moffat_beta}",
                moffat_beta=self.moffat_beta,
            )
        if not 0.0 <= self.ellipticity < 1.0:
            raise ConfigurationError(
                f"SimulationConfig.ellipticity must be in [0, 1), got {self.ellipticity}",
                ellipticity=self.ellipticity,
            )
        lo, hi = self.snr_range
        if not 0.0 < lo <= hi:
            raise ConfigurationError(
                f"SimulationConfig.snr_range must satisfy 0 < low <= high, got {self.snr_range}",
                snr_range=self.snr_range,
            )
        for name in ("science_fwhm", "reference_fwhm"):
            if min(getattr(self, name)) <= 0:
                raise ConfigurationError(
                    f"SimulationConfig.{name} must be positive, got {getattr(self, name)}",
                    **{name: getattr(self, name)},
                )
        for name in ("gain", "pixel_scale", "sky_science", "sky_reference", "reference_depth"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(
                    f"SimulationConfig.{name} must be positive, got {getattr(self, name)}",
                    **{name: getattr(self, name)},
                )
        if self.n_transients_on_galaxies > self.n_galaxies:
            raise ConfigurationError(
                "SimulationConfig.n_transients_on_galaxies must not exceed n_galaxies, got "
                f"{self.n_transients_on_galaxies} > {self.n_galaxies}",
                n_transients_on_galaxies=self.n_transients_on_galaxies,
                n_galaxies=self.n_galaxies,
            )

    @property
    def science_sigma(self) -> float:
        """Background noise per pixel of the science image (ADU)."""
        return background_sigma(self.sky_science, self.gain, self.read_noise)

    @property
    def reference_sigma(self) -> float:
        """Background noise per pixel of the reference image (reference ADU)."""
        return background_sigma(self.sky_reference, self.gain, self.read_noise)

    @property
    def reference_flux_scale(self) -> float:
        """Reference ADU per science ADU of the same source.

        ``reference_depth * reference_sigma / science_sigma``, so that the reference's
        background noise divided by this scale is ``reference_depth`` times the science's.
        """
        return self.reference_depth * self.reference_sigma / self.science_sigma

    @property
    def artifacts(self) -> ArtifactConfig:
        """The artifact counts of this config."""
        return ArtifactConfig(
            n_cosmic_rays=self.n_cosmic_rays,
            n_hot_pixels=self.n_hot_pixels,
            n_bad_columns=self.n_bad_columns,
            n_satellite_trails=self.n_satellite_trails,
            trail_sigma=self.trail_sigma,
        )


def background_sigma(sky: float, gain: float, read_noise: float) -> float:
    """Per-pixel noise in ADU of a background of ``sky`` ADU."""
    return math.sqrt(sky * gain + read_noise**2) / gain
