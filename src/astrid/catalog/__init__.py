"""The catalog: observations, processing runs, candidates, labels, models and events.

This subpackage is the only place that speaks SQL. `connect` opens (and migrates) a
database by URL and returns a `Catalog`, whose methods write and take plain Python values.
The reads a scientist or the service makes are functions of a catalog that return frozen
records: candidates (`list_candidates` with `CandidateFilters`, `cone_search`,
`neighbours`, `iter_candidates`, `candidate`), `observations`, `runs`, labels
(`labels_of`, `consensus_of`, `review_progress`), models (`list_models`, `active_model`),
exports (`candidates_table`, `table_bytes` in the `EXPORT_FORMATS`) and statistics
(`histogram`, `candidates_per_observation`).

Examples
--------
>>> from astrid.catalog import connect
>>> catalog = connect("sqlite://")  # in memory
>>> catalog.record_event("Hello", {"n": 1})
>>> [e.payload for e in catalog.events()]
[{'n': 1}]
>>> catalog.close()
"""

from astrid.catalog.candidates import (
    CandidatePage,
    CandidateRecord,
    ConeMatch,
    candidate,
    candidates_by_id,
    cone_search,
    count_candidates,
    iter_candidates,
    list_candidates,
    neighbours,
)
from astrid.catalog.curation import (
    LabelRecord,
    ReviewProgress,
    add_label,
    all_labels,
    consensus_of,
    labels_of,
    review_progress,
)
from astrid.catalog.database import connect
from astrid.catalog.exports import EXPORT_FORMATS, candidates_table, labels_table, table_bytes
from astrid.catalog.model_registry import (
    ModelRecord,
    activate_model,
    active_model,
    get_model,
    list_models,
    model_by_id,
    register_model,
)
from astrid.catalog.observations import (
    ObservationRecord,
    latest_reference,
    observation,
    observation_by_hash,
    observations,
)
from astrid.catalog.query_params import CandidateFilters, InvalidQueryError
from astrid.catalog.repository import Catalog, EventInfo, RunRecord
from astrid.catalog.runs import run, runs
from astrid.catalog.statistics import candidates_per_observation, histogram

__all__ = [
    "EXPORT_FORMATS",
    "CandidateFilters",
    "CandidatePage",
    "CandidateRecord",
    "Catalog",
    "ConeMatch",
    "EventInfo",
    "InvalidQueryError",
    "LabelRecord",
    "ModelRecord",
    "ObservationRecord",
    "ReviewProgress",
    "RunRecord",
    "activate_model",
    "active_model",
    "add_label",
    "all_labels",
    "candidate",
    "candidates_by_id",
    "candidates_per_observation",
    "candidates_table",
    "cone_search",
    "connect",
    "consensus_of",
    "count_candidates",
    "get_model",
    "histogram",
    "iter_candidates",
    "labels_of",
    "labels_table",
    "latest_reference",
    "list_candidates",
    "list_models",
    "model_by_id",
    "neighbours",
    "observation",
    "observation_by_hash",
    "observations",
    "register_model",
    "review_progress",
    "run",
    "runs",
    "table_bytes",
]
