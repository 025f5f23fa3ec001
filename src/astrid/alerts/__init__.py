"""Alerts: Rubin-schema Avro packets of AstrID's detections, and who gets one.

Pure code: records in, bytes out; no catalog, no files (the pipeline stores and writes
them, `astrid.pipeline.alerts_stage`). `rubin_schema` loads the newest Rubin alert schema
that the ``lsst-alert-packet`` package ships; `build_alert` makes an `AlertPacket` of one
detection from `Detection`, `ForcedMeasurement`, `ObjectSummary`, `Cutouts` and
`AstridValues` records: the Rubin record (fluxes in nJy, times in TAI,
`nanojansky_per_unit`, `tai_mjd`) and AstrID's sidecar (scores, context), as Avro and
JSON bytes; `read_container` reads a packet file back. `PublicationRule` says which
detections are published (default: ``rb`` above the model's operating threshold).
`alert_fields` flattens a packet into the fields filters test (`ALERT_FIELDS`);
`compile_filter` compiles a filter expression (docs/alert_filters.md) and `Router` tests
alerts against subscriptions' filters; `plain_summary` says what an alert is in one
English sentence made of its fields.
See docs/alerts.md.
"""

from astrid.alerts.dia_records import (
    RUBIN_BANDS,
    blank_record,
    dia_forced_source,
    dia_object,
    dia_source,
)
from astrid.alerts.fields import ALERT_FIELDS, alert_fields
from astrid.alerts.filter_language import AlertFilter, FilterSyntaxError, compile_filter
from astrid.alerts.inputs import AstridValues, Cutouts, Detection, ForcedMeasurement, ObjectSummary
from astrid.alerts.packet import SIDECAR_VERSION, AlertPacket, build_alert, stamp_fits
from astrid.alerts.publication import (
    DEFAULT_OPERATING_THRESHOLD,
    PublicationRule,
    operating_threshold,
)
from astrid.alerts.routing import Router, compile_alert_filter
from astrid.alerts.schema import AlertSchema, container_bytes, read_container, rubin_schema
from astrid.alerts.summary import plain_summary
from astrid.alerts.units import AB_MAG_OF_ONE_NJY, nanojansky_per_unit, tai_mjd

__all__ = [
    "AB_MAG_OF_ONE_NJY",
    "ALERT_FIELDS",
    "DEFAULT_OPERATING_THRESHOLD",
    "RUBIN_BANDS",
    "SIDECAR_VERSION",
    "AlertFilter",
    "AlertPacket",
    "AlertSchema",
    "AstridValues",
    "Cutouts",
    "Detection",
    "FilterSyntaxError",
    "ForcedMeasurement",
    "ObjectSummary",
    "PublicationRule",
    "Router",
    "alert_fields",
    "blank_record",
    "build_alert",
    "compile_alert_filter",
    "compile_filter",
    "container_bytes",
    "dia_forced_source",
    "dia_object",
    "dia_source",
    "nanojansky_per_unit",
    "operating_threshold",
    "plain_summary",
    "read_container",
    "rubin_schema",
    "stamp_fits",
    "tai_mjd",
]
