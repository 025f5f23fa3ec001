"""Each science frame's reference, chosen from those registered, when none is given.

`astrid run` without ``--reference`` reads each science frame's band and WCS and takes a
registered reference observation (a reference of an earlier run, or a stack registered by
``astrid coadd --register``) that is in the same band, did not fail, and covers at least
``MIN_OVERLAP`` of the frame's sky (`astrid.observations.validate.overlap_fraction`): the
newest registered of those taken before the science frame (a reference taken after it may
hold the very transient the frame shows, which would then not be found), else the newest
registered (``precedes`` False in the event), also when the frame has no time. A stack
precedes a frame when its latest input does (``MJD-END``, recorded as the observation's
``mjd_end``); a single exposure when its ``MJD-OBS`` does.
Frames are then run in groups, one `Pipeline.run` per reference, so every run records the
reference it used (and a ``ReferenceChosen`` event says why). A frame no reference covers
fails alone, at stage ``reference``, with the reason, unless a template can be fetched for
it (``fetch_reference``: `astrid run` passes one when ``ASTRID_TEMPLATE_SURVEY`` is set).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.wcs import WCS

from astrid.catalog import Catalog
from astrid.catalog.observations import ObservationRecord, usable_references
from astrid.errors import AstridError, IncompatibleImagesError
from astrid.observations.fits_reader import DEFAULT_MAX_PIXELS
from astrid.observations.image import Image
from astrid.observations.validate import overlap_fraction
from astrid.pipeline.alerts_stage import AlertsStageReport
from astrid.pipeline.delivery_stage import DeliveryReport
from astrid.pipeline.inputs import FrameSource, frame_url
from astrid.pipeline.run_reports import FrameInput, FrameReport, RunReport, frame_label

__all__ = ["MIN_OVERLAP", "ChosenReference", "choose_reference", "run_with_chosen_references"]

#: The least share of a science frame's sky its reference must cover.
MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class ChosenReference:
    """The reference chosen for a frame and the share of the frame's sky it covers."""

    record: ObservationRecord
    overlap: float
    precedes: bool | None  # taken before the science frame (None: either has no time)


def choose_reference(
    catalog: Catalog, image: Image, *, min_overlap: float = MIN_OVERLAP
) -> ChosenReference:
    """The usable reference in the image's band that covers ``min_overlap`` of it: the
    newest registered of those taken before the image, else the newest registered.

    Raises
    ------
    IncompatibleImagesError
        The image has no WCS, or no registered reference qualifies (the message names the
        image, its band and the best overlap found).
    """
    if image.wcs is None:
        raise IncompatibleImagesError(f"{image.label}: no celestial WCS to choose a reference")
    best = 0.0
    covering: list[ChosenReference] = []
    candidates = usable_references(catalog, filter=image.meta.filter)
    for record in candidates:  # newest registered first
        assert record.wcs_header is not None  # usable_references keeps those with one
        wcs = WCS(fits.Header.fromstring(record.wcs_header, sep="\n"))
        share = overlap_fraction(image.wcs, image.shape, wcs, record.shape)
        best = max(best, share)
        if share >= min_overlap:
            latest = record.mjd if record.mjd_end is None else record.mjd_end
            covering.append(ChosenReference(record, share, _precedes(latest, image.meta.mjd)))
            if covering[-1].precedes is True:
                return covering[-1]
    if covering:
        return covering[0]
    band = image.meta.filter or "(none)"
    found = f"best overlap {best:.0%}" if candidates else "none registered in that band"
    raise IncompatibleImagesError(
        f"{image.label}: no registered reference in band {band} covers {min_overlap:.0%} of it "
        f"({found}); give --reference, or register one (astrid coadd --register)",
        path=image.label,
        filter=image.meta.filter,
    )


def _read(frame: FrameInput, max_pixels: int) -> Image:
    if isinstance(frame, int):
        raise IncompatibleImagesError(f"observation {frame}: give its reference explicitly")
    url = frame_url(frame)
    source = FrameSource.file(frame) if url is None else FrameSource(label=url, url=url)
    return source.read(max_pixels=max_pixels)


def _precedes(reference_mjd: float | None, science_mjd: float | None) -> bool | None:
    if reference_mjd is None or science_mjd is None:
        return None
    if not (math.isfinite(reference_mjd) and math.isfinite(science_mjd)):
        return None
    return reference_mjd < science_mjd


def run_with_chosen_references(
    pipeline: Any,
    sciences: Sequence[FrameInput],
    out_dir: str | os.PathLike[str],
    *,
    fetch_reference: Callable[[Image], int] | None = None,
    **run_options: Any,
) -> RunReport:
    """`Pipeline.run` for each group of frames sharing a chosen reference; one report.

    ``pipeline`` is a `astrid.pipeline.runner.Pipeline`; ``run_options`` go to its ``run``.
    ``fetch_reference``, when given, is asked for a frame no registered reference covers:
    it returns the id of a reference observation it registered (a template from an
    archive), recorded by a ``ReferenceFetched`` event. Frames that cannot be read, or that
    no reference covers and none can be fetched for, are failed in the report (stage
    ``read`` or ``reference``) without a run.
    """
    catalog: Catalog = pipeline.catalog
    max_pixels = getattr(pipeline.config, "max_image_pixels", DEFAULT_MAX_PIXELS)
    groups: dict[int, list[FrameInput]] = {}
    unassigned: list[FrameReport] = []
    for science in sciences:
        label = frame_label(science)
        try:
            image = _read(science, max_pixels)
        except (AstridError, OSError) as e:
            unassigned.append(FrameReport(label, "failed", failed_stage="read", error=str(e)))
            continue
        try:
            chosen = choose_reference(catalog, image)
        except AstridError as e:
            try:
                if fetch_reference is None:
                    raise
                fetched = fetch_reference(image)
            except AstridError as error:
                reason = str(e) if error is e else f"{e}; no template either: {error}"
                failed = FrameReport(label, "failed", failed_stage="reference", error=reason)
                unassigned.append(failed)
                continue
            catalog.record_event("ReferenceFetched", {"path": label, "reference_id": fetched})
            groups.setdefault(fetched, []).append(science)
            continue
        catalog.record_event(
            "ReferenceChosen",
            {
                "path": label,
                "reference_id": chosen.record.id,
                "reference": chosen.record.name,
                "overlap": round(chosen.overlap, 4),
                "precedes": chosen.precedes,
            },
        )
        groups.setdefault(chosen.record.id, []).append(science)
    on_frame = run_options.get("on_frame")
    for report in unassigned:
        if on_frame is not None:
            on_frame(report)
    reports = [pipeline.run(ref, group, out_dir, **run_options) for ref, group in groups.items()]
    return _merged(reports, unassigned, sciences)


def _merged(
    reports: list[RunReport], unassigned: list[FrameReport], sciences: Sequence[FrameInput]
) -> RunReport:
    """One report: the frames in input order; the output files of the last run (they
    cover every run's frames); alerts and deliveries summed."""
    frames = [f for r in reports for f in r.frames] + unassigned
    order = {frame_label(s): k for k, s in enumerate(sciences)}
    frames.sort(key=lambda f: order.get(f.path, len(order)))
    if not reports:
        return RunReport(frames, None)
    last = reports[-1]
    alerts = [r.alerts for r in reports if r.alerts is not None]
    sent = [r.deliveries for r in reports if r.deliveries is not None]
    return RunReport(
        frames,
        last.candidates_csv,
        last.objects_csv,
        last.lightcurves_csv,
        last.objects,
        last.alerts_dir,
        _sum_alerts(alerts) if alerts else None,
        _sum_deliveries(sent) if sent else None,
    )


def _sum_alerts(reports: list[AlertsStageReport]) -> AlertsStageReport:
    total = AlertsStageReport(directory=Path(reports[-1].directory))
    for r in reports:
        total.written += r.written
        total.alert_ids += r.alert_ids
        total.not_published += r.not_published
        total.failed.update(r.failed)
        total.queued += r.queued
        total.schema_version = r.schema_version or total.schema_version
        total.seconds += r.seconds
        total.error = r.error or total.error
        total.rewrites = r.rewrites
    return total


def _sum_deliveries(reports: list[DeliveryReport]) -> DeliveryReport:
    total = DeliveryReport()
    for r in reports:
        total.delivered += r.delivered
        total.failed += r.failed
        total.dead += r.dead
        total.refused += r.refused
        total.errors.update(r.errors)
        total.seconds += r.seconds
    return total
