"""Offline catalogue specifications and in-memory catalogues with fast cone matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from astrid.errors import ConfigurationError

Kind = Literal["variable_star", "agn", "galaxy", "transient", "other"]
KINDS: tuple[str, ...] = ("variable_star", "agn", "galaxy", "transient", "other")
"""What a catalogue source is. Variable stars and AGN vote in the context class, galaxies
give hosts and distances; known transients (TNS) and other sources (a PS1 detection, an
X-ray source) are reported with the object but decide nothing."""


@dataclass(frozen=True)
class CatalogueSpec:
    """How to read one catalogue and how to match against it.

    Parameters
    ----------
    name : str
        Short catalogue name (``"vsx"``).
    pattern : str
        Glob of the file inside the fink-science wheel (or a user file name).
    ra_col, dec_col : str
        Columns holding right ascension and declination (degrees or sexagesimal).
    name_col : str or None
        Column holding the source name; None names rows ``<catalogue>#<row>``.
    type_col : str or None
        Column holding the source type/class, if any.
    kind : {"variable_star", "agn", "galaxy", "transient", "other"}
        What the catalogue lists (`KINDS`); sets the match priority.
    radius_arcsec : float
        Match radius in arcseconds, > 0.
    columns : tuple of str
        Extra columns reported with each match.
    distance_col : str or None
        Luminosity-distance column in Mpc (galaxy catalogues).
    citation : str
        Reference to cite when a match is used.
    """

    name: str
    pattern: str
    ra_col: str
    dec_col: str
    name_col: str | None
    type_col: str | None
    kind: Kind
    radius_arcsec: float
    columns: tuple[str, ...] = ()
    distance_col: str | None = None
    citation: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("catalogue spec: name must not be empty")
        if self.kind not in KINDS:
            raise ConfigurationError(
                f"catalogue {self.name!r}: kind {self.kind!r} is not one of {KINDS}"
            )
        if not np.isfinite(self.radius_arcsec) or self.radius_arcsec <= 0:
            raise ConfigurationError(
                f"catalogue {self.name!r}: radius_arcsec must be a positive finite number, "
                f"got {self.radius_arcsec!r}"
            )


BUILTIN_CATALOGUES: dict[str, CatalogueSpec] = {
    "vsx": CatalogueSpec(
        "vsx",
        "vsx.parquet",
        "RAJ2000",
        "DEJ2000",
        None,
        "VType",
        "variable_star",
        1.5,
        (),
        None,
        "AAVSO International Variable Star Index VSX (Watson et al. 2006)",
    ),
    "gcvs": CatalogueSpec(
        "gcvs",
        "gcvs.parquet",
        "ra",
        "dec",
        None,
        "VarType",
        "variable_star",
        2.0,
        (),
        None,
        "Samus et al. 2017, General Catalogue of Variable Stars",
    ),
    "3hsp": CatalogueSpec(
        "3hsp",
        "3hsp.csv",
        "R.A.",
        "Dec",
        "3HSP Source name",
        None,
        "agn",
        3.0,
        ("BZcat name",),
        None,
        "Chang et al. 2019, 3HSP catalogue of HSP blazars",
    ),
    "4lac": CatalogueSpec(
        "4lac",
        "table-4LAC-DR3-h.fits",
        "RA_Counterpart",
        "DEC_Counterpart",
        "Source_Name",
        "CLASS",
        "agn",
        3.0,
        ("Redshift",),
        None,
        "Ajello et al. 2020, Fermi-LAT 4LAC",
    ),
    "mangrove": CatalogueSpec(
        "mangrove",
        "mangrove_filtered.parquet",
        "ra",
        "dec",
        "HyperLEDA_name",
        None,
        "galaxy",
        30.0,
        ("2MASS_name",),
        "lum_dist",
        "Ducoin et al. 2020, Mangrove",
    ),
}
"""Catalogues shipped in the fink-science wheel (columns to be checked against the wheel)."""


def _unit_vectors(ra_deg: NDArray[np.float64], dec_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    ra = np.radians(ra_deg)
    dec = np.radians(dec_deg)
    cd = np.cos(dec)
    return np.column_stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)])


@dataclass
class Catalogue:
    """One loaded catalogue: positions, names, types, report columns, distances.

    Parameters
    ----------
    spec : CatalogueSpec
        How it was read and its match radius.
    ra, dec : ndarray of float64
        Positions in degrees, same length.
    names, types : ndarray of str
        Source names and types (empty string where unknown).
    columns : dict of str to ndarray
        Extra report columns, each as long as ``ra``.
    distance_mpc : ndarray of float64 or None
        Luminosity distances in Mpc (NaN where unknown).
    source : str
        Where the table came from.
    """

    spec: CatalogueSpec
    ra: NDArray[np.float64]
    dec: NDArray[np.float64]
    names: NDArray[np.str_]
    types: NDArray[np.str_]
    columns: dict[str, NDArray[np.generic]] = field(default_factory=dict)
    distance_mpc: NDArray[np.float64] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self.ra = np.asarray(self.ra, dtype=np.float64)
        self.dec = np.asarray(self.dec, dtype=np.float64)
        n = self.ra.shape[0]
        if self.ra.ndim != 1 or self.dec.shape != self.ra.shape:
            raise ConfigurationError(
                f"catalogue {self.spec.name!r}: ra and dec must be 1-D, same length"
            )
        if not (np.all(np.isfinite(self.ra)) and np.all(np.isfinite(self.dec))):
            raise ConfigurationError(
                f"catalogue {self.spec.name!r}: ra/dec contain non-finite values"
            )
        if np.any(np.abs(self.dec) > 90):
            raise ConfigurationError(f"catalogue {self.spec.name!r}: |dec| > 90 degrees")
        for label, arr in (("names", self.names), ("types", self.types), *self.columns.items()):
            if len(arr) != n:
                raise ConfigurationError(
                    f"catalogue {self.spec.name!r}: column {label!r} has {len(arr)} rows, "
                    f"expected {n}"
                )
        self._tree = cKDTree(_unit_vectors(self.ra, self.dec)) if n else None

    def __len__(self) -> int:
        return int(self.ra.shape[0])

    def match(
        self, ra: NDArray[np.float64] | float, dec: NDArray[np.float64] | float
    ) -> list[tuple[NDArray[np.intp], NDArray[np.float64]]]:
        """Rows within the catalogue radius of each position, nearest first.

        Parameters
        ----------
        ra, dec : array_like of float
            Query positions in degrees.

        Returns
        -------
        list of (ndarray of int, ndarray of float)
            Per position, row indices and exact great-circle separations in arcsec.
        """
        qra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
        qdec = np.atleast_1d(np.asarray(dec, dtype=np.float64))
        if qra.shape != qdec.shape or qra.ndim != 1:
            raise ConfigurationError("match: ra and dec must be 1-D arrays of the same length")
        if not (np.all(np.isfinite(qra)) and np.all(np.isfinite(qdec))):
            raise ConfigurationError("match: ra/dec contain non-finite values")
        empty = (np.empty(0, np.intp), np.empty(0, np.float64))
        if self._tree is None:
            return [empty for _ in qra]
        chord = 2.0 * np.sin(np.radians(self.spec.radius_arcsec / 3600.0) / 2.0)
        vecs = _unit_vectors(qra, qdec)
        hits = self._tree.query_ball_point(vecs, r=chord)
        out: list[tuple[NDArray[np.intp], NDArray[np.float64]]] = []
        for i, rows in enumerate(hits):
            if not rows:
                out.append(empty)
                continue
            idx = np.asarray(rows, dtype=np.intp)
            sep = angular_separation_arcsec(qra[i], qdec[i], self.ra[idx], self.dec[idx])
            order = np.argsort(sep, kind="stable")
            out.append((idx[order], sep[order]))
        return out


def angular_separation_arcsec(
    ra1: float | NDArray[np.float64],
    dec1: float | NDArray[np.float64],
    ra2: NDArray[np.float64],
    dec2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Great-circle separation (Vincenty formula) in arcseconds between degree positions."""
    l1, b1, l2, b2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (ra1, dec1, ra2, dec2))
    dl = l2 - l1
    num = np.hypot(
        np.cos(b2) * np.sin(dl), np.cos(b1) * np.sin(b2) - np.sin(b1) * np.cos(b2) * np.cos(dl)
    )
    den = np.sin(b1) * np.sin(b2) + np.cos(b1) * np.cos(b2) * np.cos(dl)
    return np.asarray(np.degrees(np.arctan2(num, den)) * 3600.0, dtype=np.float64)
