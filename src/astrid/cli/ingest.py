"""``astrid ingest-alerts``: broker mode, survey alert packets in."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from astrid.catalog import connect
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
from astrid.cli.run import context_sources, print_alerts, print_deliveries
from astrid.errors import AstridError
from astrid.ingest import IngestProblem
from astrid.pipeline.alerts_stage import AlertsStage
from astrid.pipeline.candidates_csv import write_candidates_csv
from astrid.pipeline.delivery_stage import DeliveryStage
from astrid.pipeline.ingest_stage import IngestStage
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
        list[Path],
        typer.Argument(help="Avro packet files or folders of them (ZTF, Rubin).", metavar="PATH"),
    ],
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
    """Ingest survey alert packets: score, associate into objects, cross-match, forward."""
    setup_logging(verbose)
    with open_settings(data_dir, db) as settings:
        context = context_sources(settings)
        with connect(settings.db_url) as catalog:
            store = ObjectStore(settings.store_root)
            try:
                model = resolve_model(catalog, store) if score else None
            except AstridError as e:
                print_error(e)
                raise typer.Exit(2) from e
            stage = IngestStage(catalog, store, model=model, context=context)
            with console.status("ingesting"):
                report = stage.ingest(paths)
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
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                keys = [r.key for r in catalog.runs() if r.id in set(report.run_ids)]
                run_ids = write_candidates_csv(catalog, out / "candidates.csv", keys)
                write_object_tables(catalog, run_ids, out)
                write_problems(out / "ingest_problems.csv", report.problems)
                console.print(f"candidates: {out / 'candidates.csv'}", soft_wrap=True)
                if publish:
                    alerts = AlertsStage(catalog, store).publish(run_ids, out)
                    print_alerts(alerts)
                    if alerts.error is None:
                        print_deliveries(DeliveryStage(catalog, store).deliver(budget_s=30.0))
    if report.error:
        print_error(ValueError(report.error))
        raise typer.Exit(2)
    if report.read == 0 and report.problems:
        raise typer.Exit(1)
