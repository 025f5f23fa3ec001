"""Cone searches of SIMBAD, NED and VizieR through their TAP services (pyvo).

Each table is a `TapTable`: where it is, which columns hold the position, name and type,
which extra columns to report, and how a row becomes a kind (`object_types`). The query
is one synchronous ADQL ``SELECT ... WHERE 1 = CONTAINS(POINT, CIRCLE)`` (TAP 1.1, ADQL
2.0); the answer is a VOTable. pyvo is the optional extra ``online``, imported only when a
TAP service is used. Positions are degrees ICRS; radii arcseconds.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Literal

import numpy as np
from astropy.table import Table

from astrid.context.catalogues import Kind
from astrid.context.online.object_types import (
    GAIA_STAR_SIGMA,
    gaia_star_significance,
    kind_of,
)
from astrid.errors import ConfigurationError, OnlineServiceError

__all__ = [
    "DEFAULT_TAP_URLS",
    "VIZIER_TABLES",
    "TapTable",
    "ned_table",
    "require_pyvo",
    "run_adql",
    "run_tap",
    "simbad_table",
    "vizier_table",
]

log = logging.getLogger(__name__)

DEFAULT_TAP_URLS: dict[str, str] = {
    "simbad": "https://simbad.cds.unistra.fr/simbad/sim-tap",
    "ned": "https://ned.ipac.caltech.edu/tap",
    "vizier": "https://tapvizier.cds.unistra.fr/TAPVizieR/tap",
}
"""The public TAP endpoints (the ``/sync`` resource is below each)."""

Rule = Literal["simbad", "ned", "gaia", "other"]

#: Most rows one cone search returns (the nearest are kept by the services' own order).
MAX_ROWS = 50


@dataclass(frozen=True)
class TapTable:
    """One table of a TAP service, searched by cone.

    Parameters
    ----------
    service : {"simbad", "ned", "vizier"}
        The service (names problems and the optional-extra error).
    catalogue : str
        Name the matches are reported under (``"simbad"``, ``"gaiadr3"``).
    url : str
        TAP base URL.
    table : str
        ADQL table name (``basic``, ``NEDTAP.objdir``, ``I/355/gaiadr3``).
    ra_col, dec_col, name_col : str
        Columns of the position (degrees ICRS) and the source name.
    type_col : str or None
        Column of the object type, if the table has one.
    columns : tuple of str
        Extra columns reported with each match.
    rule : {"simbad", "ned", "gaia", "other"}
        How a row becomes a kind: the SIMBAD or NED type table, the Gaia star test, or
        always ``other``.
    name_prefix : str
        Put before the name (``"Gaia DR3 "``).
    citation : str
        What to cite when a match is used.
    """

    service: str
    catalogue: str
    url: str
    table: str
    ra_col: str
    dec_col: str
    name_col: str
    type_col: str | None
    columns: tuple[str, ...]
    rule: Rule
    name_prefix: str = ""
    citation: str = ""

    @property
    def key(self) -> str:
        """The cache key of this table: service, table and endpoint."""
        return f"{self.service}:{self.table}@{self.url}"

    def adql(self, ra: float, dec: float, radius_arcsec: float) -> str:
        """The ADQL cone search around one position."""
        table = f'"{self.table}"' if "/" in self.table else self.table
        select = [
            f"{self.name_col} AS src_name",
            f"{self.ra_col} AS src_ra",
            f"{self.dec_col} AS src_dec",
        ]
        if self.type_col is not None:
            select.append(f"{self.type_col} AS src_type")
        select.extend(self.columns)
        return (
            f"SELECT TOP {MAX_ROWS} {', '.join(select)} FROM {table} "
            f"WHERE 1 = CONTAINS(POINT('ICRS', {self.ra_col}, {self.dec_col}), "
            f"CIRCLE('ICRS', {ra:.8f}, {dec:.8f}, {radius_arcsec / 3600.0:.10f}))"
        )

    def rows(self, table: Table) -> list[dict[str, Any]]:
        """Rows of an answer as plain dicts (name, type, kind, ra, dec, columns).

        Raises OnlineServiceError naming the service when a column asked for is missing.
        """
        names = {c.lower(): c for c in table.colnames}
        wanted = ["src_name", "src_ra", "src_dec", *(c.lower() for c in self.columns)]
        if self.type_col is not None:
            wanted.append("src_type")
        missing = [c for c in wanted if c not in names]
        if missing:
            raise OnlineServiceError(
                f"{self.service}: answer from {self.url} for {self.table} lacks columns "
                f"{missing} (has {table.colnames})",
                service=self.service,
            )
        out: list[dict[str, Any]] = []
        for row in table:
            ra, dec = _cell(row[names["src_ra"]]), _cell(row[names["src_dec"]])
            if not isinstance(ra, float | int) or not isinstance(dec, float | int):
                continue  # SIMBAD lists objects without coordinates
            extra = {c: _cell(row[names[c.lower()]]) for c in self.columns}
            otype = "" if self.type_col is None else str(_cell(row[names["src_type"]]) or "")
            kind, otype = self._kind(otype, extra)
            out.append(
                {
                    "name": f"{self.name_prefix}{_cell(row[names['src_name']]) or ''}".strip(),
                    "type": otype,
                    "kind": kind,
                    "ra": float(ra),
                    "dec": float(dec),
                    "columns": extra,
                }
            )
        return out

    def _kind(self, otype: str, extra: dict[str, Any]) -> tuple[Kind, str]:
        if self.rule in ("simbad", "ned"):
            return kind_of(self.rule, otype), otype
        if self.rule == "gaia":
            sigma = gaia_star_significance(extra)
            if sigma >= GAIA_STAR_SIGMA:
                return "variable_star", f"star (parallax or proper motion {sigma:.0f} sigma)"
            return "other", "Gaia source"
        return "other", otype or f"{self.table} source"


def _cell(value: Any) -> Any:
    """A table cell as a JSON-able Python value (masked and NaN as None)."""
    if value is np.ma.masked or np.ma.is_masked(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, int | float | bool) or value is None else str(value)


def simbad_table(url: str = DEFAULT_TAP_URLS["simbad"]) -> TapTable:
    """SIMBAD's ``basic`` table: main identifier, position, main object type."""
    return TapTable(
        "simbad", "simbad", url, "basic", "ra", "dec", "main_id", "otype",
        ("sp_type", "rvz_redshift"), "simbad",
        citation="Wenger et al. 2000, A&AS 143, 9 (SIMBAD, CDS Strasbourg)",
    )  # fmt: skip


def ned_table(url: str = DEFAULT_TAP_URLS["ned"]) -> TapTable:
    """NED's object directory ``NEDTAP.objdir``: preferred name, position, type, redshift."""
    return TapTable(
        "ned", "ned", url, "NEDTAP.objdir", "ra", "dec", "prefname", "pretype", ("z",), "ned",
        citation="NASA/IPAC Extragalactic Database (NED), Caltech/JPL, funded by NASA",
    )  # fmt: skip


VIZIER_TABLES: dict[str, TapTable] = {
    "I/355/gaiadr3": TapTable(
        "vizier", "gaiadr3", DEFAULT_TAP_URLS["vizier"], "I/355/gaiadr3", "RA_ICRS",
        "DE_ICRS", "Source", None,
        ("Plx", "e_Plx", "pmRA", "e_pmRA", "pmDE", "e_pmDE", "Gmag"), "gaia",
        name_prefix="Gaia DR3 ",
        citation="Gaia Collaboration, Vallenari et al. 2023, A&A 674, A1 (Gaia DR3); "
        "VizieR (Ochsenbein et al. 2000)",
    ),
    "II/349/ps1": TapTable(
        "vizier", "ps1", DEFAULT_TAP_URLS["vizier"], "II/349/ps1", "RAJ2000", "DEJ2000",
        "objID", None, ("gmag", "rmag", "imag", "zmag", "ymag"), "other",
        name_prefix="PS1 ",
        citation="Chambers et al. 2016, arXiv:1612.05560 (Pan-STARRS1); "
        "VizieR (Ochsenbein et al. 2000)",
    ),
}  # fmt: skip
"""VizieR tables known by name: Gaia DR3 and Pan-STARRS1 DR1."""


def vizier_table(spec: str, url: str = DEFAULT_TAP_URLS["vizier"]) -> TapTable:
    """A VizieR table from a setting: a known name (`VIZIER_TABLES`) or ``TABLE:RA:DEC:NAME``.

    Parameters
    ----------
    spec : str
        ``"I/355/gaiadr3"``, or e.g. ``"J/MNRAS/485/961/table2:RAJ2000:DEJ2000:Name"`` for
        any other table (its rows are reported as kind ``other``).
    url : str
        The VizieR TAP base URL.

    Raises
    ------
    ConfigurationError
        When ``spec`` is neither.
    """
    if spec in VIZIER_TABLES:
        return replace(VIZIER_TABLES[spec], url=url)
    parts = spec.split(":")
    if len(parts) != 4 or not all(p.strip() for p in parts):
        raise ConfigurationError(
            f"context_vizier_tables: {spec!r} is not a known table ({sorted(VIZIER_TABLES)}) "
            "nor TABLE:RA_COLUMN:DEC_COLUMN:NAME_COLUMN"
        )
    for part in parts[1:]:
        if not part.replace("_", "").isalnum():
            raise ConfigurationError(
                f"context_vizier_tables: {spec!r}: column {part!r} is not a plain column name"
            )
    table, ra_col, dec_col, name_col = (p.strip() for p in parts)
    return TapTable(
        "vizier", table, url, table, ra_col, dec_col, name_col, None, (), "other",
        citation=f"VizieR table {table} (Ochsenbein et al. 2000)",
    )  # fmt: skip


def require_pyvo(service: str) -> ModuleType:
    """pyvo, or a ConfigurationError saying which extra installs it."""
    try:
        import pyvo
    except ImportError as e:
        raise ConfigurationError(
            f"context_online service {service!r} needs pyvo, which is not installed: "
            "pip install 'astrid[online]'"
        ) from e
    return pyvo


def _session(timeout_s: float) -> Any:
    """A requests session whose every request has the timeout (pyvo sets none)."""
    import requests

    # Typed as Any: the override takes what requests passes on, whatever its stubs say.
    base: Any = requests.Session

    class TimeoutSession(base):
        def request(self, method: str, url: str, **kwargs: Any) -> Any:
            kwargs["timeout"] = kwargs.get("timeout") or timeout_s
            return super().request(method, url, **kwargs)

    return TimeoutSession()


def _timed_out(error: BaseException | None) -> bool:
    """Whether an exception (or one it was raised from) is a timeout."""
    import requests

    while error is not None:
        if isinstance(error, requests.Timeout | TimeoutError):
            return True
        if "timed out" in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return False


def run_tap(
    table: TapTable, ra: float, dec: float, radius_arcsec: float, timeout_s: float
) -> Table:
    """Run the cone search of ``table`` synchronously and return its answer.

    Raises
    ------
    OnlineServiceError
        On a timeout, an HTTP or TAP error, or a VOTable that cannot be parsed; the
        message names the service and the URL.
    """
    adql = table.adql(ra, dec, radius_arcsec)
    return run_adql(table.service, table.url, adql, timeout_s, what=table.table)


def run_adql(service: str, url: str, adql: str, timeout_s: float, *, what: str) -> Table:
    """Run one ADQL query on the TAP service at ``url`` synchronously; its answer.

    Raises
    ------
    OnlineServiceError
        On a timeout, an HTTP or TAP error, or a VOTable that cannot be parsed; the
        message names the service, ``what`` was queried and the URL.
    """
    pyvo = require_pyvo(service)
    import requests

    session = _session(timeout_s)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tap = pyvo.dal.TAPService(url, session=session)
            answer: Table = tap.run_sync(adql).to_table()
    except (pyvo.dal.DALAccessError, requests.RequestException, OSError, ValueError) as e:
        if _timed_out(e):
            raise OnlineServiceError(
                f"{service}: no answer from {url} within {timeout_s:g} s",
                service=service,
                timeout_s=timeout_s,
            ) from e
        text = " ".join(str(e).split())[:300]
        raise OnlineServiceError(
            f"{service}: query of {what} at {url} failed: {type(e).__name__}: {text}",
            service=service,
        ) from e
    finally:
        session.close()
    for w in caught:
        log.debug("%s: %s", service, w.message)
    return answer
