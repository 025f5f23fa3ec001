"""`simulate_sequence`: one reference and many science epochs of a field whose sky changes.

Epochs share the reference, the pointing and every star and galaxy (`simulate_pair` with
``epoch=k``) and differ in their noise, artifacts, seeing and in what changed:

* ``transient``: a source at a fixed position, off stars (a quarter of them near a galaxy),
  that appears at ``t0``, rises for ``rise_days`` (flux ∝ ((t - t0) / rise_days)²) and then
  declines exponentially with e-folding ``decline_days``; zero before ``t0``.
* ``variable``: an isolated star whose flux changes sinusoidally by ``amplitude`` of its
  reference flux (period ``period_days``, phase ``phase``).
* ``asteroid``: a point source of constant flux moving at ``rate_arcsec_per_hour`` along
  ``pa_deg`` (east of north), seen in every visit of one night; each night has its own.

The truth table has one row per (source, epoch) with the *difference* flux the epoch adds
at the source (science ADU; zero for a transient before ``t0``) and its matched-filter SNR
on that epoch's background noise (conventions of `astrid.simulation`); the sources table
one row per source with its parameters and peak SNR. Positions are 0-based science pixels
(the pointing is the same in every epoch) and degrees ICRS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from astrid.errors import ConfigurationError
from astrid.observations.image import Image
from astrid.simulation.config import SimulationConfig
from astrid.simulation.injection import inject_point_sources
from astrid.simulation.pair import SimulatedPair, simulate_pair

__all__ = [
    "DEFAULT_SCHEDULE",
    "SequenceConfig",
    "SimulatedSequence",
    "simulate_sequence",
]

#: Days after the first epoch: single visits, one night of three visits 30 min apart and
#: one of two (where moving objects show as tracks or vanish within the night).
DEFAULT_SCHEDULE: tuple[float, ...] = (
    0.0,
    3.0,
    6.0,
    6.0 + 0.5 / 24,
    6.0 + 1.0 / 24,
    9.0,
    9.0 + 0.5 / 24,
    14.0,
    20.0,
    28.0,
)

_FIRST_MJD = 60400.25
_NIGHT_DAYS = 0.5
_CLEAR_PX = 12.0  # sources keep this far from stars, galaxies and each other


@dataclass(frozen=True)
class SequenceConfig:
    """What changes across the epochs of `simulate_sequence`.

    Attributes
    ----------
    field : SimulationConfig
        The static sky and the detector (its transients and variables are ignored: the
        sequence places its own).
    schedule : tuple of float
        Days after the first epoch, one per science epoch.
    n_transients, n_variables : int
        Stationary sources that change.
    asteroids_per_night : int
        Moving sources per night (all visits within half a day form a night).
    peak_snr : tuple of float
        Log-uniform range of transients' peak and asteroids' SNR.
    seeing : tuple of float
        Uniform range of each epoch's seeing factor (`simulate_pair` ``seeing``).
    """

    field: SimulationConfig = field(
        default_factory=lambda: SimulationConfig(
            shape=(512, 512),
            n_stars=250,
            n_galaxies=15,
            n_transients=0,
            n_transients_on_galaxies=0,
            n_variables=0,
        )
    )
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    n_transients: int = 30
    n_variables: int = 10
    asteroids_per_night: int = 3
    peak_snr: tuple[float, float] = (4.0, 60.0)
    seeing: tuple[float, float] = (0.85, 1.25)

    def __post_init__(self) -> None:
        if len(self.schedule) < 2 or any(np.diff(self.schedule) <= 0):
            raise ConfigurationError(
                f"SequenceConfig.schedule must hold ≥ 2 increasing epochs, got {self.schedule}",
                schedule=self.schedule,
            )
        for name in ("n_transients", "n_variables", "asteroids_per_night"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"SequenceConfig.{name} must be ≥ 0", **{name: 0})
        for name in ("peak_snr", "seeing"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ConfigurationError(
                    f"SequenceConfig.{name} must be a range 0 < low ≤ high, got {(low, high)}",
                    **{name: (low, high)},
                )


@dataclass(frozen=True, eq=False)
class SimulatedSequence:
    """A reference, the science epochs and their truth.

    Attributes
    ----------
    reference : Image
    epochs : list of Image
        Science images in time order; ``meta.mjd`` and the ``MJD-OBS`` header hold the date.
    truth : astropy.table.Table
        One row per (source, epoch): ``source_id, kind, epoch, mjd, ra, dec, x, y, flux,
        snr`` (see the module docstring).
    sources : astropy.table.Table
        One row per source: ``source_id, kind, near_galaxy, ra, dec, x, y, peak_snr``
        (position at its first epoch for asteroids) and the kind's parameters (NaN where
        not its kind).
    """

    reference: Image
    epochs: list[Image]
    truth: Table
    sources: Table

    def write(self, directory: str | Path) -> dict[str, Path | list[Path]]:
        """Write ``reference.fits``, ``epoch_NN.fits``, ``truth.csv`` and ``sources.csv``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.reference.to_hdu().writeto(out / "reference.fits", overwrite=True)
        epochs = []
        for k, image in enumerate(self.epochs):
            epochs.append(out / f"epoch_{k:02d}.fits")
            image.to_hdu().writeto(epochs[-1], overwrite=True)
        self.truth.write(out / "truth.csv", format="ascii.csv", overwrite=True)
        self.sources.write(out / "sources.csv", format="ascii.csv", overwrite=True)
        return {
            "reference": out / "reference.fits",
            "epochs": epochs,
            "truth": out / "truth.csv",
            "sources": out / "sources.csv",
        }


def simulate_sequence(config: SequenceConfig | None = None, *, seed: int = 0) -> SimulatedSequence:
    """Simulate a reference and ``len(config.schedule)`` science epochs of one field.

    The same seed and config give identical output.

    Raises
    ------
    astrid.errors.ConfigurationError
        If the config is invalid or the sources do not fit on empty sky.
    """
    config = SequenceConfig() if config is None else config
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    mjds = _FIRST_MJD + np.asarray(config.schedule, dtype=float)
    seeing = rng.uniform(*config.seeing, size=len(mjds))
    pairs = [
        simulate_pair(config.field, seed=seed, epoch=k, seeing=float(s))
        for k, s in enumerate(seeing)
    ]
    static = pairs[0].truth
    sources = _draw_sources(rng, config, pairs[0], mjds)
    rows: list[dict[str, object]] = []
    epochs = []
    for k, (pair, mjd) in enumerate(zip(pairs, mjds, strict=True)):
        xy, flux = _epoch_fluxes(sources, float(mjd), pairs[0].config.pixel_scale)
        on_chip = _on_chip(xy, config.field.shape)
        added = flux != 0
        image = inject_point_sources(
            pair.science,
            xy[on_chip & added],
            flux[on_chip & added],
            pair.science_psf,
            seed=np.random.default_rng(np.random.SeedSequence([seed, 104729, k])),
        )
        epochs.append(_dated(image, float(mjd), k))
        ra, dec = _wcs(pair).pixel_to_world_values(xy[:, 0], xy[:, 1])
        sigma = pair.config.science_sigma
        for i in np.flatnonzero(on_chip):
            psf = pair.science_psf(float(xy[i, 0]), float(xy[i, 1]))
            rows.append(
                {
                    "source_id": int(sources["source_id"][i]),
                    "kind": str(sources["kind"][i]),
                    "epoch": k,
                    "mjd": float(mjd),
                    "ra": float(ra[i]),
                    "dec": float(dec[i]),
                    "x": float(xy[i, 0]),
                    "y": float(xy[i, 1]),
                    "flux": float(flux[i]),
                    "snr": float(flux[i] * math.sqrt(float(np.sum(psf**2))) / sigma),
                }
            )
    truth = Table(rows=rows, names=list(rows[0])) if rows else Table()
    sources["peak_snr"] = _peak_snr(sources, truth)
    sources.meta.update(seed=seed, static_objects=len(static))
    return SimulatedSequence(
        reference=pairs[0].reference, epochs=epochs, truth=truth, sources=sources
    )


def _dated(image: Image, mjd: float, epoch: int) -> Image:
    """``image`` with its date (meta and header) set to ``mjd``."""
    header = image.header.copy()
    header["MJD-OBS"] = (mjd, "[d] MJD of mid-exposure (UTC)")
    header["SIMEPOCH"] = (epoch, "AstrID simulated epoch")
    header["OBJECT"] = (f"astrid-sim-epoch-{epoch:02d}", "AstrID simulated image")
    meta = replace(image.meta, mjd=mjd, name=f"epoch{epoch}")
    return replace(image, meta=meta, header=header)


def _on_chip(xy: np.ndarray, shape: tuple[int, int], margin: float = 20.0) -> np.ndarray:
    ny, nx = shape
    x, y = xy[:, 0], xy[:, 1]
    return (x >= margin) & (x <= nx - 1 - margin) & (y >= margin) & (y <= ny - 1 - margin)


def _draw_sources(
    rng: np.random.Generator, config: SequenceConfig, pair: SimulatedPair, mjds: np.ndarray
) -> Table:
    """Every changing source with its parameters (NaN where not of its kind)."""
    ny, nx = config.field.shape
    truth = pair.truth
    saturated = _saturated_xy(pair)
    static_xy = np.concatenate([np.column_stack([truth["x"], truth["y"]]), saturated])
    snr_to_flux = _snr_to_flux(pair)
    kinds: list[str] = []
    near_galaxies: list[bool] = []
    cols: dict[str, list[float]] = {
        k: []
        for k in (
            "x",
            "y",
            "peak_flux",
            "t0",
            "rise_days",
            "decline_days",
            "amplitude",
            "period_days",
            "phase",
            "rate_arcsec_per_hour",
            "pa_deg",
            "night_mjd",
        )
    }

    def add(kind: str, near_galaxy: bool = False, **values: float) -> None:
        kinds.append(kind)
        near_galaxies.append(near_galaxy)
        for key, column in cols.items():
            column.append(float(values.get(key, np.nan)))

    taken: list[np.ndarray] = []
    galaxies = truth[truth["kind"] == "galaxy"]
    for i in range(config.n_transients):
        near_galaxy = i % 4 == 3 and len(galaxies) > 0
        xy = _empty_place(
            rng, static_xy, saturated, taken, (nx, ny), galaxies if near_galaxy else None
        )
        taken.append(xy)
        add(
            "transient",
            near_galaxy,
            x=xy[0],
            y=xy[1],
            peak_flux=_log_uniform(rng, config.peak_snr) * snr_to_flux,
            t0=mjds[0] + rng.uniform(-8.0, 0.6 * (mjds[-1] - mjds[0])),
            rise_days=rng.uniform(2.0, 6.0),
            decline_days=rng.uniform(8.0, 25.0),
        )
    for star in _variable_stars(rng, truth, config.n_variables, (nx, ny), saturated):
        add(
            "variable",
            x=star["x"],
            y=star["y"],
            peak_flux=float(star["flux"]),
            amplitude=rng.uniform(0.2, 0.6),
            period_days=rng.uniform(1.0, 15.0),
            phase=rng.uniform(0.0, 2 * math.pi),
        )
    for night in _nights(mjds):
        for _ in range(config.asteroids_per_night):
            xy = rng.uniform(40.0, [nx - 40.0, ny - 40.0])
            add(
                "asteroid",
                x=xy[0],
                y=xy[1],
                peak_flux=_log_uniform(rng, (max(config.peak_snr[0], 8.0), 40.0)) * snr_to_flux,
                rate_arcsec_per_hour=rng.uniform(20.0, 80.0),
                pa_deg=rng.uniform(0.0, 360.0),
                night_mjd=night,
            )
    table = Table(
        {"source_id": np.arange(len(kinds)), "kind": kinds, "near_galaxy": near_galaxies, **cols}
    )
    ra, dec = _wcs(pair).pixel_to_world_values(table["x"], table["y"])
    table["ra"], table["dec"] = ra, dec
    return table


def _wcs(pair: SimulatedPair) -> WCS:
    """The science image's WCS (the simulator always gives one)."""
    assert pair.science.wcs is not None
    return pair.science.wcs


def _saturated_xy(pair: SimulatedPair) -> np.ndarray:
    """Science pixels ``(n, 2)`` saturated in the science image or in the reference (bleed
    trails included): no pipeline sees a source there, so none is placed near them."""
    level = 0.999 * pair.config.saturation
    science = np.argwhere(pair.science.data >= level)[:, ::-1].astype(float)
    reference = np.argwhere(pair.reference.data >= level)[:, ::-1].astype(float)
    if len(reference):
        assert pair.reference.wcs is not None
        ra, dec = pair.reference.wcs.pixel_to_world_values(reference[:, 0], reference[:, 1])
        reference = np.column_stack(_wcs(pair).world_to_pixel_values(ra, dec))
    return np.concatenate([science.reshape(-1, 2), reference.reshape(-1, 2)])


def _snr_to_flux(pair: SimulatedPair) -> float:
    """Science flux of a point source of SNR 1 at the chip centre (epoch-0 seeing)."""
    ny, nx = pair.config.shape
    psf = pair.science_psf((nx - 1) / 2, (ny - 1) / 2)
    return pair.config.science_sigma / math.sqrt(float(np.sum(psf**2)))


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(10 ** rng.uniform(math.log10(bounds[0]), math.log10(bounds[1])))


def _empty_place(
    rng: np.random.Generator,
    static_xy: np.ndarray,
    saturated: np.ndarray,
    taken: list[np.ndarray],
    size: tuple[int, int],
    galaxies: Table | None,
) -> np.ndarray:
    """A position clear of static objects (``static_xy``: saturated pixels included) and
    earlier sources, or next to a galaxy and clear of ``saturated`` pixels."""
    nx, ny = size
    for _ in range(10_000):
        if galaxies is not None:
            g = galaxies[int(rng.integers(len(galaxies)))]
            angle = rng.uniform(0.0, 2 * math.pi)
            xy = np.array([g["x"], g["y"]]) + rng.uniform(2.0, 6.0) * np.array(
                [math.cos(angle), math.sin(angle)]
            )
            clear = bool(np.min(np.hypot(*(saturated - xy).T), initial=np.inf) > _CLEAR_PX)
        else:
            xy = rng.uniform(30.0, [nx - 30.0, ny - 30.0])
            clear = bool(np.min(np.hypot(*(static_xy - xy).T)) > _CLEAR_PX)
        inside = 30.0 <= xy[0] <= nx - 30.0 and 30.0 <= xy[1] <= ny - 30.0
        if inside and clear and all(np.hypot(*(xy - t)) > _CLEAR_PX for t in taken):
            return xy
    raise ConfigurationError(
        "simulate_sequence: no empty place left for another transient; "
        "use fewer transients or a larger field",
    )


def _variable_stars(
    rng: np.random.Generator,
    truth: Table,
    n: int,
    size: tuple[int, int],
    saturated: np.ndarray,
) -> Table:
    """``n`` stars with SNR 10–200, ≥ 12 px from any other object, saturated pixel and edge."""
    nx, ny = size
    xy = np.column_stack([truth["x"], truth["y"]])
    blocked = np.concatenate([xy, saturated])
    stars = np.flatnonzero(np.asarray(truth["kind"] == "star"))
    ok = []
    for i in stars:
        d = np.hypot(*(blocked - xy[i]).T)
        d[i] = np.inf
        inside = 30 <= xy[i, 0] <= nx - 30 and 30 <= xy[i, 1] <= ny - 30
        if inside and d.min() > _CLEAR_PX and 10 <= truth["snr"][i] <= 200:
            ok.append(i)
    if len(ok) < n:
        raise ConfigurationError(
            f"simulate_sequence: only {len(ok)} isolated stars can be variables, {n} asked"
        )
    return truth[np.sort(rng.choice(ok, size=n, replace=False))]


def _nights(mjds: np.ndarray) -> list[float]:
    """The first MJD of each night (visits within half a day of its first)."""
    nights: list[float] = []
    for mjd in mjds:
        if not nights or mjd - nights[-1] > _NIGHT_DAYS:
            nights.append(float(mjd))
    return nights


def _epoch_fluxes(sources: Table, mjd: float, pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(n, 2)`` and difference fluxes of every source at ``mjd``."""
    xy = np.column_stack([sources["x"], sources["y"]]).astype(float)
    flux = np.zeros(len(sources))
    kind = np.asarray(sources["kind"])
    peak = np.asarray(sources["peak_flux"], dtype=float)
    tr = kind == "transient"
    dt = mjd - np.asarray(sources["t0"], dtype=float)[tr]
    rise = np.asarray(sources["rise_days"], dtype=float)[tr]
    decline = np.asarray(sources["decline_days"], dtype=float)[tr]
    with np.errstate(invalid="ignore", over="ignore"):
        shape = np.where(
            dt < 0,
            0.0,
            np.where(dt < rise, (dt / rise) ** 2, np.exp(-(dt - rise) / decline)),
        )
    flux[tr] = peak[tr] * shape
    va = kind == "variable"
    flux[va] = (
        peak[va]
        * np.asarray(sources["amplitude"], dtype=float)[va]
        * np.sin(
            2 * math.pi * mjd / np.asarray(sources["period_days"], dtype=float)[va]
            + np.asarray(sources["phase"], dtype=float)[va]
        )
    )
    ast = kind == "asteroid"
    night = np.asarray(sources["night_mjd"], dtype=float)
    tonight = ast & (mjd >= night) & (mjd - night <= _NIGHT_DAYS)
    hours = (mjd - night[tonight]) * 24.0
    pa = np.radians(np.asarray(sources["pa_deg"], dtype=float)[tonight])
    step = np.asarray(sources["rate_arcsec_per_hour"], dtype=float)[tonight] * hours / pixel_scale
    # north up, east left (the simulator's TAN WCS): east is -x, north is +y
    xy[tonight, 0] -= step * np.sin(pa)
    xy[tonight, 1] += step * np.cos(pa)
    flux[tonight] = peak[tonight]
    xy[ast & ~tonight] = np.nan
    return xy, flux


def _peak_snr(sources: Table, truth: Table) -> np.ndarray:
    """Each source's largest abs(SNR) over the epochs (0 where never on the chip)."""
    peak = np.zeros(len(sources))
    if len(truth):
        np.maximum.at(peak, np.asarray(truth["source_id"], int), np.abs(np.asarray(truth["snr"])))
    return peak
