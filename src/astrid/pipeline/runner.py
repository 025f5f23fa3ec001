"""Run the pipeline over a batch of science frames against one reference.

The runner owns the I/O around the pure stages: it hashes and registers the input files
(observations already registered, such as uploads, are read from the object store as they
are: `astrid.pipeline.inputs`), derives each run's idempotency key (input hashes + master
calibration file hashes + config digest + code version), skips runs already done, runs
the frames in child processes, each frame in its own (`astrid.pipeline.frame_process`;
inline for one frame unless isolation is asked for), and writes each frame's candidates,
cutouts and products to the catalog and the object store in one transaction per frame.
A frame that fails is recorded (stage and message) and the others go on, a frame whose
process dies (a segfault in a C extension) included; nothing already stored is touched by
a failure.

Runs are ``queued`` when admitted and ``running`` once a worker begins them, owned by
this process (`astrid.pipeline.recovery`): a later start marks the runs of a process that
died failed ("interrupted") and removes its stale temporary objects, and the next run of
those frames retries them in place. ``candidates.csv`` holds the candidates of every run
whose products went to the output folder (`output_index.OutputIndex`), the latest run of each frame.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astrid import __version__
from astrid.catalog import Catalog
from astrid.catalog.claims import DEFAULT_LEASE_S
from astrid.difference.cutouts import cutout_fits
from astrid.errors import AstridError, ClaimLostError, InvalidImageError
from astrid.pipeline.candidates_csv import write_candidates_csv
from astrid.pipeline.claiming import RunClaims, Wanted
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.dask_frames import DaskFrames
from astrid.pipeline.frame import FrameOutcome, process_frame, unet_detector
from astrid.pipeline.frame_process import FrameFunction, FrameProcesses, FrameTask
from astrid.pipeline.inputs import (
    AdmittedFrame,
    FrameSource,
    admit_frame,
    hash_masters,
    stored_observation,
)
from astrid.pipeline.object_context import ContextSources
from astrid.pipeline.object_outputs import write_object_tables
from astrid.pipeline.objects_stage import ObjectsStage
from astrid.pipeline.output_index import OutputIndex
from astrid.pipeline.recovery import DEFAULT_STALE_TEMP_SECONDS, current_owner, recover
from astrid.pipeline.reference_cache import persistent_folder, prune
from astrid.pipeline.run_reports import FrameInput, FrameReport, RunReport, frame_label
from astrid.pipeline.scoring import ScoringModel, resolve_model
from astrid.store import ObjectStore

if TYPE_CHECKING:  # imported when used: frame workers import this module, not the alerts
    from astrid.alerts import PublicationRule
    from astrid.alerts.summary_rewrite import Rewriter
    from astrid.pipeline.alerts_stage import AlertsStage
    from astrid.pipeline.delivery_stage import DeliveryStage

__all__ = ["FrameInput", "FrameReport", "Pipeline", "RunReport"]

log = logging.getLogger(__name__)


class Pipeline:
    """Batch runner over the catalog and the object store.

    Parameters
    ----------
    catalog : Catalog
        Where observations, runs, candidates and events go.
    store : ObjectStore
        Where input files, products and cutouts go (content-addressed).
    config : PipelineConfig
        Science settings.
    workers : int
        Processes over science frames (0 = number of cores); one frame always runs inline.
    score : bool
        Score candidates with the real/bogus model (the ML stage).
    model_version : int, optional
        Registered ``realbogus`` version to score with (default: the active one; the
        shipped model is registered as version 1 on a catalog that has none).
    isolate : bool
        Run every frame in a child process of its own, even one frame or with one worker,
        so a native crash fails that frame and not the caller (the service's worker). With
        more than one frame and worker, frames always run isolated.
    frame_function : callable
        What a frame runs (default `astrid.pipeline.frame.process_frame`); a module-level
        function with its signature, so child processes can import it. A fault-injection
        point for tests.
    recover_on_start : bool
        Each `run` first recovers what dead processes left (`astrid.pipeline.recovery`):
        their runs are marked interrupted, the store's stale temporaries removed. The
        service does this once when it starts, not for every job.
    stale_temp_seconds : float
        Temporary objects in the store older than this are taken to be a dead writer's.
    context : ContextSources, optional
        Catalogues and host finder of the objects stage.
    publish_alerts : bool
        After the objects stage, write the alerts of new detections that pass
        ``alert_rule`` under ``OUT/alerts/`` (`astrid.pipeline.alerts_stage`).
    alert_rule : PublicationRule, optional
        Which detections are published (default: ``rb`` above the model's operating point).
    delivery_budget_s : float
        After publishing, send the alerts that matched subscriptions for at most about this
        long (`astrid.pipeline.delivery_stage`; 0: leave them to ``astrid alerts
        deliver``). What is not sent in time stays queued.
    summary_rewriter : callable, optional
        Rewrites each alert's plain-language summary (`astrid.alerts.summary_rewrite`;
        kept beside it when the facts check passes).
    lease_s, poll_s : float
        Each run is claimed before it is computed (`astrid.catalog.claims`) for ``lease_s``
        seconds, renewed by a heartbeat (`astrid.pipeline.claiming`); a run another
        process holds is not computed again but polled every ``poll_s`` seconds until it is
        done (reported as skipped) or its claim lapses (then this process takes it over).
    scheduler : str, optional
        The address of a Dask distributed scheduler: frames run on its workers, which read
        the stored frames and put their products into the store (`astrid.pipeline.
        dask_frames`); None runs them here (inline or in local processes).
    reference_cache : str or Path, optional
        A folder where reference preparations are kept between runs
        (`astrid.pipeline.reference_cache`; `astrid run` uses ``DATA_DIR/cache/
        prepared``), pruned to ``reference_cache_bytes`` after each batch. None (or a
        budget of 0): a batch's processes share the preparation through a folder of its
        own, removed at its end.

    The model is not part of a run's key: a new model does not redo the differencing;
    ``astrid rescore`` scores stored candidates with it.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        config: PipelineConfig = PipelineConfig(),
        *,
        workers: int = 0,
        score: bool = True,
        model_version: int | None = None,
        isolate: bool = False,
        frame_function: FrameFunction = process_frame,
        recover_on_start: bool = True,
        stale_temp_seconds: float = DEFAULT_STALE_TEMP_SECONDS,
        context: ContextSources | None = None,
        publish_alerts: bool = True,
        alert_rule: PublicationRule | None = None,
        delivery_budget_s: float = 30.0,
        summary_rewriter: Rewriter | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = 1.0,
        scheduler: str | None = None,
        reference_cache: str | Path | None = None,
        reference_cache_bytes: int = 4 << 30,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.config = config
        self.workers = workers or (os.cpu_count() or 1)
        self.score = score
        self.model_version = model_version
        self.isolate = isolate
        self.frame_function = frame_function
        self.recover_on_start = recover_on_start
        self.stale_temp_seconds = stale_temp_seconds
        self._model: ScoringModel | None = None
        self._owner = current_owner()
        self._claims = RunClaims(catalog, self._owner, lease_s, poll_s)
        self.scheduler = scheduler or None
        self.reference_cache = (
            None
            if reference_cache is None or reference_cache_bytes <= 0
            else persistent_folder(reference_cache)
        )
        self.reference_cache_bytes = reference_cache_bytes
        self._cluster: DaskFrames | None = None
        self.objects = ObjectsStage(catalog, store, context)
        if self.reference_cache is not None and self.objects.context.kept is None:
            # the references' sources (hosts, bright stars) are kept beside their preparations
            self.objects.context.kept = Path(self.reference_cache)
        self.alerts: AlertsStage | None = None
        self.deliveries: DeliveryStage | None = None
        self.delivery_budget_s = delivery_budget_s
        if publish_alerts:
            from astrid.pipeline.alerts_stage import AlertsStage
            from astrid.pipeline.delivery_stage import DeliveryStage

            self.alerts = AlertsStage(catalog, store, alert_rule, rewriter=summary_rewriter)
            if delivery_budget_s > 0:
                self.deliveries = DeliveryStage(catalog, store)

    def run(
        self,
        reference: FrameInput,
        sciences: Sequence[FrameInput],
        out_dir: str | os.PathLike[str],
        *,
        on_stage: Callable[[str, str], None] | None = None,
        on_frame: Callable[[FrameReport], None] | None = None,
        calibration: Mapping[str, str | os.PathLike[str]] | None = None,
    ) -> RunReport:
        """Process every science frame against the reference.

        Parameters
        ----------
        reference : path or int
            Reference (template) FITS file, or the id of a registered observation.
        sciences : sequence of path or int
            Science FITS files (hashed, read and registered here), or ids of registered
            observations (processed from the object store as they are: an uploaded file
            is not copied, hashed or registered again). Run keys come from the content
            hashes either way, so a file and its registered observation share their runs.
        out_dir : path
            Gets ``difference/*.fits`` and ``candidates.csv``: the candidates of every run
            whose products went there, this call's and earlier ones' (the latest run of
            each science/reference pair, once); ``objects.csv``, ``lightcurves.csv`` and
            ``alerts/`` (the packets of new detections) for those runs.
        on_stage : callable, optional
            ``on_stage(frame_path, stage)`` as stages start (from child processes too).
        on_frame : callable, optional
            Called with each frame's report as it finishes.
        calibration : mapping of str to path, optional
            Master files by kind (``"bias"``, ``"dark"``, ``"flat"``; see
            :mod:`astrid.preprocess.master_files`) applied to every science frame, not to
            the reference. Their sha256 enter each run's key and config.

        Raises
        ------
        InvalidImageError
            If the reference or a master file cannot be read (nothing is processed then).
        AstridError
            If the reference is an observation id that is not registered with a stored file.
        ConfigurationError
            If a calibration kind is not bias, dark or flat.
        ModelError
            If the model to score with is missing or unusable (nothing is processed then).
        """
        if self.scheduler is None:
            return self._run(reference, sciences, out_dir, on_stage, on_frame, calibration)
        with DaskFrames.connect(self.scheduler, self.store, self.frame_function) as cluster:
            self._cluster = cluster
            try:
                return self._run(reference, sciences, out_dir, on_stage, on_frame, calibration)
            finally:
                self._cluster = None

    def _run(
        self,
        reference: FrameInput,
        sciences: Sequence[FrameInput],
        out_dir: str | os.PathLike[str],
        on_stage: Callable[[str, str], None] | None,
        on_frame: Callable[[FrameReport], None] | None,
        calibration: Mapping[str, str | os.PathLike[str]] | None,
    ) -> RunReport:
        if self.recover_on_start:
            recover(self.catalog, self.store, stale_temp_seconds=self.stale_temp_seconds)
        if self.score and self._model is None:
            self._model = resolve_model(self.catalog, self.store, version=self.model_version)
        if self.config.subtract.detector == "unet":
            unet_detector()  # a missing or broken U-Net stops the batch here, not per frame
        masters = hash_masters(calibration)
        master_paths = {kind: path for kind, (path, _) in masters.items()}
        run_config = self.config.as_dict()
        key_suffix = ""
        if masters:
            run_config["calibration"] = {
                kind: {"path": path, "sha256": sha} for kind, (path, sha) in masters.items()
            }
            key_suffix = ":" + ",".join(f"{kind}={sha}" for kind, (_, sha) in masters.items())
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        ref = self._reference(reference)
        config_digest = self.config.digest()

        reports: list[FrameReport] = []
        pending: list[tuple[FrameReport, FrameSource]] = []
        waiting: list[Wanted] = []
        seen: dict[str, FrameReport] = {}
        for science in sciences:
            report = FrameReport(path=frame_label(science), status="pending")
            reports.append(report)
            frame = self._science(science, report)
            if frame is None:
                if on_frame:
                    on_frame(report)
                continue
            report.path = frame.source.label
            report.frame_key = f"{frame.sha256}:{ref.sha256}"
            key = hashlib.sha256(
                f"{frame.sha256}:{ref.sha256}:{config_digest}:{__version__}{key_suffix}".encode()
            ).hexdigest()
            if key in seen:
                # The same content twice in one batch: one run, reported once.
                report.status, report.run_id = "duplicate", seen[key].run_id
                if on_frame:
                    on_frame(report)
                continue
            seen[key] = report
            report.run_key = key
            report.product_stem = f"{frame.name}.{key[:8]}"
            wanted = Wanted(report, frame.source, key, frame.observation_id)
            if self._claims.claim(wanted, ref.observation_id, run_config):
                pending.append((report, frame.source))
            elif report.status == "waiting":
                waiting.append(wanted)
            elif on_frame:
                on_frame(report)

        unfinished = {report.run_id: report for report, _ in pending}
        try:
            with self._claims.heartbeat():
                while pending or waiting:
                    frames = self._execute(pending, ref, out, on_stage, master_paths)
                    for report, outcome in frames:
                        self._record(report, outcome)
                        unfinished.pop(report.run_id, None)
                        self._claims.release(report.run_id)
                        if on_frame:
                            on_frame(report)
                    pending = self._claims.await_free(
                        waiting, ref.observation_id, run_config, on_frame
                    )
                    unfinished.update({report.run_id: report for report, _ in pending})
        except BaseException as e:
            # A run must not stay queued or running behind a caller that goes on.
            for run_id in unfinished:
                assert run_id is not None
                fence = self._claims.fence(run_id)
                self._claims.release(run_id)
                try:
                    self.catalog.fail_run(
                        run_id,
                        stage="interrupted",
                        error=f"interrupted: {type(e).__name__}: {e}",
                        fence=fence,
                    )
                except AstridError as again:  # the catalog itself failing: recovery's job
                    log.error("run %d left unfinished: %s", run_id, again)
            raise

        objects = self.objects.process_pending()
        index = OutputIndex(out)
        index.add(reports)
        csv_path = out / "candidates.csv"
        run_ids = write_candidates_csv(self.catalog, csv_path, index.run_keys())
        objects_csv, curves_csv = write_object_tables(self.catalog, run_ids, out)
        alerts = None if self.alerts is None else self.alerts.publish(run_ids, out)
        alerts_dir = None if alerts is None else alerts.directory
        sent = None
        if self.deliveries is not None and alerts is not None and alerts.error is None:
            sent = self.deliveries.deliver(budget_s=self.delivery_budget_s)
        return RunReport(
            reports, csv_path, objects_csv, curves_csv, objects, alerts_dir, alerts, sent
        )

    def _reference(self, reference: FrameInput) -> AdmittedFrame:
        """Hash, read and register the reference, or look it up; raise when unusable."""
        if not isinstance(reference, int):
            return admit_frame(
                self.catalog,
                self.store,
                reference,
                "reference",
                max_pixels=self.config.max_image_pixels,
            )
        record, source = stored_observation(self.catalog, self.store, reference)
        return AdmittedFrame(source, record.content_sha256, record.id, record.name)

    def _science(self, science: FrameInput, report: FrameReport) -> AdmittedFrame | None:
        """Admit one science frame as `_reference` does; None (report failed) if unusable."""
        if isinstance(science, int):
            try:
                record, source = stored_observation(self.catalog, self.store, science)
            except AstridError as e:
                report.status, report.failed_stage, report.error = "failed", "read", str(e)
                self.catalog.record_event(
                    "ObservationRejected", {"observation_id": science, "error": str(e)}
                )
                return None
            report.observation_id = record.id
            return AdmittedFrame(source, record.content_sha256, record.id, record.name)
        try:
            frame = admit_frame(
                self.catalog,
                self.store,
                science,
                "science",
                max_pixels=self.config.max_image_pixels,
            )
        except InvalidImageError as e:
            report.status, report.failed_stage, report.error = "failed", "read", str(e)
            report.observation_id = e.details.get("observation_id")
            return None
        report.observation_id = frame.observation_id
        self.catalog.record_event(
            "ObservationIngested",
            {"observation_id": frame.observation_id, "path": frame.source.label},
        )
        return frame

    def _execute(
        self,
        pending: list[tuple[FrameReport, FrameSource]],
        ref: AdmittedFrame,
        out: Path,
        on_stage: Callable[[str, str], None] | None,
        calibration: dict[str, str],
    ) -> Iterable[tuple[FrameReport, FrameOutcome]]:
        reference = ref.source
        cluster = self._cluster
        inline = cluster is None and not self.isolate and (len(pending) <= 1 or self.workers == 1)
        if inline:
            kept_preparations = {}
            if self.reference_cache is not None:
                kept_preparations["reference_cache"] = self.reference_cache
            for report, source in pending:
                callback = (lambda stage, p=report.path: on_stage(p, stage)) if on_stage else None
                assert report.run_id is not None
                if not self._claims.begin(report.run_id):
                    report.status = "superseded"
                    continue
                yield (
                    report,
                    self.frame_function(
                        source,
                        reference,
                        str(out),
                        self.config,
                        product_stem=report.product_stem,
                        on_stage=callback,
                        calibration=calibration,
                        model=self._model,
                        **kept_preparations,
                    ),
                )
            if self.reference_cache is not None:
                prune(self.reference_cache, self.reference_cache_bytes)
            return
        n = min(self.workers, len(pending))
        # the processes share the reference's preparation (`process_frame`'s
        # ``reference_cache``) through the kept one or a folder private to the batch
        with self._reference_folder() as kept:
            reports: dict[int, FrameReport] = {}
            tasks = []
            if cluster is not None:  # the workers read the stored frames, not the client's files
                reference = cluster.source(self.catalog, reference, ref.observation_id)
            for report, source in pending:
                assert report.run_id is not None and report.observation_id is not None
                reports[report.run_id] = report
                kwargs = {
                    "threads": 1 if n > 1 else -1,
                    "product_stem": report.product_stem,
                    "calibration": {} if cluster is not None else calibration,
                    "model": self._model,
                }
                if cluster is None:  # the processes share the reference's preparation
                    kwargs["reference_cache"] = kept
                else:
                    source = cluster.source(self.catalog, source, report.observation_id)
                args = (source, reference, str(out), self.config)
                tasks.append(
                    FrameTask(label=report.path, args=args, kwargs=kwargs, id=report.run_id)
                )

            def started(task: FrameTask, where: int | str) -> None:
                self._claims.begin(task.id)
                log.info("%s: run %d begins in %s", task.label, task.id, where)

            def stage(task: FrameTask, name: str) -> None:
                if on_stage is not None:
                    on_stage(task.label, name)

            if cluster is not None:
                done = cluster.run(
                    tasks, calibration, self._model, out, on_start=started, on_stage=stage
                )
            else:
                done = FrameProcesses(n, self.frame_function).run(
                    tasks, on_start=lambda t, pid: started(t, f"process {pid}"), on_stage=stage
                )
            for task, outcome in done:
                yield reports[task.id], outcome

    @contextmanager
    def _reference_folder(self) -> Iterator[str]:
        """The folder a batch's processes share the reference's preparation through: the
        kept one (pruned to its budget afterwards) or a private one removed at the end."""
        if self.reference_cache is None:
            with tempfile.TemporaryDirectory(prefix="astrid-ref-") as private:
                yield private
            return
        try:
            yield self.reference_cache
        finally:
            prune(self.reference_cache, self.reference_cache_bytes)

    def _record(self, report: FrameReport, outcome: FrameOutcome) -> None:
        try:
            self._store_outcome(report, outcome, self._claims.fence(report.run_id))
        except ClaimLostError as e:
            # another process took the run over (this one's lease lapsed): its result stands
            report.status, report.failed_stage, report.error = "superseded", "claim", str(e)
            log.warning("%s: %s", report.path, e)

    def _store_outcome(self, report: FrameReport, outcome: FrameOutcome, fence: int | None) -> None:
        assert report.run_id is not None and report.observation_id is not None
        report.timings = outcome.timings
        if not outcome.ok or outcome.candidates is None or outcome.cutouts is None:
            report.status, report.failed_stage, report.error = (
                "failed",
                outcome.failed_stage,
                outcome.error,
            )
            self.catalog.fail_run(
                report.run_id,
                stage=outcome.failed_stage or "?",
                error=outcome.error or "",
                fence=fence,
            )
            self.catalog.mark_observation(
                report.observation_id, status="failed", error=outcome.error
            )
            self.catalog.record_event(
                "RunFailed",
                {"run_id": report.run_id, "stage": outcome.failed_stage, "error": outcome.error},
            )
            return
        try:
            products = outcome.product_keys or {
                name: self.store.put_file(path) for name, path in outcome.products.items()
            }
            rows = self._candidate_rows(outcome)
            self.catalog.finish_run(
                report.run_id,
                candidates=rows,
                stats=outcome.stats,
                timings=outcome.timings,
                products=products,
                association_radius_arcsec=self.config.association_radius_arcsec,
                photometry=outcome.photometry,
                fence=fence,
            )
        except ClaimLostError:
            raise
        except AstridError as e:
            report.status, report.failed_stage, report.error = "failed", "store", str(e)
            self.catalog.fail_run(report.run_id, stage="store", error=str(e), fence=fence)
            return
        self.catalog.mark_observation(report.observation_id, status="processed")
        self.catalog.record_event(
            "CandidatesFound",
            {"run_id": report.run_id, "observation_id": report.observation_id, "n": len(rows)},
        )
        report.status, report.n_candidates, report.stats = "done", len(rows), outcome.stats
        report.products_local = dict(outcome.products)

    def _candidate_rows(self, outcome: FrameOutcome) -> list[dict[str, Any]]:
        assert outcome.candidates is not None and outcome.cutouts is not None
        kinds = ("science", "reference", "difference")
        keys = iter(
            self.store.put_pack(
                [cutout_fits(triplet[j]) for triplet in outcome.cutouts for j in range(3)],
                suffix=".fits",
            )
        )
        rows = []
        for row in outcome.candidates:
            record: dict[str, Any] = {}
            for name in outcome.candidates.colnames:
                value = row[name]
                record[name] = value.item() if hasattr(value, "item") else value
            if self._model is not None and "rb" in record:
                record["model_version_id"] = self._model.version_id
            for kind in kinds:
                record[f"cutout_{kind}_key"] = next(keys)
            rows.append(record)
        return rows
