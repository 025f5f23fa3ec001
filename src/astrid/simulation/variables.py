"""Variable stars: clean, unsaturated stars whose flux changes by 20-100 % in the science epoch.

They are real changes a difference-imaging pipeline should report but which are not new
objects. Fluxes are science ADU.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from astrid.errors import ConfigurationError
from astrid.simulation.config import EDGE_MARGIN, SimulationConfig
from astrid.simulation.placement import clear_of
from astrid.simulation.sky import Stars


def add_variables(
    rng: np.random.Generator,
    config: SimulationConfig,
    stars: Stars,
    bleed_xy: np.ndarray,
    model_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``config.n_variables`` stars variable and add their change to the science model.

    Returns
    -------
    is_variable : numpy.ndarray
        Mask over the stars.
    flux_science : numpy.ndarray
        Every star's science-epoch flux.
    """
    sx, sy, sflux = stars.x, stars.y, stars.flux
    k_ref = config.reference_flux_scale
    change = rng.uniform(0.2, 1.0, size=len(sx)) * rng.choice([-1.0, 1.0], size=len(sx))
    is_var = _choose_variables(
        rng,
        config,
        xy=np.column_stack([sx, sy]),
        inside=np.arange(len(sx)) < stars.n_inside,
        saturated=stars.saturated,
        quiet=(
            config.sky_science + sflux * (1.0 + np.abs(change)) * stars.science_peak
            < 0.5 * config.saturation
        )
        & (config.sky_reference + k_ref * sflux * stars.reference_peak < 0.5 * config.saturation),
        bright=sflux * np.sqrt(stars.sum_sq) / config.science_sigma >= 10.0,
        bleed_xy=bleed_xy,
    )
    sflux_sci = np.where(is_var, sflux * (1.0 + change), sflux)
    stars.science_stamps.add_to(model_s, sx, sy, sflux_sci - sflux)
    return is_var, sflux_sci


def _choose_variables(
    rng: np.random.Generator,
    config: SimulationConfig,
    *,
    xy: np.ndarray,
    inside: np.ndarray,
    saturated: np.ndarray,
    quiet: np.ndarray,
    bright: np.ndarray,
    bleed_xy: np.ndarray,
) -> np.ndarray:
    """Mask of the stars made variable: inside, unsaturated, clear of saturated stars and bleeds.

    Stars of SNR >= 10 are preferred so that most changes are measurable.
    """
    ny, nx = config.shape
    ok = (
        inside
        & quiet
        & ~saturated
        & (xy[:, 0] >= EDGE_MARGIN)
        & (xy[:, 0] <= nx - 1 - EDGE_MARGIN)
        & (xy[:, 1] >= EDGE_MARGIN)
        & (xy[:, 1] <= ny - 1 - EDGE_MARGIN)
    )
    if saturated.any():
        ok &= clear_of(xy, cKDTree(xy[saturated]), EDGE_MARGIN)
    if len(bleed_xy):
        ok &= clear_of(xy, cKDTree(bleed_xy), EDGE_MARGIN)
    candidates = np.nonzero(ok & bright)[0]
    if len(candidates) < config.n_variables:
        candidates = np.nonzero(ok)[0]
    if len(candidates) < config.n_variables:
        raise ConfigurationError(
            f"only {len(candidates)} stars can be variables, {config.n_variables} requested; "
            "use more stars or fewer variables",
            available=len(candidates),
            requested=config.n_variables,
        )
    chosen = np.zeros(len(xy), dtype=bool)
    chosen[rng.choice(candidates, size=config.n_variables, replace=False)] = True
    return chosen
