"""The catalog: observations, processing runs, candidates and the event log.

This subpackage is the only place that speaks SQL. `connect` opens (and migrates) a
database by URL and returns a `Catalog`, whose methods take and return plain Python values.

Examples
--------
>>> from astrid.catalog import connect
>>> catalog = connect("sqlite://")  # in memory
>>> catalog.record_event("Hello", {"n": 1})
>>> [e.payload for e in catalog.events()]
[{'n': 1}]
>>> catalog.close()
"""

from astrid.catalog.database import connect
from astrid.catalog.repository import Catalog, EventInfo, RunRecord

__all__ = ["Catalog", "EventInfo", "RunRecord", "connect"]
