"""The pipeline: stages wired to the catalog, the object store and a process pool.

`Pipeline` (with a `PipelineConfig`) runs science frames against a reference: it hashes
and registers the inputs (`register_observation`, `stored_observation` for uploads), keys
each run by its inputs, config and code version, skips finished runs, processes frames
(`process_frame`: validate → `astrid.preprocess` → `astrid.difference` → real/bogus scores
with `add_realbogus_scores`) and stores the candidates in one transaction per frame;
`RunReport` says what happened. `resolve_model`, `register_model_file` and `rescore`
manage the real/bogus model the runs use; `write_report` and `write_evaluation_report`
write HTML reports (matplotlib, imported on first use).

Examples
--------
>>> from astrid.catalog import connect
>>> from astrid.pipeline import Pipeline, PipelineConfig
>>> from astrid.store import ObjectStore
>>> store = ObjectStore("data/store")  # doctest: +SKIP
>>> pipeline = Pipeline(connect("sqlite:///astrid.db"), store, PipelineConfig())  # doctest: +SKIP
>>> report = pipeline.run("reference.fits", ["science.fits"], "out")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from astrid.pipeline.candidates_csv import CSV_COLUMNS
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.frame import FrameOutcome, process_frame, unet_detector
from astrid.pipeline.inputs import FrameSource, register_observation, stored_observation
from astrid.pipeline.runner import FrameInput, FrameReport, Pipeline, RunReport
from astrid.pipeline.scoring import (
    MODEL_NAME,
    ScoringModel,
    add_realbogus_scores,
    register_model_file,
    rescore,
    resolve_model,
    version_labels,
)

if TYPE_CHECKING:
    from astrid.pipeline.report import write_evaluation_report, write_report

#: Names whose module imports matplotlib, imported on first use so that the spawned frame
#: workers, which import this package, do not pay for it.
_REPORT_NAMES = ("write_evaluation_report", "write_report")

__all__ = [
    "CSV_COLUMNS",
    "MODEL_NAME",
    "FrameInput",
    "FrameOutcome",
    "FrameReport",
    "FrameSource",
    "Pipeline",
    "PipelineConfig",
    "RunReport",
    "ScoringModel",
    "add_realbogus_scores",
    "process_frame",
    "register_model_file",
    "register_observation",
    "rescore",
    "resolve_model",
    "stored_observation",
    "unet_detector",
    "version_labels",
    "write_evaluation_report",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Import a report writer on first use (PEP 562)."""
    if name in _REPORT_NAMES:
        return getattr(importlib.import_module("astrid.pipeline.report"), name)
    raise AttributeError(f"module 'astrid.pipeline' has no attribute {name!r}")
