"""``astrid watch``: process the science frames that arrive in a folder or bucket."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

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
from astrid.cli.run import open_pipeline, print_frames
from astrid.errors import AstridError
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.run_reports import FrameInput, RunReport
from astrid.pipeline.watch import FolderWatcher, WatchConfig


@app.command("watch", cls=Command)
def watch(
    source: Annotated[
        str,
        typer.Argument(
            help="Folder or fsspec URL (s3://bucket/prefix) to watch.", metavar="DIR_OR_URL"
        ),
    ],
    reference: Annotated[
        Path, typer.Option("--reference", "-r", help="Reference FITS file.", metavar="FILE")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory.", metavar="DIR")
    ] = Path("astrid-out"),
    db: DatabaseUrl = None,
    data_dir: DataDir = None,
    settle: Annotated[
        float, typer.Option(help="Seconds a file must stay unchanged before it is taken.", min=0)
    ] = 5.0,
    poll: Annotated[float, typer.Option(help="Seconds between looks.", min=0.1)] = 2.0,
    once: Annotated[
        bool,
        typer.Option(
            help="Process what has settled, then exit (run it from cron or a timer to poll "
            "an archive on a schedule)."
        ),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Process each science frame that arrives in SOURCE against REFERENCE, as it settles.

    A restart processes what arrived meanwhile and nothing twice (run keys are content
    hashes). Ctrl-C stops after the current batch.
    """
    setup_logging(verbose)
    with open_settings(data_dir, db) as settings:
        try:
            config = PipelineConfig.from_settings(settings)
            pipeline = open_pipeline(settings, config)
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
        with pipeline.catalog:

            def run_batch(frames: list[FrameInput]) -> RunReport:
                report = pipeline.run(reference, frames, out)
                print_frames(report)
                return report

            try:
                watcher = FolderWatcher(
                    source,
                    run_batch,
                    config=WatchConfig(settle_s=settle, poll_s=poll),
                )
            except AstridError as e:
                print_error(e)
                raise typer.Exit(2) from e
            stop = threading.Event()
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
            console.print(f"watching {source} (every {poll:g} s; Ctrl-C stops)", soft_wrap=True)
            try:
                handled = watcher.run(stop, once=once)
            except KeyboardInterrupt:
                handled = -1
            except AstridError as e:
                print_error(e)
                raise typer.Exit(2) from e
            finally:
                signal.signal(signal.SIGTERM, previous)
    if handled >= 0:
        console.print(f"{handled} frame(s) handled", soft_wrap=True)
