"""Online context: SIMBAD, NED, VizieR (Gaia DR3, PS1) and TNS cone searches, cached.

Off unless services are enabled (``context_online``). The answers become the same `Match`
objects the offline catalogues give (`object_types` maps each service's object types to
kinds), so `classify` treats them alike. TAP services need the ``online`` extra (pyvo).
"""

from astrid.context.online.cache import QueryCache
from astrid.context.online.object_types import OBJECT_TYPES, gaia_star_significance, kind_of
from astrid.context.online.services import ONLINE_SERVICES, OnlineConfig, OnlineContext
from astrid.context.online.tap import DEFAULT_TAP_URLS, VIZIER_TABLES, TapTable, vizier_table
from astrid.context.online.tns import DEFAULT_TNS_URL, TnsService

__all__ = [
    "DEFAULT_TAP_URLS",
    "DEFAULT_TNS_URL",
    "OBJECT_TYPES",
    "ONLINE_SERVICES",
    "VIZIER_TABLES",
    "OnlineConfig",
    "OnlineContext",
    "QueryCache",
    "TapTable",
    "TnsService",
    "gaia_star_significance",
    "kind_of",
    "vizier_table",
]
