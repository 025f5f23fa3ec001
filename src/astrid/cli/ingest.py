"""``astrid ingest-alerts``: broker mode, survey alert packets in."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from astrid.alerts.summary_rewrite import Rewriter
from astrid.catalog import Catalog, connect
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    app,
    console,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.cli.run import context_sources, print_alerts, print_deliveries, summary_rewriter
from astrid.errors import AstridError
from astrid.ingest import IngestProblem
from astrid.ingest.kafka_source import KafkaAlertSource
from astrid.pipeline.alerts_stage import AlertsStage
from astrid.pipeline.candidates_csv import write_candidates_csv
from astrid.pipeline.delivery_stage import DeliveryStage
from astrid.pipeline.ingest_stage import IngestReport, IngestStage
from astrid.pipeline.object_outputs import write_object_tables
from astrid.pipeline.scoring import resolve_model
from astrid.store import ObjectStore

PROBLEM_COLUMNS = ("file", "record", "packet_id", "field", "problem")


def write_problems(path: Path, problems: list[IngestProblem]) -> None:
    """``ingest_problems.csv``: one row per packet or file that could not be read."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PROBLEM_COLUMNS)
        for p in problems:
            index = "" if p.index is None else p.index
            writer.writerow([p.path, index, p.packet_id or "", p.field or "", p.message])
    os.replace(temporary, path)


@app.command("ingest-alerts", cls=Command)
def ingest_alerts(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Avro packet files or folders of them (ZTF, Rubin).", metavar="PATH"),
    ] = None,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            help="Read this Kafka topic (repeatable) from ASTRID_KAFKA_BOOTSTRAP_SERVERS.",
            metavar="TOPIC",
        ),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            "--kafka-bootstrap", help="host:port of the Kafka cluster (overrides the setting)."
        ),
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option(help="Stop after this many messages.", min=1)
    ] = None,
    idle_timeout: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds without a message.", min=0.0),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write candidates, objects, light curves here.", metavar="DIR"
        ),
    ] = None,
    score: Annotated[
        bool, typer.Option(help="Re-score the stamps with AstrID's real/bogus model.")
    ] = True,
    publish: Annotated[
        bool,
        typer.Option(help="Publish AstrID's alerts of them under OUT/alerts and deliver."),
    ] = True,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
    verbose: Verbose = False,
) -> None:
    """Ingest survey alert packets: score, associate into objects, cross-match, forward.

    Packets come from files and folders, or from Kafka topics (--topic): ZTF's Avro
    containers and Rubin's Confluent wire format alike. A topic's offsets are committed
    only once its packets are stored; reading stops at --max-messages, --idle-timeout or
    Ctrl-C.
    """
    setup_logging(verbose)
    if not paths and not topic:
        print_error(ValueError("give packet files or folders, or --topic to read a stream"))
        raise typer.Exit(2)
    with open_settings(data_dir, db) as settings:
        context = context_sources(settings)
        with connect(settings.db_url) as catalog:
            store = ObjectStore(settings.store_root)
            try:
                model = resolve_model(catalog, store) if score else None
                source = (
                    KafkaAlertSource(
                        topic,
                        bootstrap_servers=bootstrap or settings.kafka_bootstrap_servers or "",
                        group_id=settings.kafka_group_id,
                        options=settings.kafka_options,
                        idle_timeout_s=idle_timeout,
                        max_messages=max_messages,
                    )
                    if topic
                    else None
                )
            except AstridError as e:
                print_error(e)
                raise typer.Exit(2) from e
            stage = IngestStage(catalog, store, model=model, context=context)
            report = _ingest(stage, paths or [], source)
            _print_report(report)
            if out is not None:
                rewriter = summary_rewriter(settings) if publish else None
                _write_outputs(catalog, store, report, out, publish=publish, rewriter=rewriter)
    if report.error:
        print_error(ValueError(report.error))
        raise typer.Exit(2)
    if report.read == 0 and report.problems:
        raise typer.Exit(1)


def _ingest(stage: IngestStage, paths: list[Path], source: KafkaAlertSource | None) -> IngestReport:
    with console.status("ingesting"):
        report = stage.ingest(paths) if paths else IngestReport()
        if source is None or report.error:
            return report
        try:
            stage.ingest_items(source.items(), report=report, after_batch=source.commit)
        except KeyboardInterrupt:
            console.print("interrupted: what was stored is committed", style="yellow")
            source.commit()  # the batch in hand was not stored: it is read again next time
        finally:
            source.close()
    return report


def _print_report(report: IngestReport) -> None:
    console.print(
        f"{report.read} packets from {report.files} file(s): {report.stored} new, "
        f"{report.duplicates} already stored, {len(report.problems)} problem(s); "
        f"{report.objects} objects, {report.points} light-curve points "
        f"in {report.seconds:.1f} s ({report.per_second:.0f} packets/s)",
        soft_wrap=True,
    )
    for problem in report.problems[:20]:
        where = problem.path if problem.index is None else f"{problem.path}#{problem.index}"
        console.print(escape(f"{where}: {problem.message}"), style="yellow", soft_wrap=True)


def _write_outputs(
    catalog: Catalog,
    store: ObjectStore,
    report: IngestReport,
    out: Path,
    *,
    publish: bool,
    rewriter: Rewriter | None,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = [r.key for r in catalog.runs() if r.id in set(report.run_ids)]
    run_ids = write_candidates_csv(catalog, out / "candidates.csv", keys)
    write_object_tables(catalog, run_ids, out)
    write_problems(out / "ingest_problems.csv", report.problems)
    console.print(f"candidates: {out / 'candidates.csv'}", soft_wrap=True)
    if publish:
        alerts = AlertsStage(catalog, store, rewriter=rewriter).publish(run_ids, out)
        print_alerts(alerts)
        if alerts.error is None:
            print_deliveries(DeliveryStage(catalog, store).deliver(budget_s=30.0))
