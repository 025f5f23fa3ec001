"""Broker mode: survey alert packets in, scored candidates, objects and light curves out.

`IngestStage.ingest` reads ZTF and Rubin packet files (`astrid.ingest.read_alert_file`)
in batches and, per batch:

1. re-scores every packet's stamps with AstrID's real/bogus and OOD model (the packet's
   S/N stands in for S_corr; its FWHM, when given, for the PSF's);
2. keeps the three stamps in the object store (63×63 float32 FITS, NaN where the packet
   had none or blanks; packed, as the pipeline keeps its cutouts);
3. registers each survey exposure the packets name, their own and their history's, as an
   observation and a done run (`astrid.catalog.ingested.exposure_runs`: no image behind
   them), appends the packets' detections to their exposure's run as candidates with their
   provenance (survey, source id, packet id, schema version, survey score) and associates
   them with objects (`astrid.catalog.ingested.append_candidates`: a detection already
   stored is skipped, so a file read twice changes nothing);
4. writes each new detection's object its light curve from the packet: the detection and
   the history (earlier detections, forced photometry, upper limits: a ZTF
   ``diffmaglim`` becomes a point with no flux and a 1σ error of a fifth of the limit's
   flux, so the 5σ limit reads back), fluxes in nJy with zero point 31.4 (so magnitudes
   are AB);
5. recomputes the features and catalogue context of the objects the batch's detections
   joined (no host from an image: there is none) and marks the runs' objects stage done.

`IngestStage.ingest` reads files; `IngestStage.ingest_items` takes packets from any source
(`astrid.ingest.kafka_source.KafkaAlertSource` for a Kafka topic), whose quiet moments end a
batch early and which is told after each stored batch (a stream commits its offsets then).

A packet that cannot be read is an `astrid.ingest.IngestProblem` in the report (file,
record, field) and the rest go on; a batch the catalog refuses stops the stage with
``error`` set (what was stored before stays).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from astrid import __version__
from astrid.alerts import AB_MAG_OF_ONE_NJY, stamp_fits
from astrid.catalog import (
    Catalog,
    light_curves,
    objects_by_id,
    record_points,
    set_objects_done,
    update_summaries,
)
from astrid.catalog.ingested import (
    Exposure,
    append_candidates,
    detected_pairs,
    exposure_runs,
    stored_sources,
)
from astrid.errors import AstridError
from astrid.ingest import IngestProblem, SurveyAlert, alert_paths, read_alert_file
from astrid.pipeline.object_context import ContextSources, context_summaries
from astrid.pipeline.objects_stage import summary_of_points
from astrid.pipeline.scoring import ScoringModel, add_realbogus_scores
from astrid.store import ObjectStore
from astrid.timing import Stopwatch

__all__ = ["IngestReport", "IngestStage"]

log = logging.getLogger(__name__)

#: Stamps are placed at the centre of the 63×63 canvas: the detection's pixel there.
_CENTRE = 31.0
#: The note of a packet whose difference stamp has no pixel: it is stored without rb/ood.
UNSCORED_NOTE = "not scored: the difference stamp has no pixel"
_ExposureKey = tuple[str, str]  # (survey, exposure)
_STAMP_KINDS = (("science", "science"), ("reference", "template"), ("difference", "difference"))


@dataclass
class IngestReport:
    """What one call did."""

    files: int = 0
    read: int = 0  # packets read
    stored: int = 0  # new candidates
    duplicates: int = 0  # packets whose detection was stored already
    points: int = 0  # light-curve points written
    objects: int = 0  # objects whose summary was recomputed
    run_ids: list[int] = field(default_factory=list)  # the exposure runs touched
    problems: list[IngestProblem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    seconds: float = 0.0
    error: str | None = None

    @property
    def per_second(self) -> float:
        """Packets read per second of the whole call."""
        return self.read / self.seconds if self.seconds > 0 else 0.0


class IngestStage:
    """Ingest survey alert packets into the catalog.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
        Where the candidates, objects and stamps go.
    model : ScoringModel, optional
        The real/bogus model to score with (None: stored unscored).
    context : ContextSources, optional
        Catalogues for the objects' context.
    batch : int
        Packets handled together.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        *,
        model: ScoringModel | None = None,
        context: ContextSources | None = None,
        batch: int = 2000,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.model = model
        self.context = context or ContextSources(catalogues=[], problems=[])
        self.batch = batch
        # (survey, exposure) -> (observation id, run id) registered in the current call
        self._registered: dict[_ExposureKey, tuple[int, int]] = {}

    def ingest(self, paths: Iterable[str | Path]) -> IngestReport:
        """Read, score, store and associate every packet of these files and folders."""
        files, problems = alert_paths(paths)
        report = IngestReport(files=len(files))
        report.problems.extend(problems)
        return self.ingest_items(_file_items(files), report=report)

    def ingest_items(
        self,
        items: Iterable[SurveyAlert | IngestProblem | None],
        *,
        report: IngestReport | None = None,
        after_batch: Callable[[], None] | None = None,
    ) -> IngestReport:
        """Ingest packets as a source yields them, a batch at a time.

        Parameters
        ----------
        items : iterable
            Packets, problems (recorded in the report) and None (a quiet moment in a
            stream: the packets held so far are ingested without waiting for a full batch).
        report : IngestReport, optional
            Added to (a new one by default).
        after_batch : callable, optional
            Called after each batch is in the catalog, and once more when the source is
            exhausted (a stream commits its offsets there).
        """
        start = time.perf_counter()
        report = report or IngestReport()
        self._registered = {}
        runs: set[int] = set()
        try:
            clock = Stopwatch(report.timings)
            for batch in _batches(_counted(items, report), self.batch):
                clock.lap("read")
                runs |= self._batch(batch, report)
                if after_batch is not None:
                    after_batch()
                clock.restart()
            if after_batch is not None:  # the source is done: all it gave is stored
                after_batch()
        except AstridError as e:
            log.error("ingest stopped: %s", e)
            report.error = str(e)
        report.run_ids = sorted(set(report.run_ids) | runs)
        report.seconds += time.perf_counter() - start
        return report

    # -- one batch ------------------------------------------------------------------------

    def _batch(self, alerts: list[SurveyAlert], report: IngestReport) -> set[int]:
        clock = Stopwatch(report.timings)
        alerts = self._new(alerts, report)
        if not alerts:
            return set()
        # The model (NumPy and onnxruntime, off the GIL) scores while this thread writes
        # the exposures and the stamps, which need no score.
        with ThreadPoolExecutor(max_workers=1) as pool:
            scoring = pool.submit(self._scores, alerts)
            ids = self._exposure_ids(alerts)
            clock.lap("exposures")
            rows = [self._row(alert) for alert in alerts]
            self._store_stamps(alerts, rows)
            clock.lap("stamps")
            scores = scoring.result()
            clock.lap("score wait")
        for k, row in enumerate(rows):
            if scores and not np.isfinite(scores["rb"][k]):
                row["notes"].append(UNSCORED_NOTE)
                continue
            for name, values in scores.items():
                row[name] = float(values[k])
            if scores and self.model is not None:
                row["model_version_id"] = self.model.version_id
        by_run: dict[int, list[dict[str, Any]]] = {}
        for alert, row in zip(alerts, rows, strict=True):
            by_run.setdefault(ids[(alert.survey, alert.exposure)][1], []).append(row)
        stored = append_candidates(self.catalog, by_run)
        report.stored += len(stored)
        report.duplicates += len(alerts) - len(stored)
        points: list[dict[str, Any]] = []
        for alert in alerts:
            run_id, candidate_id, object_id = stored.get(
                (alert.survey, alert.source_id), (0, 0, None)
            )
            if object_id is not None:
                points.extend(_points(alert, object_id, candidate_id, run_id, ids))
        clock.lap("candidates")
        report.points += record_points(self.catalog, self._keep(points))
        clock.lap("light curves")
        report.objects += self._summarise({obj for _, _, obj in stored.values() if obj})
        runs = {run_id for _, run_id in ids.values()}
        set_objects_done(self.catalog, runs)
        clock.lap("objects")
        return runs

    def _exposure_ids(self, alerts: Sequence[SurveyAlert]) -> dict[_ExposureKey, tuple[int, int]]:
        """(observation id, run id) of the packets' exposures and their histories'; those
        registered earlier in this call are not looked up again."""
        wanted = _exposures(alerts)
        missing = [e for e in wanted if (e.survey, e.exposure) not in self._registered]
        if missing:
            self._registered.update(exposure_runs(self.catalog, missing, code_version=__version__))
        return {(e.survey, e.exposure): self._registered[(e.survey, e.exposure)] for e in wanted}

    def _new(self, alerts: list[SurveyAlert], report: IngestReport) -> list[SurveyAlert]:
        """The packets whose detection is not stored yet (each once)."""
        stored: set[tuple[str, int]] = set()
        for survey in {a.survey for a in alerts}:
            ids = [a.source_id for a in alerts if a.survey == survey]
            stored |= {(survey, i) for i in stored_sources(self.catalog, survey, ids)}
        new: dict[tuple[str, int], SurveyAlert] = {}
        for alert in alerts:
            key = (alert.survey, alert.source_id)
            if key not in stored and key not in new:
                new[key] = alert
        report.duplicates += len(alerts) - len(new)
        return list(new.values())

    def _keep(self, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One point per (object, run), the best: a packet's own detection, then a history
        detection, then a non-detection; none replaces a stored detection with less."""
        best: dict[tuple[int, int], dict[str, Any]] = {}
        for point in points:
            key = (int(point["object_id"]), int(point["run_id"]))
            if key not in best or _rank(point) > _rank(best[key]):
                best[key] = point
        for pair in detected_pairs(self.catalog, {obj for obj, _ in best}):
            if pair in best and _rank(best[pair]) < 2:  # only a packet's own detection replaces
                del best[pair]
        return list(best.values())

    def _scores(self, alerts: Sequence[SurveyAlert]) -> dict[str, np.ndarray]:
        """The model's scores per packet; NaN for a packet with no difference pixel, which
        is not scored (there is nothing to judge it on)."""
        if self.model is None or not alerts:
            return {}
        usable = np.array([np.isfinite(a.stamps[2]).any() for a in alerts])
        if not usable.any():
            return {"rb": np.full(len(alerts), np.nan)}
        if not usable.all():
            alerts = [a for a, ok in zip(alerts, usable, strict=True) if ok]
        table = Table(
            {
                "sign": [-1 if a.is_negative else 1 for a in alerts],
                "scorr": [_snr(a) for a in alerts],
                "snr": [_snr(a) for a in alerts],
                "fwhm": [_nan(a.fwhm_px) for a in alerts],
                "psf_fwhm": [_nan(a.fwhm_px) for a in alerts],
            }
        )
        cutouts = np.stack([a.stamps for a in alerts]).astype(np.float32)
        scored = add_realbogus_scores(self.model, table, cutouts)
        out = {}
        for name in scored.colnames:
            if name not in table.colnames:
                out[name] = np.full(len(usable), np.nan)
                out[name][usable] = scored[name]
        return out

    def _store_stamps(self, alerts: Sequence[SurveyAlert], rows: list[dict[str, Any]]) -> None:
        """Each packet's stamps as FITS objects (one pack for the batch), keys in its row."""
        where: list[tuple[int, str]] = []
        data: list[bytes] = []
        for k, alert in enumerate(alerts):
            for j, (column, kind) in enumerate(_STAMP_KINDS):
                plane = alert.stamps[j]
                if np.isfinite(plane).any():
                    where.append((k, f"cutout_{column}_key"))
                    data.append(stamp_fits(plane, kind, None))
        for (k, name), key in zip(where, self.store.put_pack(data, suffix=".fits"), strict=True):
            rows[k][name] = key

    def _row(self, alert: SurveyAlert) -> dict[str, Any]:
        row: dict[str, Any] = {
            "x": _CENTRE,
            "y": _CENTRE,
            "ra": alert.ra,
            "dec": alert.dec,
            "sign": -1 if alert.is_negative else 1,
            "scorr": _snr(alert),
            "snr": alert.snr,
            "flux": alert.flux,
            "flux_err": alert.flux_err,
            "mag": alert.mag,
            "mag_err": alert.mag_err,
            "fwhm": alert.fwhm_px,
            "n_bad_pixels": int(np.count_nonzero(~np.isfinite(alert.stamps))),
            "survey": alert.survey,
            "source_id": alert.source_id,
            "packet_id": alert.packet_id[:64],
            "schema_version": alert.schema_version,
            "survey_score": alert.survey_score,
            "notes": list(alert.notes),
            "packet_file": alert.path,
        }
        return row

    # -- objects ----------------------------------------------------------------------------

    def _summarise(self, object_ids: set[int]) -> int:
        """Features and catalogue context of the objects a batch's candidates joined."""
        if not object_ids:
            return 0
        curves = light_curves(self.catalog, object_ids)
        summaries = {obj: summary_of_points(points) for obj, points in curves.items()}
        records = objects_by_id(self.catalog, object_ids)
        contexts = context_summaries(
            self.context,
            self.catalog,
            self.store,
            [records[i] for i in sorted(records)],
            peak_mags={i: summaries.get(i, {}).get("peak_mag") for i in records},
            reference_of={},
        )
        for obj, values in contexts.items():
            summaries.setdefault(obj, {}).update(values)
        return update_summaries(self.catalog, summaries)


def _file_items(files: Sequence[Path]) -> Iterator[SurveyAlert | IngestProblem]:
    for path in files:
        yield from read_alert_file(path)


def _counted(
    items: Iterable[SurveyAlert | IngestProblem | None], report: IngestReport
) -> Iterator[SurveyAlert | None]:
    """The packets and quiet moments of a source; its problems go into the report."""
    for item in items:
        if isinstance(item, IngestProblem):
            log.warning("%s: %s", item.path, item.message)
            report.problems.append(item)
            continue
        if item is not None:
            report.read += 1
        yield item


def _batches(items: Iterator[SurveyAlert | None], size: int) -> Iterator[list[SurveyAlert]]:
    """Batches of up to ``size`` packets; a quiet moment (None) ends one early."""
    batch: list[SurveyAlert] = []
    for item in items:
        if item is not None:
            batch.append(item)
        if batch and (item is None or len(batch) >= size):
            yield batch
            batch = []
    if batch:
        yield batch


def _exposures(alerts: Sequence[SurveyAlert]) -> list[Exposure]:
    """The exposures of the packets and of their histories, each once."""
    found: dict[tuple[str, str], Exposure] = {}
    for alert in alerts:
        found.setdefault(
            (alert.survey, alert.exposure),
            Exposure(alert.survey, alert.exposure, alert.mjd, alert.band, alert.path),
        )
        for point in alert.history:
            if point.exposure is not None:
                found.setdefault(
                    (alert.survey, point.exposure),
                    Exposure(alert.survey, point.exposure, point.mjd, point.band, alert.path),
                )
    return list(found.values())


def _points(
    alert: SurveyAlert,
    object_id: int,
    candidate_id: int,
    run_id: int,
    ids: dict[tuple[str, str], tuple[int, int]],
) -> list[dict[str, Any]]:
    """The light-curve points a packet gives its object: the detection and its history."""
    observation_id = ids[(alert.survey, alert.exposure)][0]
    out = [
        _point(object_id, run_id, observation_id, candidate_id, alert.mjd, alert.band)
        | {"flux": alert.flux, "flux_err": alert.flux_err, "detected": True}
    ]
    for p in alert.history:
        if p.exposure is None or p.exposure == alert.exposure:
            continue
        obs_id, hist_run = ids[(alert.survey, p.exposure)]
        flux, err = p.flux, p.flux_err
        if flux is None and p.limit_mag is not None:  # an upper limit: 5σ = the limit
            err = 10.0 ** (-0.4 * (p.limit_mag - AB_MAG_OF_ONE_NJY)) / 5.0
        out.append(
            _point(object_id, hist_run, obs_id, None, p.mjd, p.band)
            | {"flux": flux, "flux_err": err, "detected": p.detected}
        )
    return out


def _point(
    object_id: int,
    run_id: int,
    observation_id: int,
    candidate_id: int | None,
    mjd: float,
    band: str | None,
) -> dict[str, Any]:
    return {
        "object_id": object_id,
        "run_id": run_id,
        "observation_id": observation_id,
        "candidate_id": candidate_id,
        "mjd": mjd,
        "band": band,
        "x": _CENTRE,
        "y": _CENTRE,
        "zero_point": AB_MAG_OF_ONE_NJY,
    }


def _rank(point: dict[str, Any]) -> int:
    """How much a light-curve point says: 2 a packet's detection, 1 a history detection."""
    if not point["detected"]:
        return 0
    return 2 if point["candidate_id"] is not None else 1


def _snr(alert: SurveyAlert) -> float:
    """The packet's S/N, else |flux| / error, else 0 (always finite: the model needs it)."""
    if alert.snr is not None and math.isfinite(alert.snr):
        return float(alert.snr)
    if alert.flux is not None and alert.flux_err:
        with np.errstate(all="ignore"):
            snr = abs(float(alert.flux) / float(alert.flux_err))
        if math.isfinite(snr):
            return snr
    return 0.0


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
