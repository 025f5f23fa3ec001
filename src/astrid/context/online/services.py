"""Online context: the enabled services' cone searches as catalogue matches, cached.

`OnlineContext.match` asks each enabled service (SIMBAD, NED, the VizieR tables, TNS)
about each position, through the cache, and returns the same `Match` objects the offline
`crossmatch` returns, so `classify` treats both alike. A service that fails (timeout, HTTP
error, malformed answer) gives one problem message naming it and is not asked again for
the rest of the call; the other services and the run go on. Positions are degrees ICRS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from astrid.context.catalogues import angular_separation_arcsec
from astrid.context.crossmatch import Match, sort_matches
from astrid.context.online.cache import QueryCache
from astrid.context.online.tap import (
    DEFAULT_TAP_URLS,
    VIZIER_TABLES,
    TapTable,
    ned_table,
    require_pyvo,
    run_tap,
    simbad_table,
    vizier_table,
)
from astrid.context.online.tns import DEFAULT_TNS_URL, TnsService
from astrid.errors import ConfigurationError, OnlineServiceError

__all__ = ["ONLINE_SERVICES", "OnlineConfig", "OnlineContext"]

log = logging.getLogger(__name__)

ONLINE_SERVICES = ("simbad", "ned", "vizier", "tns")
"""The services `OnlineConfig.services` may name."""


@dataclass(frozen=True)
class OnlineConfig:
    """Which online services to ask and how.

    Parameters
    ----------
    services : tuple of str
        Some of `ONLINE_SERVICES`; empty = online context off.
    cache_path : Path or None
        SQLite file of the cache; None = no cache.
    ttl_s : float
        Seconds a cached answer stays valid.
    timeout_s : float
        Seconds allowed for each request.
    radius_arcsec : float
        Cone radius of every search, (0, 60].
    simbad_url, ned_url, vizier_url : str
        TAP base URLs.
    tns_url : str
        Base of the TNS bot API.
    vizier_tables : tuple of str
        VizieR tables to search (see `vizier_table`); Gaia DR3 and PS1 by default.
    tns_api_key, tns_bot_id, tns_bot_name
        The TNS bot's credentials (needed when ``"tns"`` is enabled).
    """

    services: tuple[str, ...] = ()
    cache_path: Path | None = None
    ttl_s: float = 7 * 86400.0
    timeout_s: float = 10.0
    radius_arcsec: float = 2.0
    simbad_url: str = DEFAULT_TAP_URLS["simbad"]
    ned_url: str = DEFAULT_TAP_URLS["ned"]
    vizier_url: str = DEFAULT_TAP_URLS["vizier"]
    tns_url: str = DEFAULT_TNS_URL
    vizier_tables: tuple[str, ...] = tuple(VIZIER_TABLES)
    tns_api_key: str | None = field(default=None, repr=False)
    tns_bot_id: int | None = None
    tns_bot_name: str | None = None

    def __post_init__(self) -> None:
        unknown = [s for s in self.services if s not in ONLINE_SERVICES]
        if unknown:
            raise ConfigurationError(
                f"context_online: unknown services {unknown}; choose from {ONLINE_SERVICES}"
            )
        if len(set(self.services)) != len(self.services):
            raise ConfigurationError(f"context_online: a service is named twice: {self.services}")
        for name, value, top in (
            ("timeout_s (context_online_timeout_s)", self.timeout_s, None),
            ("ttl_s (context_online_ttl_hours)", self.ttl_s, None),
            ("radius_arcsec (context_online_radius_arcsec)", self.radius_arcsec, 60.0),
        ):
            if not (np.isfinite(value) and value > 0 and (top is None or value <= top)):
                limit = "" if top is None else f" and at most {top:g}"
                raise ConfigurationError(f"{name} must be > 0{limit}, got {value!r}")
        for name in ("simbad_url", "ned_url", "vizier_url", "tns_url"):
            url = getattr(self, name)
            if not url.startswith(("http://", "https://")):
                raise ConfigurationError(f"context_{name}: expected an http(s) URL, got {url!r}")
        if "vizier" in self.services and not self.vizier_tables:
            raise ConfigurationError("context_online includes 'vizier' but no vizier table")


class Search(NamedTuple):
    """One cone search: the catalogue it reports, its cache key, and the search itself."""

    catalogue: str
    key: str
    run: Callable[[float, float, float], list[dict[str, Any]]]


def _tap_search(table: TapTable, timeout_s: float) -> Search:
    def search(ra: float, dec: float, radius_arcsec: float) -> list[dict[str, Any]]:
        return table.rows(run_tap(table, ra, dec, radius_arcsec, timeout_s))

    return Search(table.catalogue, table.key, search)


class OnlineContext:
    """The enabled online services, asked through the cache.

    Parameters
    ----------
    config : OnlineConfig
        Services, endpoints, timeout, radius and cache.
    clock : callable, optional
        Time in seconds for the cache's TTL (``time.time``).

    Raises
    ------
    ConfigurationError
        When a TAP service is enabled without pyvo (the ``online`` extra), TNS is
        enabled without its bot credentials, or a VizieR table setting is malformed.
    """

    def __init__(self, config: OnlineConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        searches: list[Search] = []
        for service in config.services:
            if service in ("simbad", "ned", "vizier"):
                require_pyvo(service)
            if service == "simbad":
                searches.append(_tap_search(simbad_table(config.simbad_url), config.timeout_s))
            elif service == "ned":
                searches.append(_tap_search(ned_table(config.ned_url), config.timeout_s))
            elif service == "vizier":
                for spec in config.vizier_tables:
                    table = vizier_table(spec, config.vizier_url)
                    searches.append(_tap_search(table, config.timeout_s))
            else:
                tns = TnsService(
                    config.tns_api_key,
                    config.tns_bot_id,
                    config.tns_bot_name,
                    url=config.tns_url,
                    timeout_s=config.timeout_s,
                )
                searches.append(Search(tns.catalogue, tns.key, tns.cone))
        self.searches = searches
        self.cache = (
            None
            if config.cache_path is None
            else QueryCache(config.cache_path, config.ttl_s, clock=clock)
        )

    def match(
        self, ra: NDArray[np.float64] | float, dec: NDArray[np.float64] | float
    ) -> tuple[list[list[Match]], list[str]]:
        """Matches of each position from every enabled service, and the problems met.

        Parameters
        ----------
        ra, dec : array_like of float
            Query positions in degrees.

        Returns
        -------
        (list of list of Match, list of str)
            Per position its matches (by kind priority, then separation); one message per
            service that failed, naming it (the positions after a failure are not asked).
        """
        qra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
        qdec = np.atleast_1d(np.asarray(dec, dtype=np.float64))
        if qra.shape != qdec.shape or qra.ndim != 1:
            raise ConfigurationError("online match: ra and dec must be 1-D, same length")
        result: list[list[Match]] = [[] for _ in qra]
        problems: list[str] = []
        radius = self.config.radius_arcsec
        for catalogue, key, search in self.searches:
            for i, (r, d) in enumerate(zip(qra.tolist(), qdec.tolist(), strict=True)):
                rows = None if self.cache is None else self.cache.get(key, r, d, radius)
                if rows is None:
                    try:
                        rows = search(r, d, radius)
                    except OnlineServiceError as e:
                        left = len(qra) - i - 1
                        note = f"; not asked for the {left} positions after it" if left else ""
                        problems.append(f"{e} ({catalogue}){note}")
                        log.warning("context online: %s (%s)%s", e, catalogue, note)
                        break
                    if self.cache is not None:
                        self.cache.put(key, r, d, radius, rows)
                result[i].extend(_matches(catalogue, rows, r, d, radius))
        for matches in result:
            sort_matches(matches)
        return result, problems


def _matches(
    catalogue: str, rows: list[dict[str, Any]], ra: float, dec: float, radius_arcsec: float
) -> list[Match]:
    """Rows of one search as matches within the radius of the position asked."""
    if not rows:
        return []
    seps = angular_separation_arcsec(
        ra,
        dec,
        np.array([row["ra"] for row in rows], dtype=np.float64),
        np.array([row["dec"] for row in rows], dtype=np.float64),
    )
    return [
        Match(
            catalogue=catalogue,
            kind=row["kind"],
            name=str(row["name"]),
            type=str(row["type"]),
            sep_arcsec=float(sep),
            ra=float(row["ra"]),
            dec=float(row["dec"]),
            columns=dict(row["columns"]),
        )
        for row, sep in zip(rows, seps.tolist(), strict=True)
        if sep <= radius_arcsec
    ]
