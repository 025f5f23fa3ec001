"""What `Pipeline.run` reports: a `FrameReport` per science frame, a `RunReport` per call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from astrid.pipeline.alerts_stage import AlertsStageReport
    from astrid.pipeline.delivery_stage import DeliveryReport
    from astrid.pipeline.objects_stage import ObjectsStageReport

__all__ = ["FrameInput", "FrameReport", "RunReport", "frame_label"]


@dataclass
class FrameReport:
    """The fate of one science frame in a batch."""

    path: str  # the file as given, or "observation <id> (<name>)"
    # "done", "skipped" (already done, here or by another process), "duplicate" (earlier in
    # the batch), "failed", "superseded" (another process took the run over and its result
    # stands)
    status: str
    observation_id: int | None = None
    run_id: int | None = None
    n_candidates: int = 0
    failed_stage: str | None = None
    error: str | None = None
    stats: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    products_local: dict[str, str] = field(default_factory=dict)
    product_stem: str | None = None
    run_key: str | None = None
    frame_key: str | None = None  # "<science sha256>:<reference sha256>"


@dataclass
class RunReport:
    """Everything `Pipeline.run` did, frame by frame."""

    frames: list[FrameReport]
    candidates_csv: Path | None
    objects_csv: Path | None = None
    lightcurves_csv: Path | None = None
    objects: ObjectsStageReport | None = None
    alerts_dir: Path | None = None  # OUT/alerts: <alertId>.avro + <alertId>.astrid.json
    alerts: AlertsStageReport | None = None
    deliveries: DeliveryReport | None = None  # what the subscriptions were sent

    @property
    def failed(self) -> list[FrameReport]:
        """Frames that failed."""
        return [f for f in self.frames if f.status == "failed"]


#: A frame to process: a FITS file, or the id of an observation already registered (read
#: from the object store where it is kept, never copied or hashed again).
FrameInput: TypeAlias = str | os.PathLike[str] | int


def frame_label(frame: FrameInput) -> str:
    """A frame as reports name it: the file or URL as given, or ``observation <id>``."""
    return f"observation {frame}" if isinstance(frame, int) else os.fspath(frame)
