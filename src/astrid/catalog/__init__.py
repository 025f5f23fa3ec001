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

from astrid.catalog.archive_templates import (
    ArchiveTemplate,
    ArchiveTemplateRecord,
    archive_template,
    record_archive_template,
)
from astrid.catalog.candidates import (
    CandidatePage,
    CandidateRecord,
    ConeMatch,
    candidate,
    candidates_by_id,
    candidates_of_object,
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

# the delivery tables belong to the catalog's metadata (migrations compare against it)
from astrid.catalog.delivery_models import AlertDelivery, AlertSubscription, NamedFilter
from astrid.catalog.exports import EXPORT_FORMATS, candidates_table, labels_table, table_bytes
from astrid.catalog.lightcurves import (
    POINT_COLUMNS,
    LightCurvePointRecord,
    ObjectPosition,
    RunFootprint,
    detections_in_runs,
    drop_undetected_points,
    light_curves,
    objects_near,
    objects_of_runs,
    record_points,
    runs_covering,
    runs_with_objects_stage,
    set_objects_done,
    set_objects_stage,
)
from astrid.catalog.model_registry import (
    ModelRecord,
    activate_model,
    active_model,
    get_model,
    list_models,
    model_by_id,
    register_model,
)
from astrid.catalog.object_records import (
    SUMMARY_COLUMNS,
    ObjectCone,
    ObjectFilters,
    ObjectLabelRecord,
    ObjectRecord,
    add_object_label,
    context_classes,
    count_objects,
    list_objects,
    object_cone_search,
    object_labels_of,
    objects_by_id,
    sky_object,
    update_summaries,
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
    "POINT_COLUMNS",
    "SUMMARY_COLUMNS",
    "AlertDelivery",
    "AlertSubscription",
    "ArchiveTemplate",
    "ArchiveTemplateRecord",
    "CandidateFilters",
    "CandidatePage",
    "CandidateRecord",
    "Catalog",
    "ConeMatch",
    "EventInfo",
    "InvalidQueryError",
    "LabelRecord",
    "LightCurvePointRecord",
    "ModelRecord",
    "NamedFilter",
    "ObjectCone",
    "ObjectFilters",
    "ObjectLabelRecord",
    "ObjectPosition",
    "ObjectRecord",
    "ObservationRecord",
    "ReviewProgress",
    "RunFootprint",
    "RunRecord",
    "activate_model",
    "active_model",
    "add_label",
    "add_object_label",
    "all_labels",
    "archive_template",
    "candidate",
    "candidates_by_id",
    "candidates_of_object",
    "candidates_per_observation",
    "candidates_table",
    "cone_search",
    "connect",
    "consensus_of",
    "context_classes",
    "count_candidates",
    "count_objects",
    "detections_in_runs",
    "drop_undetected_points",
    "get_model",
    "histogram",
    "iter_candidates",
    "labels_of",
    "labels_table",
    "latest_reference",
    "light_curves",
    "list_candidates",
    "list_models",
    "list_objects",
    "model_by_id",
    "neighbours",
    "object_cone_search",
    "object_labels_of",
    "objects_by_id",
    "objects_near",
    "objects_of_runs",
    "observation",
    "observation_by_hash",
    "observations",
    "record_archive_template",
    "record_points",
    "register_model",
    "review_progress",
    "run",
    "runs",
    "runs_covering",
    "runs_with_objects_stage",
    "set_objects_done",
    "set_objects_stage",
    "sky_object",
    "table_bytes",
    "update_summaries",
]
