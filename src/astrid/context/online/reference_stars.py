"""Reference stars of a whole frame from an online survey catalogue, for photometric
calibration: Pan-STARRS1 DR1 (VizieR ``II/349/ps1``) through TAP, cached per field.

One synchronous ADQL query per field (a circle around the frame's centre that holds the
frame) asks for positions and the PSF magnitudes (AB) of the five PS1 bands with their
errors, stars brighter than ``faint_limit`` in the band being calibrated. The answer is
kept as an ECSV file in the cache folder, named by survey, band, centre and radius, so a
field is asked for once; later frames of the same pointing read the file. Off by default:
nothing here runs unless a run names the service.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from astropy.table import Table

from astrid.context.online.tap import DEFAULT_TAP_URLS, run_adql
from astrid.errors import ConfigurationError, OnlineServiceError

__all__ = ["PS1", "ReferenceStarService", "reference_stars"]

log = logging.getLogger(__name__)

PS1_BANDS = ("g", "r", "i", "z", "y")


@dataclass(frozen=True)
class ReferenceStarService:
    """A survey catalogue of reference stars on a TAP service.

    ``table``, ``ra_col``, ``dec_col``: where the stars are; ``bands``: the magnitude
    columns ``<band>mag`` and ``e_<band>mag`` it has; ``max_rows``: the most stars asked for
    one field; ``faint_limit``: the faintest magnitude asked for in the calibrated band.
    """

    name: str
    url: str
    table: str
    ra_col: str
    dec_col: str
    bands: tuple[str, ...]
    citation: str
    timeout_s: float = 60.0
    max_rows: int = 20000
    faint_limit: float = 21.0

    def adql(self, ra: float, dec: float, radius_deg: float, band: str) -> str:
        """The field query: stars within ``radius_deg`` of (ra, dec), brighter than the
        faint limit in ``band``."""
        columns = [self.ra_col, self.dec_col]
        for b in self.bands:
            columns += [f"{b}mag", f"e_{b}mag"]
        return (
            f'SELECT TOP {self.max_rows} {", ".join(columns)} FROM "{self.table}" '
            f"WHERE 1 = CONTAINS(POINT('ICRS', {self.ra_col}, {self.dec_col}), "
            f"CIRCLE('ICRS', {ra:.6f}, {dec:.6f}, {radius_deg:.6f})) "
            f"AND {band}mag < {self.faint_limit:g}"
        )


PS1 = ReferenceStarService(
    name="ps1",
    url=DEFAULT_TAP_URLS["vizier"],
    table="II/349/ps1",
    ra_col="RAJ2000",
    dec_col="DEJ2000",
    bands=PS1_BANDS,
    citation="Chambers et al. 2016, arXiv:1612.05560 (Pan-STARRS1 DR1); Flewelling et al. "
    "2020, ApJS 251, 7; VizieR (Ochsenbein et al. 2000)",
)


def _cache_path(
    cache_dir: Path, service: ReferenceStarService, ra: float, dec: float, radius: float, band: str
) -> Path:
    return cache_dir / f"{service.name}_{band}_{ra:09.5f}_{dec:+09.5f}_{radius:.4f}.ecsv"


def reference_stars(
    service: ReferenceStarService,
    ra: float,
    dec: float,
    radius_deg: float,
    band: str,
    *,
    cache_dir: Path | None = None,
) -> Table:
    """The service's stars within ``radius_deg`` of (ra, dec) (degrees), from the cache
    when this field was asked for before.

    Raises
    ------
    ConfigurationError
        When the service has no ``band``.
    OnlineServiceError
        When the service cannot be reached or answers with an error (nothing is cached).
    """
    if band not in service.bands:
        raise ConfigurationError(
            f"{service.name}: no {band}-band magnitudes (has {', '.join(service.bands)})"
        )
    if not (math.isfinite(ra) and math.isfinite(dec) and 0 < radius_deg <= 5):
        raise ConfigurationError(
            f"{service.name}: a field at ({ra}, {dec}) of radius {radius_deg} deg cannot be "
            "asked for (radius must be in (0, 5] degrees)"
        )
    path = None
    if cache_dir is not None:
        path = _cache_path(cache_dir, service, ra, dec, radius_deg, band)
        if path.is_file():
            try:
                return Table.read(path, format="ascii.ecsv")
            except (OSError, ValueError) as e:  # a damaged cache file is asked for again
                log.warning("%s: unreadable, asking %s again: %s", path, service.name, e)
    adql = service.adql(ra, dec, radius_deg, band)
    stars = run_adql(service.name, service.url, adql, service.timeout_s, what=service.table)
    names = {c.lower() for c in stars.colnames}
    if service.ra_col.lower() not in names or f"{band}mag" not in names:
        raise OnlineServiceError(
            f"{service.name}: the answer from {service.url} lacks {service.ra_col} or "
            f"{band}mag (has {stars.colnames[:12]})",
            service=service.name,
        )
    log.info("%s: %d stars within %.3f deg of (%.5f, %+.5f)", service.name, len(stars),
             radius_deg, ra, dec)  # fmt: skip
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        stars.write(partial, format="ascii.ecsv", overwrite=True)
        os.replace(partial, path)
    return stars
