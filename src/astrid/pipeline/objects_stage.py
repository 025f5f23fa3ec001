"""The objects stage: light curves, features and context after association.

A run that `Catalog.finish_run` marked done has its objects stage ``pending``. This stage,
per run:

1. reads the run's stored difference image and records its footprint on the run;
2. measures every object inside that footprint (forced photometry, detected or not): the
   run's point of each object's light curve;
3. gives each object the run detected the points it lacks from every earlier-stored
   difference image that covers it (an object born today gets its history);
4. flags objects whose detections lie on a straight, constant-rate track across the
   frames of one night (`astrid.objects.find_tracks`), or that were seen once and are
   absent from another frame of the same night (`astrid.objects.vanished_within_night`),
   as moving (possible solar-system objects): they keep their detections but get no light
   curve or catalogue context;
5. recomputes the light-curve features of every object it touched, and the context
   (catalogue matches, host galaxy from the reference image, context class) of the
   objects the run detected (their positions may have moved);
6. marks the stage ``done`` (or ``failed`` with the reason; the run stays done).

Everything is idempotent: points are unique per (object, run) and replaced when
re-measured; a stage cut short leaves the run ``pending`` and the next pipeline start
does it again (`process_pending`). Frames may be processed in any order: whichever of
two runs comes second measures the objects of the other.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astrid.catalog import (
    Catalog,
    ObjectPosition,
    detections_in_runs,
    drop_undetected_points,
    light_curves,
    objects_by_id,
    objects_near,
    record_points,
    runs_covering,
    runs_with_objects_stage,
    set_objects_stage,
    update_summaries,
)
from astrid.catalog.runs import run as run_record
from astrid.errors import AstridError
from astrid.objects import find_tracks, light_curve_features, vanished_within_night
from astrid.pipeline.forced_points import ProductCache, footprint, measure_points, readable
from astrid.pipeline.object_context import ContextSources, context_summaries
from astrid.store import ObjectStore

__all__ = ["MOVING_CLASS", "NIGHT_DAYS", "ObjectsStage", "ObjectsStageReport", "summary_of_points"]

log = logging.getLogger(__name__)

#: The context class of objects flagged as moving (besides `astrid.context.CONTEXT_CLASSES`).
MOVING_CLASS = "moving_object"

#: Frames of one night: those within this many days of a run are searched for tracks.
NIGHT_DAYS = 0.5


@dataclass
class ObjectsStageReport:
    """What one call of the stage did."""

    runs_done: list[int] = field(default_factory=list)
    runs_failed: dict[int, str] = field(default_factory=dict)
    points: int = 0
    objects_updated: int = 0
    moving: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _RunDone:
    """What the stage learnt of one run, kept for the steps after the runs."""

    points: int
    circle: tuple[float, float, float]  # footprint: ra, dec, radius (degrees)
    mjd: float | None
    reference_id: int | None
    measured: frozenset[int]  # objects measured on its image


class ObjectsStage:
    """Light curves, features and context of the objects runs touch.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
        Where runs, objects and the stored difference images are.
    context : ContextSources, optional
        Catalogues and the reference-image host finder (default: none loaded; every
        object still gets a class, from the host alone).
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        context: ContextSources | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.context = context or ContextSources(catalogues=[], problems=[])
        self.products = ProductCache(store)

    def process_pending(self) -> ObjectsStageReport:
        """Run the stage for every done run whose objects stage is pending, oldest first."""
        return self.process(runs_with_objects_stage(self.catalog, "pending"))

    def process(self, run_ids: Iterable[int]) -> ObjectsStageReport:
        """Run the stage for these runs; a run that fails is recorded and the rest go on."""
        start = time.perf_counter()
        report = ObjectsStageReport(problems=list(self.context.problems))
        runs: dict[int, _RunDone] = {}
        for run_id in run_ids:
            try:
                runs[run_id] = self._run(run_id)
                report.points += runs[run_id].points
            except AstridError as e:
                log.warning("objects stage of run %d failed: %s", run_id, e)
                report.runs_failed[run_id] = str(e)
                try:
                    set_objects_stage(self.catalog, run_id, "failed", error=str(e))
                except AstridError as again:
                    log.error("run %d: objects stage left pending: %s", run_id, again)
        done = list(runs)
        if done:
            try:
                report.moving = self._flag_moving(runs)
                report.objects_updated = self._summarise(runs, report)
            except AstridError as e:
                for run_id in done:
                    report.runs_failed[run_id] = str(e)
                    set_objects_stage(self.catalog, run_id, "failed", error=str(e))
                done = []
        for run_id in done:
            set_objects_stage(self.catalog, run_id, "done")
        report.runs_done = done
        report.seconds = time.perf_counter() - start
        return report

    # -- one run ------------------------------------------------------------------------

    def _run(self, run_id: int) -> _RunDone:
        record = run_record(self.catalog, run_id)
        if record is None or record.status != "done":
            raise AstridError(f"run {run_id} is not a done run")
        product = self.products.get(run_id, record.products)
        circle = footprint(product)
        set_objects_stage(self.catalog, run_id, "pending", footprint=circle)
        objects = [o for o in objects_near(self.catalog, *circle) if not o.moving]
        detections = detections_in_runs(self.catalog, [run_id])
        points = measure_points(
            product,
            run_id=run_id,
            observation_id=record.science_id,
            objects=objects,
            detections=detections,
        )
        detected = sorted({obj for obj, _ in detections})
        points += self._history(run_id, detected)
        return _RunDone(
            points=record_points(self.catalog, points),
            circle=circle,
            mjd=product.mjd,
            reference_id=record.reference_id,
            measured=frozenset(o.id for o in objects),
        )

    def _history(self, run_id: int, object_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Points of the detected objects on earlier-stored images that lack them."""
        if not object_ids:
            return []
        have = {
            obj: {p.run_id for p in pts}
            for obj, pts in light_curves(self.catalog, object_ids).items()
        }
        records = objects_by_id(self.catalog, object_ids)
        wanted: dict[int, list[ObjectPosition]] = defaultdict(list)
        runs: dict[int, Any] = {}
        placed = [records[obj] for obj in object_ids if obj in records and not records[obj].moving]
        coverings = runs_covering(self.catalog, [(rec.ra, rec.dec) for rec in placed])
        for rec, covering_runs in zip(placed, coverings, strict=True):
            for covering in covering_runs:
                if covering.run_id == run_id or covering.run_id in have.get(rec.id, set()):
                    continue
                wanted[covering.run_id].append(ObjectPosition(rec.id, rec.ra, rec.dec))
                runs[covering.run_id] = covering
        if not wanted:
            return []
        detections = detections_in_runs(self.catalog, wanted, object_ids)
        points: list[dict[str, Any]] = []
        for other, objects in sorted(wanted.items()):
            product = readable(self.products, other, runs[other].products)
            if product is None:
                continue
            points += measure_points(
                product,
                run_id=other,
                observation_id=runs[other].science_id,
                objects=objects,
                detections=detections,
            )
        return points

    # -- after the runs -----------------------------------------------------------------

    def _summarise(self, runs: Mapping[int, _RunDone], report: ObjectsStageReport) -> int:
        """Features of every object the runs touched, context of those they detected.

        Problems of the context sources met on the way (an online service down) go to
        ``report.problems`` once each.
        """
        detected = {obj for obj, _ in detections_in_runs(self.catalog, runs)}
        touched = detected.union(*(r.measured for r in runs.values()))
        curves = light_curves(self.catalog, touched)
        summaries: dict[int, dict[str, Any]] = {}
        for obj, points in curves.items():
            summaries[obj] = summary_of_points(points)
        records = {i: r for i, r in objects_by_id(self.catalog, detected).items() if not r.moving}
        summaries_ctx = context_summaries(
            self.context,
            self.catalog,
            self.store,
            [records[i] for i in sorted(records)],
            peak_mags={i: summaries.get(i, {}).get("peak_mag") for i in records},
            reference_of=self._reference_of(runs, detected),
        )
        for obj, values in summaries_ctx.items():
            summaries.setdefault(obj, {}).update(values)
            for problem in values["context"]["catalogue_problems"]:
                if problem not in report.problems:
                    report.problems.append(problem)
        return update_summaries(self.catalog, summaries)

    def _reference_of(self, runs: Mapping[int, _RunDone], objects: set[int]) -> dict[int, int]:
        """object → the reference observation of the latest of these runs that detected it."""
        out: dict[int, int] = {}
        for obj, run_id in sorted(detections_in_runs(self.catalog, runs, objects)):
            reference_id = runs[run_id].reference_id
            if reference_id is not None:
                out[obj] = reference_id
        return out

    def _flag_moving(self, runs: Mapping[int, _RunDone]) -> int:
        """Flag the objects of these runs' nights that are possible solar-system objects.

        The detections searched: those of every done run whose footprint holds the centre
        of one of these runs' footprints and that was taken within `NIGHT_DAYS` of it.
        Flagged: objects whose detections all lie on a one-night constant-rate track
        (`astrid.objects.find_tracks`), and objects seen once that another frame of the
        same night shows empty at their place (`astrid.objects.vanished_within_night`).
        Moving objects keep their detections and lose their non-detection points (they
        have no light curve at a fixed position).
        """
        times: dict[int, float] = {}
        timed = [done for done in runs.values() if done.mjd is not None]
        coverings = runs_covering(self.catalog, [done.circle[:2] for done in timed])
        for done, covering_runs in zip(timed, coverings, strict=True):
            assert done.mjd is not None
            for covering in covering_runs:
                if covering.mjd is not None and abs(covering.mjd - done.mjd) <= NIGHT_DAYS:
                    times[covering.run_id] = covering.mjd
        rows = [
            c
            for run_id in sorted(times)
            for c in self.catalog.candidates(run_id=run_id)
            if c.get("object_id") is not None
        ]
        reasons = {obj: _TRACK_REASON for obj in _on_tracks(rows, times)}
        seen = {
            int(c["object_id"]): (times[int(c["run_id"])], c["flux"], c["flux_err"], c["run_id"])
            for c in rows
            if int(c["object_id"]) not in reasons and _point_like(c)
        }
        for obj in self._vanished(seen):
            reasons[obj] = _VANISHED_REASON
        flagged = 0
        for reason in (_TRACK_REASON, _VANISHED_REASON):
            ids = sorted(obj for obj, why in reasons.items() if why == reason)
            summary = {"moving": True, "context_class": MOVING_CLASS, "context_reason": reason}
            flagged += update_summaries(self.catalog, {obj: summary for obj in ids})
        drop_undetected_points(self.catalog, sorted(reasons))
        return flagged

    def _vanished(self, detections: Mapping[int, tuple[float, Any, Any, Any]]) -> list[int]:
        """The stationary objects seen once whose place is empty on a frame of that night.

        ``detections`` maps objects to one detection each: (MJD, flux, flux error, run).
        """
        records = objects_by_id(self.catalog, detections)
        out = []
        for obj, points in light_curves(self.catalog, records).items():
            if records[obj].moving or records[obj].n_detections != 1:
                continue
            mjd, flux, flux_err, run_id = detections[obj]
            others = [
                (p.mjd, p.flux, p.flux_err or np.nan)
                for p in points
                if p.mjd is not None and p.flux is not None and p.run_id != run_id
            ]
            detection = (mjd, np.nan if flux is None else flux, flux_err or np.nan)
            if others and vanished_within_night(detection, others, night_days=NIGHT_DAYS):
                out.append(obj)
        return out


_TRACK_REASON = (
    "moving: its detections lie on a straight, constant-rate track across frames of one "
    "night (a possible solar-system object)"
)
_VANISHED_REASON = (
    "moving: seen once, and absent from its place on another frame of the same night "
    "(a possible solar-system object, or a flare of a few hours)"
)


def _point_like(candidate: Mapping[str, Any]) -> bool:
    """Whether a detection is shaped like the PSF (not a cosmic ray, column or streak).

    A solar-system object seen once is a point source (trailing in one exposure is short);
    shapes that were not measured do not count against it.
    """
    fwhm, psf = candidate.get("fwhm"), candidate.get("psf_fwhm")
    elongation = candidate.get("elongation")
    if fwhm is not None and psf and not 0.5 <= float(fwhm) / float(psf) <= 2.0:
        return False
    return elongation is None or float(elongation) <= 2.0


def _on_tracks(rows: Sequence[Mapping[str, Any]], times: Mapping[int, float]) -> list[int]:
    """Objects whose detections (candidate rows of the night's runs) all lie on tracks."""
    if len(rows) < 3:
        return []
    tracks = find_tracks(
        np.array([times[int(c["run_id"])] for c in rows]),
        np.array([c["ra"] for c in rows], dtype=float),
        np.array([c["dec"] for c in rows], dtype=float),
        np.array([int(c["run_id"]) for c in rows]),
    )
    on_track: dict[int, list[bool]] = defaultdict(list)
    for c, track in zip(rows, tracks.track_id, strict=True):
        on_track[int(c["object_id"])].append(int(track) >= 0)
    return sorted(obj for obj, flags in on_track.items() if all(flags))


def summary_of_points(points: Sequence[Any]) -> dict[str, Any]:
    """The summary columns of an object from its light-curve points."""
    usable = [p for p in points if p.flux is not None and p.flux_err is not None]
    features = light_curve_features(
        np.array([p.mjd if p.mjd is not None else np.nan for p in usable], dtype=float),
        np.array([p.band or "" for p in usable], dtype=object),
        np.array([p.flux for p in usable], dtype=float),
        np.array([p.flux_err for p in usable], dtype=float),
        np.array([p.detected for p in usable], dtype=bool),
        np.array(
            [p.zero_point if p.zero_point is not None else np.nan for p in usable], dtype=float
        ),
    ).to_dict()
    return {
        "n_nondetections": int(features.get("n_nondetections", 0)),
        "peak_mjd": features.get("peak_mjd"),
        "peak_mag": features.get("peak_mag"),
        "peak_flux": features.get("peak_flux"),
        "peak_band": features.get("peak_band"),
        # per band in the features; the columns hold the peak band's (mag/day)
        "rise_rate": _in_band(features.get("rise_rate"), features.get("peak_band")),
        "decline_rate": _in_band(features.get("decline_rate"), features.get("peak_band")),
        "features": features,
    }


def _in_band(rates: Any, band: Any) -> float | None:
    if not isinstance(rates, dict) or band not in rates:
        return None
    value = rates[band]
    return float(value) if value is not None and np.isfinite(value) else None
