"""The truth table: one row per simulated object, in the reference scorer's format.

Columns ``kind, ra, dec, x, y, flux, snr`` (`TRUTH_COLUMNS`) come first, then ``ref_x,
ref_y`` (reference pixels), ``flux_science``, ``flux_reference``, ``mag``, for transients
``snr_total`` (the S/N against all the noise at their place, both images:
`astrid.simulation.placement.total_noise_snr`) and, for elongated artifacts, ``length,
angle``; a column a kind does not give is NaN for it. Rows are sorted by
kind in the order of `TRUTH_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table

from astrid.simulation.config import SCIENCE_ZERO_POINT

if TYPE_CHECKING:
    from astrid.simulation.galaxies import Galaxies
    from astrid.simulation.geometry import PairGeometry
    from astrid.simulation.placement import Transients
    from astrid.simulation.sky import Stars

__all__ = ["ARTIFACT_KINDS", "TRUTH_COLUMNS", "TRUTH_KINDS"]

TRUTH_COLUMNS: tuple[str, ...] = ("kind", "ra", "dec", "x", "y", "flux", "snr")
"""The columns the reference scorer reads, in order; extra columns follow them."""

ARTIFACT_KINDS: tuple[str, ...] = ("cosmic_ray", "hot_pixel", "bad_column", "satellite_trail")
"""Truth kinds of detector artifacts (science image only)."""

TRUTH_KINDS: tuple[str, ...] = (
    "star",
    "saturated_star",
    "variable",
    "galaxy",
    "transient",
    "transient_on_galaxy",
    *ARTIFACT_KINDS,
)
"""Every truth kind, in the order of the rows of `simulate_pair`'s truth."""

#: Truth columns of elongated artifacts (NaN for other kinds): ``length`` in pixels along
#: ``angle`` (radians from the +x axis); a satellite trail crosses the whole image.
EXTENT_COLUMNS = ("length", "angle")


@dataclass
class TruthRows:
    """Truth rows accumulated kind by kind; a column a kind does not give is NaN for it."""

    parts: list[tuple[str, int, dict[str, np.ndarray]]] = field(default_factory=list)

    def add(self, kind: str, **values: np.ndarray) -> None:
        """Append the rows of ``kind``; every value is an array as long as ``values["x"]``."""
        n = len(values["x"])
        self.parts.append((kind, n, {k: np.asarray(v, dtype=float) for k, v in values.items()}))

    def table(self) -> Table:
        """All rows so far, in the order they were added."""
        names = [*TRUTH_COLUMNS, "ref_x", "ref_y", "flux_science", "flux_reference", "mag"]
        names += ["snr_total", *EXTENT_COLUMNS]
        cols: list[np.ndarray] = []
        for name in names:
            if name == "kind":
                kinds = [np.full(n, kind, dtype="<U20") for kind, n, _ in self.parts]
                cols.append(np.concatenate(kinds) if kinds else np.array([], dtype="<U20"))
                continue
            values = [v.get(name, np.full(n, np.nan)) for _, n, v in self.parts]
            cols.append(np.concatenate(values) if values else np.array([], dtype=float))
        return Table(cols, names=names)

    def add_stars(
        self,
        stars: Stars,
        flux_science: np.ndarray,
        is_variable: np.ndarray,
        *,
        geometry: PairGeometry,
        reference_flux_scale: float,
        sigma: float,
    ) -> None:
        """Rows of the stars on the science image: ``star``, ``saturated_star``, ``variable``.

        A variable's ``flux`` (and ``snr``) is its science-minus-reference flux.
        """
        n_in = stars.n_inside
        sflux, sflux_sci = stars.flux, flux_science
        star_snr = np.sqrt(stars.sum_sq)[:n_in] / sigma
        for kind, sel in (
            ("star", ~stars.saturated[:n_in] & ~is_variable[:n_in]),
            ("saturated_star", stars.saturated[:n_in]),
            ("variable", is_variable[:n_in]),
        ):
            idx = np.nonzero(sel)[0]
            ra, dec = geometry.to_sky(stars.x[idx], stars.y[idx])
            flux = sflux_sci[idx] - sflux[idx] if kind == "variable" else sflux_sci[idx]
            self.add(
                kind,
                ra=ra,
                dec=dec,
                x=stars.x[idx],
                y=stars.y[idx],
                flux=flux,
                snr=flux * star_snr[idx],
                ref_x=stars.ref_x[idx],
                ref_y=stars.ref_y[idx],
                flux_science=sflux_sci[idx],
                flux_reference=reference_flux_scale * sflux[idx],
                mag=magnitude(sflux_sci[idx]),
            )

    def add_galaxies(
        self,
        galaxies: Galaxies,
        *,
        geometry: PairGeometry,
        reference_flux_scale: float,
        sigma: float,
    ) -> None:
        """Rows of the galaxies on the science image."""
        g_in = galaxies.n_inside
        g_flux = galaxies.flux[:g_in]
        ra, dec = geometry.to_sky(galaxies.x[:g_in], galaxies.y[:g_in])
        self.add(
            "galaxy",
            ra=ra,
            dec=dec,
            x=galaxies.x[:g_in],
            y=galaxies.y[:g_in],
            flux=g_flux,
            snr=g_flux * np.sqrt(galaxies.sum_sq[:g_in]) / sigma,
            ref_x=galaxies.ref_x[:g_in],
            ref_y=galaxies.ref_y[:g_in],
            flux_science=g_flux,
            flux_reference=reference_flux_scale * g_flux,
            mag=magnitude(g_flux),
        )

    def add_transients(
        self,
        transients: Transients,
        *,
        geometry: PairGeometry,
        snr_total: np.ndarray | None = None,
    ) -> None:
        """Rows of the transients: ``transient`` (empty sky), ``transient_on_galaxy``."""
        tx, ty, host = transients.x, transients.y, transients.host
        total = np.full(len(tx), np.nan) if snr_total is None else snr_total
        trx, try_ = geometry.to_reference(tx, ty)
        for kind, sel in (("transient", host < 0), ("transient_on_galaxy", host >= 0)):
            ra, dec = geometry.to_sky(tx[sel], ty[sel])
            self.add(
                kind,
                ra=ra,
                dec=dec,
                x=tx[sel],
                y=ty[sel],
                flux=transients.flux[sel],
                snr=transients.snr[sel],
                ref_x=trx[sel],
                ref_y=try_[sel],
                flux_science=transients.flux[sel],
                flux_reference=np.zeros(int(sel.sum())),
                mag=magnitude(transients.flux[sel]),
                snr_total=total[sel],
            )

    def sorted_table(self) -> Table:
        """The table with its rows in the order of `TRUTH_KINDS` (stable within a kind)."""
        truth = self.table()
        order = {k: i for i, k in enumerate(TRUTH_KINDS)}
        return truth[np.argsort([order[str(k)] for k in truth["kind"]], kind="stable")]


def magnitude(flux: np.ndarray) -> np.ndarray:
    """Science magnitudes (`SCIENCE_ZERO_POINT`) of ``flux``; NaN where not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, SCIENCE_ZERO_POINT - 2.5 * np.log10(flux), np.nan)
