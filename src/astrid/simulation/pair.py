"""`simulate_pair`: a seeded science / reference image pair with known truth.

The steps, each in its own module: pointing and PSFs (`geometry`), stars (`sky`), galaxies
(`galaxies`), variables (`variables`), transients (`placement`), noise and bleeding
(`detector`), artifacts (`artifacts`), the truth table (`truth`) and the two `Image` objects
(`exposures`). Every random step draws from its own stream (spawned from the seed), so a
step's draws do not depend on how many another step made. Conventions: see `astrid.simulation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from astropy.table import Table

from astrid.errors import ConfigurationError
from astrid.observations.image import Image
from astrid.simulation.artifacts import paint_artifacts
from astrid.simulation.config import SimulationConfig
from astrid.simulation.detector import add_noise, bleed
from astrid.simulation.exposures import reference_image, science_image
from astrid.simulation.galaxies import Galaxies, add_galaxies
from astrid.simulation.geometry import PairGeometry, draw_geometry
from astrid.simulation.placement import Blockers, add_transients, total_noise_snr
from astrid.simulation.psf_field import MoffatPSFField
from astrid.simulation.sky import FluxScale, Stars, add_stars
from astrid.simulation.truth import TruthRows
from astrid.simulation.variables import add_variables

__all__ = ["SimulatedPair", "simulate_pair"]


@dataclass(frozen=True, eq=False)
class SimulatedPair:
    """A simulated reference / science pair with its truth table.

    Attributes
    ----------
    science, reference : Image
        float32 ADU, sky included, masks all False.
    truth : astropy.table.Table
        One row per object: ``kind, ra, dec, x, y, flux, snr`` (the scorer's format, see the
        module docstring) followed by ``ref_x, ref_y`` (reference pixels), ``flux_science``
        (science ADU), ``flux_reference`` (reference ADU) and ``mag`` (science zero point).
        Kinds: ``star``, ``saturated_star``, ``variable``, ``galaxy``, ``transient``,
        ``transient_on_galaxy`` and the artifact kinds. For a variable ``flux`` is the
        science-minus-reference flux in science ADU.
    config : SimulationConfig
    seed : int
    science_psf_field, reference_psf_field : MoffatPSFField
        The PSFs the images were rendered with, in each image's own pixel frame.
    """

    science: Image
    reference: Image
    truth: Table
    config: SimulationConfig
    seed: int
    science_psf_field: MoffatPSFField = field(repr=False)
    reference_psf_field: MoffatPSFField = field(repr=False)

    @property
    def reference_flux_scale(self) -> float:
        """Reference ADU per science ADU (`SimulationConfig.reference_flux_scale`)."""
        return self.config.reference_flux_scale

    def science_psf(
        self, x: float, y: float, size: int = 31, *, subpixel: bool = False
    ) -> np.ndarray:
        """Unit-sum pixelised science PSF as rendered at science pixel ``(x, y)``.

        Centred on the stamp centre, or with ``subpixel=True`` exactly the stamp a source at
        ``(x, y)`` was rendered with (offset by ``x - round(x), y - round(y)``).
        """
        return self.science_psf_field.stamp(x, y, size, subpixel=subpixel)

    def reference_psf(
        self, x: float, y: float, size: int = 31, *, subpixel: bool = False
    ) -> np.ndarray:
        """Unit-sum pixelised reference PSF at *reference* pixel ``(x, y)``; see `science_psf`."""
        return self.reference_psf_field.stamp(x, y, size, subpixel=subpixel)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``reference.fits``, ``science.fits`` and ``truth.csv`` into ``directory``.

        Returns
        -------
        dict of str to pathlib.Path
            Paths under the keys ``"reference"``, ``"science"`` and ``"truth"``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "reference": out / "reference.fits",
            "science": out / "science.fits",
            "truth": out / "truth.csv",
        }
        self.reference.to_hdu().writeto(paths["reference"], overwrite=True)
        self.science.to_hdu().writeto(paths["science"], overwrite=True)
        self.truth.write(paths["truth"], format="ascii.csv", overwrite=True)
        return paths


@dataclass(frozen=True, eq=False)
class _Streams:
    """One random stream per step, spawned from the seed in a fixed order."""

    geometry: np.random.Generator
    stars: np.random.Generator
    galaxies: np.random.Generator
    variables: np.random.Generator
    transients: np.random.Generator
    artifacts: np.random.Generator
    noise_science: np.random.Generator
    noise_reference: np.random.Generator

    @classmethod
    def spawn(cls, seed: int, epoch: int = 0) -> _Streams:
        """The streams of ``seed``; a later ``epoch`` redraws the science noise and artifacts."""
        streams = cls(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)))
        if epoch == 0:
            return streams
        noise, artifacts = (
            np.random.default_rng(s) for s in np.random.SeedSequence([seed, epoch]).spawn(2)
        )
        return replace(streams, noise_science=noise, artifacts=artifacts)


def simulate_pair(
    config: SimulationConfig | None = None,
    *,
    seed: int = 0,
    epoch: int = 0,
    seeing: float = 1.0,
) -> SimulatedPair:
    """Simulate a reference / science pair with stars, galaxies, transients and artifacts.

    Parameters
    ----------
    config : SimulationConfig, optional
        What to simulate; defaults to ``SimulationConfig()``.
    seed : int
        Seed of everything random; the same seed and config give identical output.
    epoch : int
        Another science exposure of the same sky: epochs of one seed share the reference
        image, the pointing and every star and galaxy (positions and fluxes), and differ in
        the science image's noise and artifacts. Epoch 0 is the plain pair.
    seeing : float
        The science PSF's FWHM is ``config.science_fwhm`` times this (the stars' fluxes do
        not depend on it).

    Returns
    -------
    SimulatedPair
        The two images, the truth table and the PSFs they were rendered with.

    Raises
    ------
    astrid.errors.ConfigurationError
        If the config is invalid or the transients cannot all be placed on empty sky.
    """
    config = SimulationConfig() if config is None else config
    if not (np.isfinite(seeing) and seeing > 0):
        raise ConfigurationError(f"simulate_pair: seeing must be > 0, got {seeing}", seeing=seeing)
    rngs = _Streams.spawn(seed, epoch)
    geometry = draw_geometry(config, rngs.geometry)
    scale = FluxScale.of(config, geometry)
    geometry = geometry.with_science_seeing(seeing)
    # Noiseless models of both images, sky included, in each image's own ADU.
    model_s = np.full(config.shape, config.sky_science, dtype=np.float64)
    model_r = np.full(config.shape, config.sky_reference, dtype=np.float64)
    stars = add_stars(rngs.stars, config, geometry, scale, model_s, model_r)
    galaxies = add_galaxies(rngs.galaxies, config, geometry, scale, model_s, model_r)
    bleed_xy = _bleed_positions(model_s, model_r, geometry, config.saturation)
    is_var, flux_sci = add_variables(rngs.variables, config, stars, bleed_xy, model_s)
    blockers = _blockers(config, geometry, stars, flux_sci, galaxies, bleed_xy)
    transients = add_transients(rngs.transients, config, blockers, galaxies.n_inside, model_s)
    snr_total = total_noise_snr(
        transients,
        config,
        (geometry.science_psf, geometry.reference_psf),
        model_s,
        model_r,
        geometry.to_reference(transients.x, transients.y),
    )

    avoid_xy = np.concatenate(
        [
            np.column_stack([transients.x, transients.y]),
            np.column_stack([stars.x[is_var], stars.y[is_var]]),
        ]
    ).reshape(-1, 2)
    science, reference, rows = _expose(config, rngs, model_s, model_r, avoid_xy, geometry)
    k_ref, sigma_s = config.reference_flux_scale, config.science_sigma
    rows.add_stars(
        stars, flux_sci, is_var, geometry=geometry, reference_flux_scale=k_ref, sigma=sigma_s
    )
    rows.add_galaxies(galaxies, geometry=geometry, reference_flux_scale=k_ref, sigma=sigma_s)
    rows.add_transients(transients, geometry=geometry, snr_total=snr_total)
    truth = rows.sorted_table()
    truth.meta.update(seed=seed, reference_flux_scale=k_ref, sigma_pix=sigma_s)
    return SimulatedPair(
        science=science_image(
            science, geometry.science_wcs, config, seed=seed, fwhm=geometry.science_psf.fwhm_center
        ),
        reference=reference_image(reference, geometry.reference_wcs, config, seed=seed),
        truth=truth,
        config=config,
        seed=seed,
        science_psf_field=geometry.science_psf,
        reference_psf_field=geometry.reference_psf,
    )


def _expose(
    config: SimulationConfig,
    rngs: _Streams,
    model_s: np.ndarray,
    model_r: np.ndarray,
    avoid_xy: np.ndarray,
    geometry: PairGeometry,
) -> tuple[np.ndarray, np.ndarray, TruthRows]:
    """Noise, then saturation with bleeding, then artifacts (which bypass the optics).

    Returns the science and reference pixels and the truth rows of the artifacts, which keep
    clear of ``avoid_xy``.
    """
    science = add_noise(model_s, config.gain, config.read_noise, rngs.noise_science)
    reference = add_noise(model_r, config.gain, config.read_noise, rngs.noise_reference)
    bleed(science, config.saturation)
    bleed(reference, config.saturation)
    rows = TruthRows()
    paint_artifacts(
        science,
        config.artifacts,
        config.science_sigma,
        config.sky_science,
        rngs.artifacts,
        avoid_xy,
        rows,
        geometry.to_sky,
    )
    np.minimum(science, config.saturation, out=science)
    np.minimum(reference, config.saturation, out=reference)
    return science, reference, rows


def _bleed_positions(
    model_s: np.ndarray, model_r: np.ndarray, geometry: PairGeometry, saturation: float
) -> np.ndarray:
    """Science pixels ``(n, 2)`` where bright stars will bleed in either epoch."""
    bleed_s = np.argwhere(bleed(model_s.copy(), saturation))[:, ::-1].astype(float)
    bleed_r = np.argwhere(bleed(model_r.copy(), saturation))[:, ::-1].astype(float)
    if len(bleed_r):
        bleed_r = geometry.reference_to_science(bleed_r)
    return np.concatenate([bleed_s, bleed_r.reshape(-1, 2)])


def _blockers(
    config: SimulationConfig,
    geometry: PairGeometry,
    stars: Stars,
    flux_science: np.ndarray,
    galaxies: Galaxies,
    bleed_xy: np.ndarray,
) -> Blockers:
    """What the transients must keep clear of: stars (either epoch), galaxies, bleeds."""
    psf_s = geometry.science_psf
    return Blockers(
        star_xy=np.column_stack([stars.x, stars.y]),
        star_flux=np.maximum(stars.flux, flux_science),
        star_fwhm=psf_s.fwhm(stars.x, stars.y),
        galaxy_xy=np.column_stack([galaxies.x, galaxies.y]),
        galaxy_reff=galaxies.r_eff,
        bleed_xy=bleed_xy,
        psf=psf_s,
        shape=config.shape,
        sigma=config.science_sigma,
        beta=config.moffat_beta,
    )
