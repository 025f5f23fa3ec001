"""``astrid run``, ``masters``, ``demo`` and ``evaluate``: the pipeline from the terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from astrid.alerts.summary_rewrite import Rewriter, load_rewriter
from astrid.catalog import connect
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    app,
    console,
    make_settings,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.cli.templates import template_fetcher
from astrid.config import Settings
from astrid.errors import AstridError
from astrid.pipeline.alerts_stage import AlertsStageReport
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.delivery_stage import DeliveryReport
from astrid.pipeline.frame import FRAME_STAGES
from astrid.pipeline.object_context import ContextSources
from astrid.pipeline.reference_choice import run_with_chosen_references
from astrid.pipeline.report import FRAME_COLUMNS, frame_row, write_report
from astrid.pipeline.runner import FrameReport, Pipeline, RunReport
from astrid.preprocess.photometric_catalogue import catalogue_bands
from astrid.store import ObjectStore

STAGES = FRAME_STAGES

Workers = Annotated[
    int | None,
    typer.Option(help="Processes over science frames; 0 = one per core (ASTRID_WORKERS).", min=0),
]


@contextmanager
def _progress(
    n_frames: int,
) -> Iterator[tuple[Callable[[str, str], None], Callable[[FrameReport], None]]]:
    """A frames bar (and a stages bar for one frame); yields ``(on_stage, on_frame)``."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        frames = progress.add_task("frames", total=n_frames)
        stages = progress.add_task("stages", total=len(STAGES)) if n_frames == 1 else None

        def on_stage(_path: str, stage: str) -> None:
            if stages is not None and stage in STAGES:
                progress.update(
                    stages, completed=STAGES.index(stage), description=f"stage: {stage}"
                )

        def on_frame(_report: FrameReport) -> None:
            progress.advance(frames)
            if stages is not None:
                progress.update(stages, completed=len(STAGES), description="stages: done")

        yield on_stage, on_frame


def _write_metrics(frames: Sequence[FrameReport], path: Path) -> None:
    """The run's frames as Prometheus metrics in ``path``; a failure to write is reported,
    never fatal (the run's results are stored)."""
    from astrid.service.metrics import Metrics

    metrics = Metrics()
    for frame in frames:
        n = frame.n_candidates or 0
        metrics.observe_frame(
            frame.timings, n, status=frame.status, failed_stage=frame.failed_stage
        )
    try:
        metrics.write_textfile(path)
    except AstridError as e:
        print_error(e)


def open_pipeline(
    settings: Settings,
    config: PipelineConfig,
    *,
    score: bool = True,
    model_version: int | None = None,
    alerts: bool = True,
) -> Pipeline:
    """A `Pipeline` on the settings' catalog and store (the caller closes the catalog).

    Frames always run isolated, one frame or many: a native crash in one (a C extension
    meeting a corrupt image) fails that frame with the signal, never the command.
    """
    context = context_sources(settings)  # before connecting: a bad setting leaves nothing open
    rewriter = summary_rewriter(settings)
    catalog = connect(settings.db_url)
    store = ObjectStore(settings.store_root)
    return Pipeline(
        catalog,
        store,
        config,
        workers=settings.workers,
        score=score,
        model_version=model_version,
        isolate=True,
        context=context,
        publish_alerts=alerts,
        summary_rewriter=rewriter,
        lease_s=settings.run_lease_s,
        scheduler=settings.scheduler_address,
        reference_cache=settings.data_dir / "cache" / "prepared",
        reference_cache_bytes=int(settings.reference_cache_gb * 1e9),
    )


def summary_rewriter(settings: Settings) -> Rewriter | None:
    """The configured summary rewriter (None unless ``ASTRID_SUMMARY_REWRITER`` names one)."""
    return load_rewriter(settings.summary_rewriter) if settings.summary_rewriter else None


def context_sources(settings: Settings) -> ContextSources | None:
    """The installed context catalogues (`astrid context install`), when enabled.

    A catalogue that cannot be read is left out, with a note naming it and why; unusable
    online-context settings (or the ``online`` extra missing) stop the command with why.
    """
    try:
        sources = ContextSources.from_settings(settings)
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    for problem in [] if sources is None else sources.problems:
        console.print(f"[dim]context: {escape(problem)}[/dim]", soft_wrap=True)
    return sources


def print_frames(report: RunReport) -> None:
    """The frames of a run, names whole however narrow the terminal; failures on their own lines.

    A table when it fits the terminal, else one line per frame with its name and a line of
    its figures below. Errors are not in the table: each failed frame gets a line with its
    full path, stage and message, which stays readable (and greppable) at any width.
    """
    rows = [frame_row(frame) for frame in report.frames]
    table = RichTable(title="Frames")
    table.add_column("frame", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for col in FRAME_COLUMNS[2:]:
        table.add_column(col, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*(escape(row[col]) for col in FRAME_COLUMNS))
    unbounded = console.options.update_width(1_000_000)
    if Measurement.get(console, unbounded, table).maximum <= console.width:
        console.print(table)
    else:
        console.print("[bold]Frames[/bold]")
        for row in rows:
            figures = ", ".join(f"{col} {row[col]}" for col in FRAME_COLUMNS[2:] if row[col])
            console.print(f"{escape(row['frame'])}: {row['status']}", soft_wrap=True)
            if figures:
                console.print(f"  {figures}", soft_wrap=True, highlight=False)
    for frame in report.frames:
        if frame.error:
            message = f"failed: {frame.path} at stage {frame.failed_stage}: {frame.error}"
            console.print(escape(message), style="red", soft_wrap=True)


def print_alerts(alerts: AlertsStageReport) -> None:
    """What the alerts stage wrote, and what it could not."""
    console.print(
        f"alerts: {len(alerts.written)} new in {alerts.directory} "
        f"(Rubin schema {alerts.schema_version})",
        soft_wrap=True,
    )
    for alert_id, error in sorted(alerts.failed.items()):
        console.print(escape(f"alert {alert_id} not built: {error}"), style="red", soft_wrap=True)
    if alerts.error:
        console.print(escape(f"alerts stopped: {alerts.error}"), style="red", soft_wrap=True)
    if alerts.queued:
        console.print(f"alerts: {alerts.queued} queued for subscriptions")
    rewrites = alerts.rewrites
    if rewrites.calls:
        refused = ", ".join(f"{n} {why}" for why, n in sorted(rewrites.refused.items()))
        console.print(
            escape(
                f"summary rewrites: {rewrites.kept} of {rewrites.calls} kept"
                + (f" (refused: {refused})" if refused else "")
                + (" (time budget spent)" if rewrites.exhausted else "")
            ),
            soft_wrap=True,
        )


def print_deliveries(sent: DeliveryReport) -> None:
    """What the subscriptions were sent, and what failed."""
    if not (sent.delivered or sent.failed or sent.errors):
        return
    console.print(
        f"deliveries: {sent.delivered} delivered, {sent.failed} failed ({sent.dead} given up)"
    )
    for name, error in sorted(sent.errors.items()):
        console.print(escape(f"subscription {name}: {error}"), style="yellow", soft_wrap=True)


@app.command("run", cls=Command)
def run_frames(
    sciences: Annotated[
        list[str],
        typer.Argument(
            help="Science FITS files: paths or fsspec URLs (s3://bucket/frame.fits).",
            metavar="FILE",
        ),
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            "-r",
            help="Reference FITS file: path or fsspec URL (default: for each frame, the "
            "newest registered reference of its band covering half of it).",
            metavar="FILE",
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Output directory (candidates, differences, report).", metavar="DIR"
        ),
    ] = Path("astrid-out"),
    db: DatabaseUrl = None,
    data_dir: DataDir = None,
    threshold: Annotated[
        float | None, typer.Option(help="|S_corr| detection threshold (ASTRID_THRESHOLD).")
    ] = None,
    workers: Workers = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            help="Write the frames' outcomes and stage durations here for Prometheus "
            "(node_exporter textfile collector; ASTRID_METRICS_TEXTFILE).",
            metavar="FILE",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run the frames on this Dask scheduler's workers, e.g. tcp://host:8786 "
            "(ASTRID_SCHEDULER_ADDRESS; docs/scaling.md).",
            metavar="ADDRESS",
        ),
    ] = None,
    bias: Annotated[
        Path | None,
        typer.Option(help="Master bias (ADU) subtracted from each science frame.", metavar="FILE"),
    ] = None,
    dark: Annotated[
        Path | None,
        typer.Option(help="Master dark (ADU/s), × EXPTIME, subtracted likewise.", metavar="FILE"),
    ] = None,
    flat: Annotated[
        Path | None,
        typer.Option(help="Master flat (median 1) dividing each science frame.", metavar="FILE"),
    ] = None,
    score: Annotated[
        bool, typer.Option(help="Score candidates with the real/bogus model (rb, ood).")
    ] = True,
    model_version: Annotated[
        int | None, typer.Option(help="Registered model version (default: the active one).")
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option(
            help="scorr (|S_corr| peaks, default) or unet (ASTRID_DETECTOR).", metavar="NAME"
        ),
    ] = None,
    alerts: Annotated[
        bool,
        typer.Option(
            help="Write Rubin-schema alert packets of new detections that pass the "
            "real/bogus operating point under OUT/alerts/ (docs/alerts.md)."
        ),
    ] = True,
    photometric_catalogue: Annotated[
        Path | None,
        typer.Option(
            help="Reference stars with AB magnitudes (CSV/FITS/parquet) that calibrate each "
            "frame's zero point (ASTRID_PHOTOMETRIC_CATALOGUE; docs/photometry.md).",
            metavar="FILE",
        ),
    ] = None,
    photometric_service: Annotated[
        str | None,
        typer.Option(
            help="Without a catalogue file: calibrate against this survey's stars of each "
            "field, asked for once and cached (ps1; needs the network and the online extra; "
            "ASTRID_PHOTOMETRIC_SERVICE).",
            metavar="NAME",
        ),
    ] = None,
    band: Annotated[
        str | None,
        typer.Option(
            help="The catalogue's band to calibrate with (default: each frame's FILTER).",
            metavar="BAND",
        ),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Difference FILEs against REFERENCE: candidates.csv, difference/*.fits, report.html.

    --bias/--dark/--flat (masters from `astrid masters`) calibrate the raw science frames
    only; the reference is used as it is, normally an already-reduced template.
    """
    setup_logging(verbose)
    masters = {"bias": bias, "dark": dark, "flat": flat}
    calibration = {kind: str(path) for kind, path in masters.items() if path is not None}
    overrides = {"scheduler_address": scheduler, "metrics_textfile": metrics_file}
    with open_settings(data_dir, db, workers=workers, **overrides) as settings:
        try:
            config = PipelineConfig.from_settings(
                settings,
                threshold=threshold,
                detector=detector,
                photometric_catalogue=photometric_catalogue,
                photometric_band=band,
                photometric_service=photometric_service,
            )
            if config.photometric_catalogue is not None:
                spec = config.photometric_catalogue
                catalogue_bands(spec.path, spec.band)
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
        pipeline = open_pipeline(
            settings, config, score=score, model_version=model_version, alerts=alerts
        )
        with pipeline.catalog:
            try:
                with _progress(len(sciences)) as (on_stage, on_frame):
                    options: dict[str, Any] = {
                        "on_stage": on_stage,
                        "on_frame": on_frame,
                        "calibration": calibration,
                    }
                    if reference is None:
                        fetcher = template_fetcher(settings, pipeline.catalog, pipeline.store)
                        options["fetch_reference"] = fetcher
                        report = run_with_chosen_references(pipeline, sciences, out, **options)
                    else:
                        report = pipeline.run(reference, sciences, out, **options)
            except AstridError as e:
                print_error(e)
                raise typer.Exit(2) from e
            print_frames(report)
            if settings.metrics_textfile is not None:
                _write_metrics(report.frames, settings.metrics_textfile)
            with console.status("writing the report"):
                page = write_report(
                    out / "report.html",
                    catalog=pipeline.catalog,
                    store=pipeline.store,
                    frames=report.frames,
                    title=f"AstrID run: {len(sciences)} frame(s) against "
                    + (PurePosixPath(reference).name if reference else "registered references"),
                )
        console.print(f"candidates: {report.candidates_csv}", soft_wrap=True)
        if report.objects_csv is not None:
            console.print(f"objects: {report.objects_csv}", soft_wrap=True)
            console.print(f"light curves: {report.lightcurves_csv}", soft_wrap=True)
        if report.alerts is not None:
            print_alerts(report.alerts)
        if report.deliveries is not None:
            print_deliveries(report.deliveries)
        console.print(f"report: {page}", soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)


_KIND_OPTIONS = {"--bias": "bias", "--dark": "dark", "--flat": "flat"}


def _frames_by_kind(args: list[str]) -> dict[str, list[Path]]:
    """``--bias B1 B2 --dark D1 --flat F1 F2`` (each option may repeat) as kind -> files."""
    frames: dict[str, list[Path]] = {kind: [] for kind in _KIND_OPTIONS.values()}
    kind: str | None = None
    for arg in args:
        option, _, value = arg.partition("=")
        if option in _KIND_OPTIONS:
            kind = _KIND_OPTIONS[option]
            if value:
                frames[kind].append(Path(value))
        elif arg.startswith("-") or kind is None:
            raise typer.BadParameter(
                f"unexpected {arg!r}; give files after --bias, --dark or --flat"
            )
        else:
            frames[kind].append(Path(arg))
    return frames


@app.command(
    cls=Command,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def masters(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for the master_*.fits files.", metavar="DIR"),
    ],
    verbose: Verbose = False,
) -> None:
    """Combine raw calibration exposures into master files for `astrid run`.

    astrid masters --out DIR --bias B1.fits ... --dark D1.fits ... --flat F1.fits ...

    Darks need EXPTIME and --bias; flats are bias/dark-corrected when those are given.
    Writes DIR/master_bias.fits, master_dark.fits (ADU/s), master_flat.fits (median 1).
    """
    from astrid.preprocess.master_files import build_master_files

    setup_logging(verbose)
    frames = _frames_by_kind(list(ctx.args))
    try:
        with console.status("combining calibration frames"):
            summaries = build_master_files(out, **frames)
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    table = RichTable(title="Master calibration frames")
    table.add_column("master")
    table.add_column("file")
    for col in ("frames", "median", "robust std"):
        table.add_column(col, justify="right")
    for summary in summaries:
        table.add_row(
            summary.kind,
            str(summary.path),
            str(summary.n_frames),
            f"{summary.median:.4g}",
            f"{summary.robust_std:.3g}",
        )
    console.print(table)


def _measures(title: str, values: dict[str, object], keys: tuple[str, ...]) -> RichTable:
    """A two-column table of the `keys` present in `values` (floats to 3 decimals)."""
    table = RichTable(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in keys:
        if key in values:
            value = values[key]
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    return table


@app.command(cls=Command)
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory.", metavar="DIR")
    ] = Path("astrid-demo"),
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 1024,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Data directory (default: OUT/data, not ASTRID_DATA_DIR).", metavar="DIR"
        ),
    ] = None,
    db: DatabaseUrl = None,
    workers: Workers = None,
    verbose: Verbose = False,
) -> None:
    """Simulate a field with injected transients, run the whole pipeline, write a report."""
    from astrid.pipeline.demo import run_demo

    setup_logging(verbose)
    with open_settings(data_dir or out / "data", db, workers=workers) as settings:
        pipeline = open_pipeline(settings, PipelineConfig.from_settings(settings))
        with pipeline.catalog:
            try:
                with _progress(1) as (on_stage, on_frame):
                    result = run_demo(
                        pipeline, out, size=size, seed=seed, on_stage=on_stage, on_frame=on_frame
                    )
            except AstridError as e:
                print_error(e)
                raise typer.Exit(2) from e
    console.print(
        f"simulated a {size}×{size} pair in {result.simulate_seconds:.1f} s → {out / 'inputs'}",
        soft_wrap=True,
    )
    print_frames(result.run)
    keys = (
        "n_candidates",
        "completeness_all",
        "optimum_all",
        "efficiency_vs_optimum",
        "completeness_snr_ge_8",
        "n_bogus",
        "flux_ratio_median_snr_ge_20",
        "astrometry_rms_arcsec_snr_ge_20",
    )
    console.print(_measures("Against the injected truth", result.score, keys))
    console.print(f"report: {result.report}", soft_wrap=True)
    if result.run.failed:
        raise typer.Exit(1)


@app.command(cls=Command)
def evaluate(
    science: Annotated[
        Path, typer.Argument(help="Science FITS file to inject fakes into.", metavar="FILE")
    ],
    reference: Annotated[
        Path, typer.Option("--reference", "-r", help="Reference FITS file.", metavar="FILE")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory.", metavar="DIR")
    ] = Path("astrid-evaluation"),
    n_fakes: Annotated[int, typer.Option(help="Number of fake point sources.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed (results are deterministic).")] = 0,
    snr_min: Annotated[float, typer.Option(help="Faintest injected SNR.")] = 3.0,
    snr_max: Annotated[float, typer.Option(help="Brightest injected SNR.")] = 40.0,
    on_galaxies: Annotated[float, typer.Option(help="Fraction of fakes on galaxies.")] = 0.2,
    score: Annotated[
        bool, typer.Option(help="Also report after the real/bogus cut (shipped model).")
    ] = True,
    model_file: Annotated[
        Path | None,
        typer.Option(help="Real/bogus ONNX model (default: the shipped one).", metavar="FILE"),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Inject fake point sources into SCIENCE, run the pipeline, report completeness."""
    from astrid.evaluation.evaluate import EvaluationConfig
    from astrid.pipeline.evaluation_run import evaluate_files

    setup_logging(verbose)
    if n_fakes < 1 or not 0 < snr_min < snr_max or not 0 <= on_galaxies <= 1:
        console.print(
            "[red]error:[/red] need n-fakes ≥ 1, 0 < snr-min < snr-max, 0 ≤ on-galaxies ≤ 1"
        )
        raise typer.Exit(2)
    pipeline_config = PipelineConfig.from_settings(make_settings())
    config = EvaluationConfig(
        n_fakes=n_fakes,
        snr_range=(snr_min, snr_max),
        on_galaxy_fraction=on_galaxies,
        seed=seed,
        prepare=pipeline_config.prepare,
        subtract=pipeline_config.subtract,
    )
    try:
        with console.status(f"injecting {n_fakes} fakes and running the pipeline"):
            files = evaluate_files(
                science, reference, out, config, score=score, model_file=model_file
            )
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    summary = files.result.summary
    keys = (
        "n_fakes",
        "completeness",
        "optimum",
        "efficiency_vs_optimum",
        "mag_50",
        "mag_90",
        "false_candidates_per_frame",
        "false_candidates_per_deg2",
        "completeness_after_rb",
        "false_candidates_per_frame_after_rb",
        "false_candidates_per_deg2_after_rb",
        "flux_ratio_median_snr_ge_20",
        "astrometry_rms_arcsec_snr_ge_20",
    )
    console.print(_measures(f"Injection–recovery on {science.name}", summary, keys))
    console.print(f"magnitudes: {summary['magnitudes']}; report: {files.report}", soft_wrap=True)
