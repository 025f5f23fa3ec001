"""Cross-match positions against several loaded catalogues at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from astrid.context.catalogues import KINDS, Catalogue

KIND_PRIORITY: dict[str, int] = {kind: i for i, kind in enumerate(KINDS)}
"""Order in which matches are reported: variable stars, AGN, galaxies, transients, others."""


@dataclass(frozen=True)
class Match:
    """One catalogue source near a position.

    Parameters
    ----------
    catalogue, kind, name, type : str
        Catalogue name, its kind, the source name and type.
    sep_arcsec : float
        Great-circle separation from the query position.
    ra, dec : float
        Source position in degrees.
    distance_mpc : float or None
        Luminosity distance for galaxy catalogues.
    columns : dict
        Report columns of the source row.
    """

    catalogue: str
    kind: str
    name: str
    type: str
    sep_arcsec: float
    ra: float
    dec: float
    distance_mpc: float | None = None
    columns: dict[str, object] = field(default_factory=dict)


def sort_matches(matches: list[Match]) -> None:
    """Order one position's matches in place: by kind priority, then separation."""
    matches.sort(key=lambda m: (KIND_PRIORITY.get(m.kind, len(KINDS)), m.sep_arcsec))


def crossmatch(
    catalogues: Sequence[Catalogue],
    ra: NDArray[np.float64] | float,
    dec: NDArray[np.float64] | float,
) -> list[list[Match]]:
    """Matches of each position in every catalogue, by kind priority then separation.

    Parameters
    ----------
    catalogues : sequence of Catalogue
        Loaded catalogues (see ``load_catalogues``).
    ra, dec : array_like of float
        Query positions in degrees.

    Returns
    -------
    list of list of Match
        One list per query position.
    """
    n = np.atleast_1d(np.asarray(ra)).shape[0]
    result: list[list[Match]] = [[] for _ in range(n)]
    for cat in catalogues:
        for i, (rows, seps) in enumerate(cat.match(ra, dec)):
            for row, sep in zip(rows.tolist(), seps.tolist(), strict=True):
                dist = None
                if cat.distance_mpc is not None and np.isfinite(cat.distance_mpc[row]):
                    dist = float(cat.distance_mpc[row])
                result[i].append(
                    Match(
                        catalogue=cat.spec.name,
                        kind=cat.spec.kind,
                        name=str(cat.names[row]),
                        type=str(cat.types[row]),
                        sep_arcsec=float(sep),
                        ra=float(cat.ra[row]),
                        dec=float(cat.dec[row]),
                        distance_mpc=dist,
                        columns={
                            k: v[row].item() if hasattr(v[row], "item") else v[row]
                            for k, v in cat.columns.items()
                        },
                    )
                )
    for matches in result:
        sort_matches(matches)
    return result
