"""``candidates.csv``: the candidates of the runs whose products went to an output folder.

One row per candidate of each done run (`astrid.pipeline.output_index.OutputIndex` says
which runs), with its observation's name, time, band and file, the model version that
scored it and the object it joined. The file is written whole and renamed into place.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from astrid.catalog import Catalog
from astrid.catalog.model_registry import SCORE_FIELDS
from astrid.difference.subtract import CANDIDATE_COLUMNS
from astrid.pipeline.scoring import version_labels

__all__ = ["CSV_COLUMNS", "write_candidates_csv"]

#: Columns of candidates.csv, in order: the difference stage's, then the ML scores and the
#: model version that made them (empty when a candidate was not scored), then the
#: candidate's catalog id and its observation's MJD, band (filter) and file (as given, or
#: ``upload:<name>``), as the API's export names them; then the object (source) it joined;
#: last, for a candidate ingested from a survey's alert packet, the survey and the packet's
#: own detection id (ZTF ``candid``, Rubin ``diaSourceId``; empty for AstrID's own).
CSV_COLUMNS = (
    "observation",
    *CANDIDATE_COLUMNS,
    *SCORE_FIELDS,
    "model_version",
    "candidate_id",
    "mjd",
    "band",
    "observation_file",
    "object_id",
    "object_name",
    "survey",
    "source_id",
)


def write_candidates_csv(catalog: Catalog, path: Path, run_keys: Iterable[str]) -> list[int]:
    """Write ``path`` (candidates.csv) for the runs of ``run_keys``; the ids of those done."""
    candidates, run_ids = [], []
    for key in run_keys:
        run = catalog.find_run(key=key)
        if run is not None and run.status == "done":
            run_ids.append(run.id)
            candidates.extend(catalog.candidates(run_id=run.id))
    # only the observations these candidates come from, not the whole catalog's
    wanted = {cand["observation_id"] for cand in candidates}
    observations = {obs["id"]: obs for obs in catalog.observations(ids=wanted)}
    versions = version_labels(catalog)
    columns = (*CANDIDATE_COLUMNS, *SCORE_FIELDS)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for cand in candidates:
            obs = observations.get(cand["observation_id"], {})
            writer.writerow(
                [obs.get("name", "")]
                + ["" if cand.get(c) is None else cand.get(c) for c in columns]
                + [versions.get(cand.get("model_version_id") or -1, "")]
                + [
                    cand["id"],
                    "" if obs.get("mjd") is None else obs["mjd"],
                    obs.get("filter") or "",
                    obs.get("path", ""),
                    "" if cand.get("object_id") is None else cand["object_id"],
                    cand.get("object_name") or "",
                    cand.get("survey") or "",
                    "" if cand.get("source_id") is None else cand["source_id"],
                ]
            )
    os.replace(temporary, path)
    return run_ids
