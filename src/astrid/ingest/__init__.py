"""Survey alert packets read into plain records: ZTF and Rubin (schema 7.0 on) alike.

`read_alert_file` reads an Avro alert file (the schema embedded in it decides the survey
and version) and yields one `SurveyAlert` per packet, or an `IngestProblem` for what could
not be read; it never raises for bad data. `alert_paths` expands files and folders.
The per-survey readers (`read_ztf_packet`, `read_rubin_packet`) map one decoded packet;
`decode_stamp` and `to_triplet` turn cutouts into the ``(3, 63, 63)`` stamps every record
carries. `astrid.ingest.ztf_layout` writes ZTF-like packets for tests and benchmarks.
Conventions (units, times, stamps) are in `astrid.ingest.records`; docs/ingest.md has the
field mappings.
"""

from __future__ import annotations

from astrid.ingest.files import alert_paths, read_alert_file
from astrid.ingest.records import IngestProblem, SurveyAlert, SurveyPoint
from astrid.ingest.rubin import read_rubin_packet, rubin_version
from astrid.ingest.stamps import decode_stamp, decode_triplet, to_triplet
from astrid.ingest.times import utc_from_tai
from astrid.ingest.ztf import read_ztf_packet, ztf_flux

__all__ = [
    "IngestProblem",
    "SurveyAlert",
    "SurveyPoint",
    "alert_paths",
    "decode_stamp",
    "decode_triplet",
    "read_alert_file",
    "read_rubin_packet",
    "read_ztf_packet",
    "rubin_version",
    "to_triplet",
    "utc_from_tai",
    "ztf_flux",
]
