"""The alerts stage: Rubin-schema packets of new detections, written under ``OUT/alerts/``.

After the objects stage (so light curves and context exist), for the runs of an output
folder whose objects stage is done:

1. every detection (a candidate with an object) that has no alert yet and passes the
   publication rule (`astrid.alerts.PublicationRule`: by default ``rb`` above the
   operating threshold of the model that scored it) gets its alert id in the catalog
   (`astrid.catalog.alerts.create_alerts`; unique per run and candidate number);
2. each alert not yet sent is built from the catalog's records (the detection, its
   object, the object's light curve and earlier detections, the stored stamps) by
   `astrid.alerts.build_alert`, and written as ``OUT/alerts/<alertId>.avro`` (an Avro
   container file of one Rubin record, schema embedded) beside
   ``OUT/alerts/<alertId>.astrid.json`` (AstrID's sidecar); files are written whole and
   renamed into place;
3. each packet and sidecar is also kept in the object store (packed), its filter fields
   (`astrid.alerts.alert_fields`) are tested against every active subscription's filter
   and the matches are queued for delivery (`astrid.catalog.deliveries`; the sender is
   `astrid.pipeline.delivery_stage`), and the alerts are marked sent with their store keys
   and fields (with the plain-language summary, `astrid.alerts.plain_summary`, which the
   sidecar carries too; queued first, so a crash in between re-queues the same pairs, which the
   catalog records once). An alert that cannot be built (no MJD, a stamp of
   the wrong shape) is recorded with its reason and tried again next time; the others go
   on. A stamp whose key is missing or whose stored file cannot be read is left out of the
   packet (its field null, listed in the sidecar's ``missing_cutouts``).

A detection is sent once: a repeated run finds its alerts sent and writes nothing. A
crash between writing a file and marking it sent makes the next call write the same
alert again, under the same name (at least once to the folder, once in the catalog).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from astrid.alerts import (
    AlertPacket,
    AlertSchema,
    AstridValues,
    Cutouts,
    Detection,
    ForcedMeasurement,
    ObjectSummary,
    PublicationRule,
    alert_fields,
    build_alert,
    rubin_schema,
)
from astrid.alerts.routing import Router
from astrid.alerts.summary import plain_summary
from astrid.alerts.summary_rewrite import RewriteBudget, Rewriter, rewrite_summary
from astrid.catalog import (
    CandidateRecord,
    Catalog,
    LightCurvePointRecord,
    ObjectRecord,
    candidates_by_id,
    light_curves,
    list_models,
    objects_by_id,
)
from astrid.catalog.alerts import (
    AlertRecord,
    SentAlert,
    alerts_to_send,
    create_alerts,
    detections_without_alert,
    mark_alert_failed,
    mark_alerts_sent,
)
from astrid.catalog.deliveries import queue_deliveries
from astrid.catalog.runs import run as run_record
from astrid.catalog.subscriptions import list_subscriptions
from astrid.difference.cutouts import CutoutWcsCards, wcs_from_header
from astrid.errors import AlertError, AstridError
from astrid.ingest.stamps import decode_stamp
from astrid.store import PACK_BYTES, ObjectStore

__all__ = ["ALERTS_DIRECTORY", "AlertsStage", "AlertsStageReport"]

log = logging.getLogger(__name__)

#: The folder of an output directory that gets the packets.
ALERTS_DIRECTORY = "alerts"


@dataclass
class AlertsStageReport:
    """What one call of the stage did."""

    directory: Path
    written: list[Path] = field(default_factory=list)  # the packet files (.avro)
    alert_ids: list[int] = field(default_factory=list)
    not_published: int = 0  # new detections that failed the publication rule
    failed: dict[int, str] = field(default_factory=dict)  # alert id → why
    queued: int = 0  # (alert, subscription) deliveries queued
    schema_version: str = ""
    rewrites: RewriteBudget = field(default_factory=RewriteBudget)  # summary rewrites, if any
    seconds: float = 0.0
    error: str | None = None  # why the stage stopped (the catalog or the folder failing)


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class AlertsStage:
    """Build and write the alerts of runs' new detections.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
        Where the detections, objects, light curves and stamps are.
    rule : PublicationRule, optional
        Which detections are published (default: `PublicationRule()`, the operating point).
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        rule: PublicationRule | None = None,
        *,
        rewriter: Rewriter | None = None,
        rewrite_budget_s: float = 10.0,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.rule = rule or PublicationRule()
        self.rewriter = rewriter
        self.rewrite_budget_s = rewrite_budget_s

    def publish(self, run_ids: Iterable[int], out: Path) -> AlertsStageReport:
        """Publish the new detections of these runs under ``out/alerts/``.

        Never raises for a failure of its own: an alert that cannot be built is recorded
        in ``failed``, and a catalog or file-system failure stops the stage with
        ``error`` set (what was written before it is marked sent or written again
        next time).
        """
        start = time.perf_counter()
        report = AlertsStageReport(directory=out / ALERTS_DIRECTORY)
        report.rewrites.seconds = self.rewrite_budget_s
        try:
            self._publish(sorted(set(run_ids)), report)
        except (AstridError, OSError) as e:
            log.error("alerts stage stopped: %s", e)
            report.error = str(e)
        report.seconds = time.perf_counter() - start
        return report

    def _publish(self, runs: list[int], report: AlertsStageReport) -> None:
        schema = rubin_schema()
        report.schema_version = schema.label
        report.directory.mkdir(parents=True, exist_ok=True)
        models = {m.id: m for m in list_models(self.catalog)}
        new = candidates_by_id(self.catalog, detections_without_alert(self.catalog, runs))
        passing = [
            c.id
            for c in new.values()
            if self.rule.passes(
                c.rb, models[c.model_version_id].card if c.model_version_id in models else None
            )
        ]
        report.not_published = len(new) - len(passing)
        create_alerts(self.catalog, passing)
        pending = alerts_to_send(self.catalog, runs)
        if pending:
            labels = {i: f"{m.name} v{m.version}" for i, m in models.items()}
            sources = _Sources(self.catalog, self.store, schema, labels)
            router = Router(list_subscriptions(self.catalog, active_only=True))
            sources.prefetch(pending)
            sent: list[SentAlert] = []
            built: list[_Built] = []  # kept in the store a pack at a time
            size = 0
            for alert in pending:
                try:
                    packet = sources.packet(alert)
                    avro = packet.avro_bytes(schema)
                except AlertError as e:
                    log.warning("alert %d not built: %s", alert.id, e)
                    report.failed[alert.id] = str(e)
                    mark_alert_failed(self.catalog, alert.id, error=str(e))
                    continue
                fields = alert_fields(packet.record, packet.sidecar)
                packet.sidecar["summary"] = plain_summary(fields)
                if self.rewriter is not None:
                    rewrite = rewrite_summary(
                        self.rewriter, packet.sidecar["summary"], fields, report.rewrites
                    )
                    if rewrite is not None:
                        packet.sidecar["summary_rewritten"] = rewrite
                sidecar = packet.sidecar_json()
                path = report.directory / f"{alert.id}.avro"
                _write(path, avro)
                _write(path.with_suffix(".astrid.json"), sidecar)
                fields["summary"] = packet.sidecar["summary"]
                built.append(_Built(alert.id, avro, sidecar, fields))
                size += len(avro) + len(sidecar)
                report.written.append(path)
                report.alert_ids.append(alert.id)
                if size >= PACK_BYTES:
                    sent += self._keep(built)
                    built, size = [], 0
            sent += self._keep(built)
            report.queued = queue_deliveries(
                self.catalog, router.matches((s.alert_id, s.fields) for s in sent)
            )
            mark_alerts_sent(self.catalog, sent, schema_version=schema.label)
        if report.alert_ids:
            self.catalog.record_event(
                "AlertsPublished",
                {
                    "alert_ids": report.alert_ids,
                    "directory": str(report.directory),
                    "schema_version": schema.label,
                },
            )

    def _keep(self, built: Sequence[_Built]) -> list[SentAlert]:
        """Packets and sidecars into the store, as two packs (one write each, not two per
        alert)."""
        avro_keys = self.store.put_pack([b.avro for b in built], suffix=".avro")
        sidecar_keys = self.store.put_pack([b.sidecar for b in built], suffix=".json")
        return [
            SentAlert(alert_id=b.alert_id, avro_key=a, sidecar_key=j, fields=b.fields)
            for b, a, j in zip(built, avro_keys, sidecar_keys, strict=True)
        ]


class _Built(NamedTuple):
    """One alert's packet and sidecar, built and written, not yet in the store."""

    alert_id: int
    avro: bytes
    sidecar: bytes
    fields: dict[str, Any]


class _Sources:
    """The catalog and store records the alerts of one call are built from, read once."""

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        schema: AlertSchema,
        labels: Mapping[int, str],
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.schema = schema
        self.labels = labels
        self._curves: dict[int, list[LightCurvePointRecord]] = {}
        self._objects: dict[int, ObjectRecord] = {}
        self._candidates: dict[int, CandidateRecord] = {}
        self._observations: dict[int, dict[str, Any]] = {}
        self._wcs: dict[int, CutoutWcsCards | None] = {}
        self._processed: dict[int, datetime] = {}

    def prefetch(self, alerts: Sequence[AlertRecord]) -> None:
        """Read the records these alerts are built from in a few queries: their detections,
        objects, light curves, earlier detections and observations."""
        self._load_candidates(a.candidate_id for a in alerts if a.candidate_id is not None)
        objects = {c.object_id for c in self._candidates.values() if c.object_id is not None}
        objects -= set(self._objects)
        if objects:
            self._objects.update(objects_by_id(self.catalog, objects))
            self._curves.update(light_curves(self.catalog, objects))
        self._load_candidates(
            p.candidate_id
            for curve in self._curves.values()
            for p in curve
            if p.detected and p.candidate_id is not None
        )
        wanted = {c.observation_id for c in self._candidates.values()} - set(self._observations)
        if wanted:
            for obs in self.catalog.observations(ids=sorted(wanted)):
                self._observations[obs["id"]] = obs

    def packet(self, alert: AlertRecord) -> AlertPacket:
        """The packet of one alert, from the current state of its detection and object."""
        trigger = self._candidate(alert)
        obj = self._object(trigger)
        curve = self._curves[obj.id]
        detected = [p.candidate_id for p in curve if p.detected and p.candidate_id is not None]
        self._load_candidates(detected)
        detections = [self._detection(self._candidates[i], curve) for i in detected]
        if trigger.id not in detected:
            detections.append(self._detection(trigger, curve))
        forced = [self._forced(p, obj) for p in curve]
        return build_alert(
            self.schema,
            alert_id=alert.id,
            detection=next(d for d in detections if d.id == trigger.id),
            obj=ObjectSummary(id=obj.id, name=obj.name, ra=obj.ra, dec=obj.dec),
            detections=detections,
            forced=forced,
            cutouts=Cutouts(
                science=self._stamp(trigger, "science"),
                template=self._stamp(trigger, "reference"),
                difference=self._stamp(trigger, "difference"),
                wcs=self._wcs_of(trigger.observation_id),
            ),
            values=AstridValues(
                rb=trigger.rb,
                ood=trigger.ood,
                ood_components={
                    "msp": trigger.ood_msp,
                    "energy": trigger.ood_energy,
                    "mahalanobis": trigger.ood_mahalanobis,
                },
                model_version=self._label(trigger),
                context_class=obj.context_class,
                context=obj.context,
                host={
                    "name": obj.host_name,
                    "sep_arcsec": obj.host_sep_arcsec,
                    "dlr": obj.host_dlr,
                    "distance_mpc": obj.host_distance_mpc,
                },
            ),
        )

    def _candidate(self, alert: AlertRecord) -> CandidateRecord:
        if alert.candidate_id is None:
            raise AlertError(
                f"alert {alert.id}: the candidate of run {alert.run_id} number "
                f"{alert.candidate_number} no longer exists (its run was redone)",
                alert_id=alert.id,
            )
        self._load_candidates([alert.candidate_id])
        found = self._candidates.get(alert.candidate_id)
        if found is None or found.object_id is None:
            raise AlertError(
                f"alert {alert.id}: candidate {alert.candidate_id} is gone or has no object",
                alert_id=alert.id,
            )
        return found

    def _object(self, candidate: CandidateRecord) -> ObjectRecord:
        assert candidate.object_id is not None
        if candidate.object_id not in self._objects:
            found = objects_by_id(self.catalog, [candidate.object_id])
            if candidate.object_id not in found:
                raise AlertError(
                    f"candidate {candidate.id}: object {candidate.object_id} does not exist",
                    candidate_id=candidate.id,
                )
            self._objects.update(found)
            self._curves.update(light_curves(self.catalog, [candidate.object_id]))
        return self._objects[candidate.object_id]

    def _load_candidates(self, ids: Iterable[int]) -> None:
        wanted = [i for i in ids if i not in self._candidates]
        if wanted:
            self._candidates.update(candidates_by_id(self.catalog, wanted))

    def _observation(self, observation_id: int) -> dict[str, Any]:
        if observation_id not in self._observations:
            for obs in self.catalog.observations(ids=[observation_id]):
                self._observations[obs["id"]] = obs
        return self._observations.get(observation_id, {})

    def _wcs_of(self, observation_id: int) -> CutoutWcsCards | None:
        if observation_id not in self._wcs:
            wcs = wcs_from_header(self._observation(observation_id).get("wcs_header"))
            self._wcs[observation_id] = None if wcs is None else CutoutWcsCards(wcs)
        return self._wcs[observation_id]

    def _processed_at(self, run_id: int) -> datetime:
        """When the run finished (its values were produced)."""
        if run_id not in self._processed:
            found = run_record(self.catalog, run_id)
            if found is None or found.finished_at is None:
                raise AlertError(f"run {run_id} is not finished", run_id=run_id)
            self._processed[run_id] = found.finished_at
        return self._processed[run_id]

    def _label(self, candidate: CandidateRecord) -> str | None:
        return (
            None
            if candidate.model_version_id is None
            else self.labels.get(candidate.model_version_id)
        )

    def _detection(
        self, candidate: CandidateRecord, curve: list[LightCurvePointRecord]
    ) -> Detection:
        point = next((p for p in curve if p.run_id == candidate.run_id), None)
        assert candidate.object_id is not None
        return Detection(
            id=candidate.id,
            object_id=candidate.object_id,
            visit=candidate.observation_id,
            mjd=candidate.mjd,
            band=candidate.filter,
            exposure_time=self._observation(candidate.observation_id).get("exptime"),
            ra=candidate.ra,
            dec=candidate.dec,
            x=candidate.x,
            y=candidate.y,
            flux=candidate.flux,
            flux_err=candidate.flux_err,
            snr=candidate.snr,
            sign=candidate.sign,
            n_bad_pixels=candidate.n_bad_pixels,
            zero_point=None if point is None else point.zero_point,
            rb=candidate.rb,
            model_version=self._label(candidate),
            processed=self._processed_at(candidate.run_id),
        )

    def _forced(self, point: LightCurvePointRecord, obj: ObjectRecord) -> ForcedMeasurement:
        return ForcedMeasurement(
            id=point.id,
            object_id=obj.id,
            visit=point.observation_id,
            mjd=point.mjd,
            band=point.band,
            ra=obj.ra,
            dec=obj.dec,
            flux=point.flux,
            flux_err=point.flux_err,
            zero_point=point.zero_point,
            processed=self._processed_at(point.run_id),
        )

    def _stamp(self, candidate: CandidateRecord, kind: str) -> np.ndarray | None:
        """A stored stamp's pixels, or None when it has none or it cannot be read."""
        key = candidate.cutout_key(kind)
        if key is None:
            return None
        try:
            pixels, _ = decode_stamp(self.store.get_bytes(key), what=f"{kind} stamp {key}")
            return pixels
        except (AstridError, OSError, ValueError) as e:
            log.warning("candidate %d: %s stamp %s unreadable: %s", candidate.id, kind, key, e)
            return None
