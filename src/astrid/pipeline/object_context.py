"""Context of objects: catalogue matches, the host galaxy in the reference image, the class.

Wiring only. The catalogues are loaded once per pipeline (`ContextSources.load`, from the
installed context directory: `astrid context install`); a catalogue that cannot be read is
left out with a problem saying which and why, and the run goes on. The online services
(`context_online`, off by default) are asked too; one that fails is a problem of the
objects it was asked about, and the run goes on without it. The reference image's
sources (galaxies for hosts, bright stars for artefacts) are extracted once per reference
observation and kept, in the process and (``kept``) as a FITS table for later runs. The
science is `astrid.context`: `crossmatch`, `assign_hosts`, `on_bright_star` and
`classify`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from astrid.atomic_files import write_atomically
from astrid.catalog import Catalog, ObjectRecord
from astrid.config import Settings
from astrid.context import (
    Catalogue,
    HostMatch,
    Match,
    assign_hosts,
    classify,
    crossmatch,
    load_catalogues,
    on_bright_star,
    sort_matches,
    sources_of_image,
)
from astrid.context.online import (
    DEFAULT_TAP_URLS,
    DEFAULT_TNS_URL,
    VIZIER_TABLES,
    OnlineConfig,
    OnlineContext,
)
from astrid.errors import AstridError
from astrid.pipeline.inputs import stored_observation
from astrid.pipeline.reference_cache import code_digest
from astrid.store import ObjectStore

__all__ = ["ContextSources", "context_summaries", "online_config"]

log = logging.getLogger(__name__)


@dataclass
class ContextSources:
    """Catalogues to match objects against, and the reference images' sources, cached.

    Attributes
    ----------
    catalogues : list of Catalogue
        Loaded catalogues (may be empty: no catalogue installed).
    problems : list of str
        One message per catalogue that could not be loaded, naming it and why.
    online : OnlineContext or None
        The online services to ask as well (``context_online``), or None.
    kept : Path or None
        A folder where each reference's sources are kept as a FITS table for later runs
        (the pipeline's ``reference_cache``), or None: found again by every process.
    """

    catalogues: list[Catalogue]
    problems: list[str]
    online: OnlineContext | None = None
    kept: Path | None = None
    _sources: OrderedDict[int, Table | None] = field(default_factory=OrderedDict)

    @classmethod
    def load(cls, directory: Path | str, names: Sequence[str] | None = None) -> ContextSources:
        """The catalogues installed in ``directory`` (all, or those named)."""
        catalogues, problems = load_catalogues(
            Path(directory), None if names is None else list(names)
        )
        for problem in problems:
            log.info("context: %s", problem)  # callers show them (the CLI prints each)
        return cls(catalogues=list(catalogues), problems=list(problems))

    @classmethod
    def from_settings(cls, settings: Settings) -> ContextSources | None:
        """The catalogues the settings name (``context_dir``, ``context_catalogues``) and the
        online services (``context_online``), or None when context is switched off
        (``context_enabled``). ConfigurationError when the online settings are unusable."""
        if not settings.context_enabled or settings.context_dir is None:
            return None
        sources = cls.load(settings.context_dir, settings.context_catalogues)
        if settings.context_online:
            sources.online = OnlineContext(online_config(settings))
        return sources

    def reference_sources(
        self, catalog: Catalog, store: ObjectStore, reference_id: int
    ) -> Table | None:
        """Sources of a reference observation's image (None when it cannot be read)."""
        if reference_id in self._sources:
            self._sources.move_to_end(reference_id)
            return self._sources[reference_id]
        table: Table | None
        try:
            record, source = stored_observation(catalog, store, reference_id)
            kept = None
            if self.kept is not None and record.store_key is not None:
                name = hashlib.sha256(f"{record.store_key} {code_digest()}".encode()).hexdigest()
                kept = self.kept / f"sources-{name}.fits"
            table = None if kept is None else _read_kept_sources(kept)
            if table is None:
                table = sources_of_image(source.read())
                if kept is not None:
                    _keep_sources(table, kept)
        except AstridError as e:
            log.warning("reference %d: no host galaxies: %s", reference_id, e)
            table = None
        self._sources[reference_id] = table
        while len(self._sources) > 4:
            self._sources.popitem(last=False)
        return table


def _read_kept_sources(path: Path) -> Table | None:
    """A reference's sources kept by an earlier run (`ContextSources.kept`), or None."""
    if not path.is_file():
        return None
    try:
        table = Table.read(path, format="fits")
    except (OSError, ValueError, TypeError) as e:
        log.warning("%s: cannot read the kept reference sources (%s); finding them again", path, e)
        return None
    os.utime(path)  # recently used: pruned last
    return table


def _keep_sources(table: Table, path: Path) -> None:
    """Write ``table`` whole or not at all; a failure costs the next run time, not results."""
    buffer = io.BytesIO()
    table.write(buffer, format="fits")
    try:
        write_atomically(path, buffer.getvalue())
    except OSError as e:
        log.warning("%s: cannot keep the reference sources (%s)", path, e)


def online_config(settings: Settings) -> OnlineConfig:
    """The online-context configuration the settings describe (cache in ``context_dir``)."""
    assert settings.context_dir is not None  # filled in by Settings
    tables = settings.context_vizier_tables
    key = settings.tns_api_key
    return OnlineConfig(
        services=tuple(settings.context_online),
        cache_path=Path(settings.context_dir) / "online-cache.sqlite",
        ttl_s=settings.context_online_ttl_hours * 3600.0,
        timeout_s=settings.context_online_timeout_s,
        radius_arcsec=settings.context_online_radius_arcsec,
        simbad_url=settings.context_simbad_url or DEFAULT_TAP_URLS["simbad"],
        ned_url=settings.context_ned_url or DEFAULT_TAP_URLS["ned"],
        vizier_url=settings.context_vizier_url or DEFAULT_TAP_URLS["vizier"],
        tns_url=settings.context_tns_url or DEFAULT_TNS_URL,
        vizier_tables=tuple(VIZIER_TABLES) if tables is None else tuple(tables),
        tns_api_key=None if key is None else key.get_secret_value(),
        tns_bot_id=settings.tns_bot_id,
        tns_bot_name=settings.tns_bot_name,
    )


def _match_dict(match: Match) -> dict[str, Any]:
    return {
        "catalogue": match.catalogue,
        "kind": match.kind,
        "name": match.name,
        "type": match.type,
        "sep_arcsec": _number(match.sep_arcsec),
        "ra": _number(match.ra),
        "dec": _number(match.dec),
        "distance_mpc": _number(match.distance_mpc),
        "columns": {k: _plain(v) for k, v in match.columns.items()},
    }


def _host_dict(host: HostMatch) -> dict[str, Any]:
    return {
        "name": host.name,
        "ra": _number(host.ra),
        "dec": _number(host.dec),
        "sep_arcsec": _number(host.sep_arcsec),
        "dlr": _number(host.dlr),
        "a_arcsec": _number(host.a_arcsec),
        "b_arcsec": _number(host.b_arcsec),
        "pa_deg": _number(host.pa_deg),
        "core_sep_arcsec": _number(host.core_sep_arcsec),
    }


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _host_distance(context: ContextSources, host: HostMatch | None) -> Match | None:
    """The galaxy-catalogue entry at the host's position, when one is there."""
    if host is None:
        return None
    galaxies = [c for c in context.catalogues if c.spec.kind == "galaxy"]
    if not galaxies:
        return None
    found = crossmatch(galaxies, np.array([host.ra]), np.array([host.dec]))[0]
    return next((m for m in found if m.distance_mpc is not None), None)


def context_summaries(
    context: ContextSources,
    catalog: Catalog,
    store: ObjectStore,
    objects: Sequence[ObjectRecord],
    *,
    peak_mags: Mapping[int, float | None],
    reference_of: Mapping[int, int],
) -> dict[int, dict[str, Any]]:
    """Context columns (`astrid.catalog.SUMMARY_COLUMNS`) of each object, by id."""
    if not objects:
        return {}
    ra = np.array([o.ra for o in objects], dtype=float)
    dec = np.array([o.dec for o in objects], dtype=float)
    matches = (
        crossmatch(context.catalogues, ra, dec) if context.catalogues else [[] for _ in objects]
    )
    problems = list(context.problems)
    if context.online is not None:
        online, online_problems = context.online.match(ra, dec)
        problems.extend(online_problems)
        for position_matches, extra in zip(matches, online, strict=True):
            position_matches.extend(extra)
            sort_matches(position_matches)
    hosts: list[HostMatch | None] = [None] * len(objects)
    bright = np.zeros(len(objects), dtype=bool)
    by_reference: dict[int, list[int]] = {}
    for k, obj in enumerate(objects):
        if obj.id in reference_of:
            by_reference.setdefault(reference_of[obj.id], []).append(k)
    for reference_id, rows in by_reference.items():
        sources = context.reference_sources(catalog, store, reference_id)
        if sources is None or len(sources) == 0:
            continue
        found = assign_hosts(sources, ra[rows], dec[rows])
        stars = on_bright_star(sources, ra[rows], dec[rows])
        for j, k in enumerate(rows):
            hosts[k] = found[j]
            bright[k] = bool(stars[j])
    out: dict[int, dict[str, Any]] = {}
    for k, obj in enumerate(objects):
        host = hosts[k]
        galaxy = _host_distance(context, host)
        object_matches = [m for m in matches[k] if m.kind != "galaxy"]
        if galaxy is not None:
            object_matches.append(galaxy)
        decision = classify(
            object_matches,
            host,
            on_bright_star=bool(bright[k]),
            peak_mag=peak_mags.get(obj.id),
            host_distance_mpc=None if galaxy is None else galaxy.distance_mpc,
        )
        first = next((m for m in object_matches if m.kind != "galaxy"), None)
        out[obj.id] = {
            "context_class": decision.context_class,
            "context_reason": decision.reason,
            "context": {
                "class": decision.context_class,
                "reason": decision.reason,
                "matches": [_match_dict(m) for m in matches[k]],
                "host": None if host is None else _host_dict(host),
                "host_catalogue_match": None if galaxy is None else _match_dict(galaxy),
                "on_bright_star": bool(bright[k]),
                "absolute_peak_mag": _number(decision.absolute_peak_mag),
                "catalogue_problems": list(problems),
            },
            "xmatch_catalog": None if first is None else first.catalogue,
            "xmatch_name": None if first is None else first.name,
            "xmatch_type": None if first is None else first.type,
            "xmatch_sep_arcsec": None if first is None else _number(first.sep_arcsec),
            "host_name": None if host is None else host.name,
            "host_sep_arcsec": None if host is None else _number(host.sep_arcsec),
            "host_dlr": None if host is None else _number(host.dlr),
            "host_distance_mpc": _number(decision.host_distance_mpc),
        }
    return out
