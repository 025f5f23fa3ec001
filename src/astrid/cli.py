"""The `astrid` command: thin wrappers that parse, call the library and render with Rich."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from astrid import __version__
from astrid.catalog import Catalog
from astrid.config import Settings
from astrid.errors import AstridError
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.runner import RunReport
from astrid.store import ObjectStore

app = typer.Typer(add_completion=False, help="AstrID: find what changed in the sky.")
console = Console()


def _print_error(error: Exception) -> None:
    """Print an error unwrapped (paths stay greppable) and never read as Rich markup."""
    console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)


STAGES = ("read", "calibrate", "validate", "preprocess", "difference", "score", "write")


def _settings(data_dir: Path | None, db: str | None) -> Settings:
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if db is not None:
        overrides["database_url"] = db
    return Settings.model_validate(overrides)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


def _run_pipeline(
    settings: Settings,
    config: PipelineConfig,
    reference: Path,
    sciences: list[Path],
    out: Path,
    calibration: dict[str, str] | None = None,
    *,
    score: bool = True,
    model_version: int | None = None,
) -> tuple[Catalog, ObjectStore, RunReport]:
    from astrid.catalog import connect
    from astrid.pipeline.runner import Pipeline

    catalog = connect(settings.db_url)
    store = ObjectStore(settings.store_root)
    pipeline = Pipeline(
        catalog, store, config, workers=settings.workers, score=score, model_version=model_version
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        frames = progress.add_task("frames", total=len(sciences))
        stages = progress.add_task("stages", total=len(STAGES)) if len(sciences) == 1 else None

        def on_stage(_path: str, stage: str) -> None:
            if stages is not None:
                progress.update(
                    stages, completed=STAGES.index(stage), description=f"stage: {stage}"
                )

        def on_frame(_report: object) -> None:
            progress.advance(frames)
            if stages is not None:
                progress.update(stages, completed=len(STAGES), description="stages: done")

        report = pipeline.run(
            reference,
            sciences,
            out,
            on_stage=on_stage,
            on_frame=on_frame,
            calibration=calibration,
        )
    return catalog, store, report


def _frames_table(report: RunReport) -> RichTable:
    table = RichTable(title="Frames")
    for col in ("frame", "status", "candidates", "S_corr std", "align rms px", "seconds", "error"):
        table.add_column(col)
    for f in report.frames:
        stats = f.stats
        table.add_row(
            Path(f.path).name,
            f.status,
            str(f.n_candidates),
            f"{stats['scorr_std']:.3f}" if "scorr_std" in stats else "",
            f"{(stats['align_rms_x'] ** 2 + stats['align_rms_y'] ** 2) ** 0.5:.3f}"
            if "align_rms_x" in stats
            else "",
            f"{sum(f.timings.values()):.1f}" if f.timings else "",
            (f"{f.failed_stage}: {f.error}" if f.error else "")[:120],
        )
    return table


@app.command()
def run(
    sciences: Annotated[list[Path], typer.Argument(help="Science FITS files.")],
    reference: Annotated[Path, typer.Option("--reference", "-r", help="Reference FITS file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
        "astrid-out"
    ),
    db: Annotated[
        str | None, typer.Option(help="Database URL (default: SQLite in the data dir).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="|S_corr| detection threshold (ASTRID_THRESHOLD).")
    ] = None,
    bias: Annotated[
        Path | None, typer.Option(help="Master bias (ADU) subtracted from each science frame.")
    ] = None,
    dark: Annotated[
        Path | None, typer.Option(help="Master dark (ADU/s), × EXPTIME, subtracted likewise.")
    ] = None,
    flat: Annotated[
        Path | None, typer.Option(help="Master flat (median 1) dividing each science frame.")
    ] = None,
    score: Annotated[
        bool, typer.Option(help="Score candidates with the real/bogus model (rb, ood).")
    ] = True,
    model_version: Annotated[
        int | None, typer.Option(help="Registered model version (default: the active one).")
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option(help="scorr (|S_corr| peaks, default) or unet (ASTRID_DETECTOR)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Difference SCIENCES against REFERENCE; write candidates.csv and difference/*.fits.

    --bias/--dark/--flat (masters from `astrid masters`) calibrate the raw science frames
    only; the reference is used as it is, normally an already-reduced template.
    """
    _setup_logging(verbose)
    settings = _settings(data_dir, db)
    config = PipelineConfig.from_settings(settings, threshold=threshold, detector=detector)
    masters = {"bias": bias, "dark": dark, "flat": flat}
    calibration = {kind: str(path) for kind, path in masters.items() if path is not None}
    try:
        _, _, report = _run_pipeline(
            settings,
            config,
            reference,
            sciences,
            out,
            calibration,
            score=score,
            model_version=model_version,
        )
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(_frames_table(report))
    for frame in report.frames:
        if frame.error:
            message = f"failed: {frame.path} at stage {frame.failed_stage}: {frame.error}"
            console.print(escape(message), style="red", soft_wrap=True)
    console.print(f"candidates: {report.candidates_csv}", soft_wrap=True)
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


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def masters(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for master_<kind>.fits.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Combine raw calibration exposures into master files for `astrid run`.

    astrid masters --out DIR --bias B1.fits ... --dark D1.fits ... --flat F1.fits ...

    Darks need EXPTIME and --bias; flats are bias/dark-corrected when those are given.
    Writes DIR/master_bias.fits, master_dark.fits (ADU/s), master_flat.fits (median 1).
    """
    from astrid.preprocess.master_files import build_master_files

    _setup_logging(verbose)
    frames = _frames_by_kind(list(ctx.args))
    try:
        with console.status("combining calibration frames"):
            summaries = build_master_files(out, **frames)
    except AstridError as e:
        _print_error(e)
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


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
        "astrid-demo"
    ),
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 1024,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Simulate a field with injected transients, run the whole pipeline, write a report."""
    from astropy.table import Table

    from astrid.evaluation.scoring import match_to_truth
    from astrid.pipeline.report import write_report
    from astrid.simulation import SimulationConfig, simulate_pair

    _setup_logging(verbose)
    settings = _settings(data_dir if data_dir is not None else out / "data", db)
    scale = (size / 1024) ** 2
    config = SimulationConfig(
        shape=(size, size),
        n_stars=max(60, int(375 * scale)),
        n_galaxies=max(10, int(75 * scale)),
        n_transients=max(10, int(100 * scale)),
        n_transients_on_galaxies=max(2, int(20 * scale)),
    )
    start = time.perf_counter()
    with console.status("simulating the sky"):
        sim = simulate_pair(config, seed=seed)
        paths = sim.write(out / "inputs")
    console.print(
        f"simulated a {size}×{size} pair in {time.perf_counter() - start:.1f} s → {out / 'inputs'}"
    )
    try:
        catalog, store, report = _run_pipeline(
            settings,
            PipelineConfig.from_settings(settings),
            paths["reference"],
            [paths["science"]],
            out,
        )
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(_frames_table(report))
    candidates = (
        Table.read(report.candidates_csv, format="ascii.csv") if report.candidates_csv else Table()
    )
    score = match_to_truth(sim.truth, candidates)
    summary = RichTable(title="Against the injected truth")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for key in (
        "n_candidates",
        "completeness_all",
        "optimum_all",
        "efficiency_vs_optimum",
        "completeness_snr_ge_8",
        "n_bogus",
        "flux_ratio_median_snr_ge_20",
        "astrometry_rms_arcsec_snr_ge_20",
    ):
        value = score.get(key)
        summary.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(summary)
    frame = report.frames[0]
    report_path = write_report(
        out / "report.html",
        catalog=catalog,
        store=store,
        run_id=frame.run_id,
        difference_path=frame.products_local.get("score_corr"),
        score=score,
        truth=sim.truth,
        stats=frame.stats,
        title=f"AstrID demo: simulated {size}×{size} field, seed {seed}",
    )
    (out / "score.json").write_text(
        json.dumps({k: v for k, v in score.items() if k not in ("found", "bogus_mask")}, indent=1)
    )
    console.print(f"report: {report_path}")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def evaluate(
    science: Annotated[Path, typer.Argument(help="Science FITS file to inject fakes into.")],
    reference: Annotated[Path, typer.Option("--reference", "-r", help="Reference FITS file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
        "astrid-evaluation"
    ),
    n_fakes: Annotated[int, typer.Option(help="Number of fake point sources.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed (results are deterministic).")] = 0,
    snr_min: Annotated[float, typer.Option(help="Faintest injected SNR.")] = 3.0,
    snr_max: Annotated[float, typer.Option(help="Brightest injected SNR.")] = 40.0,
    on_galaxies: Annotated[float, typer.Option(help="Fraction of fakes on galaxies.")] = 0.2,
    score: Annotated[
        bool, typer.Option(help="Also report after the real/bogus cut (shipped model).")
    ] = True,
    model_file: Annotated[
        Path | None, typer.Option(help="Real/bogus ONNX model (default: the shipped one).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Inject fake point sources into SCIENCE, run the pipeline, report completeness."""
    from astrid.evaluation.evaluate import EvaluationConfig, evaluate_pair
    from astrid.evaluation.plots import plot_evaluation
    from astrid.observations.fits_reader import read_image
    from astrid.pipeline.report import write_evaluation_report

    _setup_logging(verbose)
    if n_fakes < 1 or not 0 < snr_min < snr_max or not 0 <= on_galaxies <= 1:
        console.print(
            "[red]error:[/red] need n-fakes ≥ 1, 0 < snr-min < snr-max, 0 ≤ on-galaxies ≤ 1"
        )
        raise typer.Exit(2)
    pipeline_config = PipelineConfig.from_settings(_settings(None, None))
    config = EvaluationConfig(
        n_fakes=n_fakes,
        snr_range=(snr_min, snr_max),
        on_galaxy_fraction=on_galaxies,
        seed=seed,
        prepare=pipeline_config.prepare,
        subtract=pipeline_config.subtract,
    )
    from astrid.detection.realbogus import RealBogusModel
    from astrid.pipeline.frame import unet_detector

    try:
        model = RealBogusModel.load(model_file) if score else None
        unet = unet_detector() if pipeline_config.subtract.detector == "unet" else None
        with console.status(f"injecting {n_fakes} fakes and running the pipeline"):
            result = evaluate_pair(
                read_image(science),
                read_image(reference),
                config,
                model=model,
                detector_model=unet,
            )
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    out.mkdir(parents=True, exist_ok=True)
    result.fakes.write(out / "fakes.csv", format="ascii.csv", overwrite=True)
    summary = result.summary
    (out / "summary.json").write_text(
        json.dumps(
            {
                **summary,
                "science": str(science),
                "reference": str(reference),
                "seed": seed,
                "n_fakes_requested": n_fakes,
            },
            indent=1,
            default=float,
        )
    )
    plots = plot_evaluation(result.fakes, out, title=science.name)
    report = write_evaluation_report(
        out / "report.html",
        summary=summary,
        plots=plots,
        title=f"AstrID evaluation: {science.name}",
    )
    table = RichTable(title=f"Injection–recovery on {science.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
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
    ):
        if key not in summary:
            continue
        value = summary[key]
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"magnitudes: {summary['magnitudes']}; report: {report}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve the API (/api/v1, /openapi.json) and the review web page (/) in one process.

    On first start an admin API key is created and printed once: log in with it.
    """
    import uvicorn
    from pydantic import ValidationError

    from astrid.app import create_app, open_service
    from astrid.service.state import bootstrap_admin_key

    _setup_logging(verbose)
    try:
        settings = _settings(data_dir, db)
        service = open_service(settings)
        first_key = bootstrap_admin_key(service.catalog)
    except (AstridError, ValidationError) as e:
        _print_error(e)
        raise typer.Exit(2) from e
    if first_key is not None:
        console.print(
            "[bold]First start: an admin API key was created. It is shown only now; "
            "keep it safe:[/bold]"
        )
        console.print(first_key, soft_wrap=True, markup=False, highlight=False)
    console.print(f"AstrID on http://{host}:{port}/ (API docs: /api/docs)", soft_wrap=True)
    uvicorn.run(
        create_app(service=service),
        host=host,
        port=port,
        log_level="info" if verbose else "warning",
        access_log=verbose,
        server_header=False,
    )


keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is shown once).")
app.add_typer(keys_app, name="keys")


def _open_catalog(data_dir: Path | None, db: str | None) -> Catalog:
    from astrid.catalog import connect

    return connect(_settings(data_dir, db).db_url)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="viewer, curator or admin.")] = "viewer",
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Create an API key with ROLE and print it (once)."""
    from astrid.catalog.access import create_api_key

    try:
        with _open_catalog(data_dir, db) as catalog:
            key, record = create_api_key(catalog, name=name, role=role, actor="astrid keys")
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(f"key {record.id} ({record.name}, {record.role}):", soft_wrap=True)
    console.print(key, soft_wrap=True, markup=False, highlight=False)


@keys_app.command("list")
def keys_list(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """List API keys (prefixes only)."""
    from astrid.catalog.access import list_api_keys

    try:
        with _open_catalog(data_dir, db) as catalog:
            records = list_api_keys(catalog)
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    table = RichTable(title="API keys")
    for col in ("id", "name", "prefix", "role", "created", "last used", "revoked"):
        table.add_column(col)
    for k in records:
        table.add_row(
            str(k.id),
            escape(k.name),
            k.prefix + "…",
            k.role,
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never",
            k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="Id of the key (see astrid keys list).")],
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Revoke an API key: it stops working at once."""
    from astrid.catalog.access import revoke_api_key

    try:
        with _open_catalog(data_dir, db) as catalog:
            record = revoke_api_key(catalog, key_id=key_id, actor="astrid keys")
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(f"revoked key {record.id} ({escape(record.name)}, {record.prefix}…)")


def _goto_pair() -> tuple[str, str] | None:
    """The real GOTO pair shipped in the ``zogyp`` wheel (reference, science), if installed."""
    import importlib.util

    spec = importlib.util.find_spec("zogyp")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "test"
    ref, sci = folder / "1.fits", folder / "2.fits"
    return (str(ref), str(sci)) if ref.is_file() and sci.is_file() else None


@app.command()
def train(
    out: Annotated[
        Path | None, typer.Option(help="ONNX file to write (default: DATA_DIR/models/...).")
    ] = None,
    sets_dir: Annotated[
        Path | None, typer.Option(help="Where training sets live (default DATA_DIR/training).")
    ] = None,
    n_train: Annotated[int, typer.Option(help="Simulated training fields.")] = 40,
    n_val: Annotated[int, typer.Option(help="Simulated validation fields.")] = 8,
    n_test: Annotated[int, typer.Option(help="Simulated test fields (held-out PSFs).")] = 12,
    size: Annotated[int, typer.Option(help="Side of the simulated fields (pixels).")] = 1024,
    seed: Annotated[int, typer.Option(help="Seed of the data and of the training.")] = 0,
    real_pair: Annotated[
        list[str] | None,
        typer.Option(help="REF.fits,SCI.fits of a real pair to inject into (repeatable)."),
    ] = None,
    goto: Annotated[
        bool, typer.Option(help="Use the real GOTO pair of the zogyp wheel when installed.")
    ] = True,
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping on val).")] = 20,
    epoch_size: Annotated[int, typer.Option(help="Candidates drawn per epoch.")] = 30_000,
    exclude_kind: Annotated[
        list[str] | None, typer.Option(help="Leave this kind out of training (repeatable).")
    ] = None,
    activate: Annotated[bool, typer.Option(help="Make the new version the active one.")] = True,
    workers: Annotated[int, typer.Option(help="Processes building the data (0 = cores).")] = 0,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Build (or reuse) the training set, train, evaluate, export ONNX, register a version.

    Needs the ``train`` extra (PyTorch). With MLFLOW_TRACKING_URI set, the run is also
    logged to MLflow (params, metrics, the model file).
    """
    import os

    _setup_logging(verbose)
    try:
        from astrid.training import (
            RealBogusTrainConfig,
            TrainingSetConfig,
            build_training_set,
            load_training_set,
            train_and_export,
        )
    except ImportError as e:
        _print_error(
            ImportError(f"astrid train needs the train extra: pip install 'astrid[train]' ({e})")
        )
        raise typer.Exit(2) from e
    from astrid.catalog import connect
    from astrid.pipeline.scoring import register_model_file

    settings = _settings(data_dir, db)
    pairs: list[tuple[str, str]] = []
    for text in real_pair or []:
        ref, _, sci = text.partition(",")
        if not sci:
            raise typer.BadParameter(f"--real-pair {text!r}: give REF.fits,SCI.fits")
        pairs.append((ref, sci))
    if goto and (pair := _goto_pair()) is not None:
        pairs.append(pair)
    try:
        set_config = TrainingSetConfig(
            n_train=n_train,
            n_val=n_val,
            n_test=n_test,
            shape=(size, size),
            seed=seed,
            real_pairs=tuple(pairs),
        )
        train_config = RealBogusTrainConfig(
            epochs=epochs,
            epoch_size=epoch_size,
            seed=seed,
            exclude_kinds=tuple(exclude_kind or ()),
        )
        root = sets_dir or settings.data_dir / "training"
        with console.status("building the training set (resumes if interrupted)") as status:

            def on_unit(name: str, n: int, seconds: float) -> None:
                status.update(f"training set: {name} done ({n} candidates, {seconds:.0f} s)")

            directory = build_training_set(
                set_config, root, workers=workers or (os.cpu_count() or 1), on_unit=on_unit
            )
        data = load_training_set(directory)
        console.print(f"training set {directory}: {len(data)} candidates", soft_wrap=True)
        target = out or settings.data_dir / "models" / f"realbogus-{data.digest[:12]}.onnx"
        with console.status("training") as status:

            def on_epoch(row: dict[str, float]) -> None:
                status.update(
                    f"epoch {row['epoch']:.0f}: train loss {row['train_loss']:.4f}, "
                    f"val loss {row['val_loss']:.4f}, val AUC {row['val_auc']:.4f}"
                )

            path, card = train_and_export(
                data, target, train_config, data_config=set_config.as_dict(), on_epoch=on_epoch
            )
        with connect(settings.db_url) as catalog:
            record = register_model_file(
                catalog, ObjectStore(settings.store_root), path, activate=activate
            )
        if os.environ.get("MLFLOW_TRACKING_URI"):
            from astrid.training import log_to_mlflow

            log_to_mlflow(path, card)
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    test = card["metrics"]["test"]
    table = RichTable(title=f"realbogus v{record.version} ({card['version']}) on the test set")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in ("auc", "fnr_at_operating", "fpr_at_operating", "fnr_at_fpr_1pct"):
        table.add_row(name, f"{test[name]:.4f}")
    table.add_row("fpr_at_fnr_1pct", f"{test['fpr_at_fnr_1pct']:.4f}")
    table.add_row("ood > 0.99 (in-distribution)", f"{test['ood_flag_rate_0.99']:.4f}")
    console.print(table)
    state = "active" if record.active else "not active"
    console.print(f"model: {path} (registered as v{record.version}, {state})", soft_wrap=True)


@app.command("train-unet")
def train_unet(
    training_set: Annotated[
        Path,
        typer.Option(
            "--set", help="Training set folder with S_corr/D maps (built by `astrid train`)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="ONNX file to write.")],
    width: Annotated[int | None, typer.Option(help="U-Net first-level channels.")] = None,
    crop: Annotated[int | None, typer.Option(help="Training window side (pixels).")] = None,
    batch: Annotated[int | None, typer.Option(help="Crops per optimiser step.")] = None,
    steps: Annotated[int | None, typer.Option(help="Most optimiser steps.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    pos_weight: Annotated[float | None, typer.Option(help="BCE weight of positives.")] = None,
    min_snr: Annotated[float | None, typer.Option(help="Faintest real change as target.")] = None,
    eval_every: Annotated[int | None, typer.Option(help="Steps between val losses.")] = None,
    patience: Annotated[int | None, typer.Option(help="Val losses without gain to stop.")] = None,
    val_crops: Annotated[int | None, typer.Option(help="Fixed val crops.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of crops and initialisation.")] = None,
    threads: Annotated[int | None, typer.Option(help="PyTorch threads.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train the U-Net detector on a training set's maps and export it to ONNX.

    Options left out take the defaults of `astrid.training.UNetTrainConfig`. Needs the
    ``train`` extra (PyTorch).
    """
    _setup_logging(verbose)
    try:
        from astrid.training import UNetTrainConfig, train_unet_from_set
    except ImportError as e:
        _print_error(
            ImportError(
                f"astrid train-unet needs the train extra: pip install 'astrid[train]' ({e})"
            )
        )
        raise typer.Exit(2) from e
    given: dict[str, Any] = {
        "width": width,
        "crop": crop,
        "batch": batch,
        "steps": steps,
        "lr": lr,
        "pos_weight": pos_weight,
        "min_snr": min_snr,
        "eval_every": eval_every,
        "patience": patience,
        "val_crops": val_crops,
        "seed": seed,
        "threads": threads,
    }
    config = UNetTrainConfig(**{k: v for k, v in given.items() if v is not None})
    try:
        with console.status("training the U-Net"):
            path, trained = train_unet_from_set(training_set, out, config)
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(
        f"model: {path} (best step {trained.best_step}, val loss "
        f"{trained.best_val_loss:.4f}, {trained.seconds:.0f} s)",
        soft_wrap=True,
    )


@app.command()
def rescore(
    model_version: Annotated[
        int | None, typer.Option(help="Registered version (default: the active one).")
    ] = None,
    model_file: Annotated[
        Path | None, typer.Option(help="Register this ONNX file (active) and score with it.")
    ] = None,
    run_id: Annotated[
        list[int] | None, typer.Option(help="Only this run (repeatable; default all done runs).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Score stored candidates again with a model version; records the version per candidate."""
    from astrid.catalog import connect
    from astrid.pipeline.scoring import register_model_file, resolve_model
    from astrid.pipeline.scoring import rescore as rescore_runs

    _setup_logging(verbose)
    settings = _settings(data_dir, db)
    store = ObjectStore(settings.store_root)
    try:
        with connect(settings.db_url) as catalog:
            if model_file is not None:
                model_version = register_model_file(catalog, store, model_file).version
            model = resolve_model(catalog, store, version=model_version)
            n = rescore_runs(catalog, store, model, run_ids=run_id or None)
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(f"scored {n} candidates with {model.label}")


models_app = typer.Typer(help="Registered real/bogus model versions.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """List model versions with their test metrics."""
    from astrid.catalog import connect
    from astrid.catalog.model_registry import list_models

    try:
        with connect(_settings(data_dir, db).db_url) as catalog:
            records = list_models(catalog)
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    table = RichTable(title="Model versions")
    for col in ("name", "version", "active", "created", "card version", "test AUC", "test FNR"):
        table.add_column(col)
    for r in records:
        test = r.metrics.get("test", {})
        table.add_row(
            r.name,
            str(r.version),
            "yes" if r.active else "",
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            str(r.card.get("version", "")),
            f"{test['auc']:.4f}" if "auc" in test else "",
            f"{test['fnr_at_operating']:.4f}" if "fnr_at_operating" in test else "",
        )
    console.print(table)


@models_app.command("activate")
def models_activate(
    version: Annotated[int, typer.Argument(help="Version number (see astrid models list).")],
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (ASTRID_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Make VERSION the active real/bogus model (used by astrid run from now on)."""
    from astrid.catalog import connect
    from astrid.catalog.model_registry import activate_model
    from astrid.pipeline.scoring import MODEL_NAME

    try:
        with connect(_settings(data_dir, db).db_url) as catalog:
            record = activate_model(catalog, MODEL_NAME, version)
    except AstridError as e:
        _print_error(e)
        raise typer.Exit(2) from e
    console.print(f"active: {record.name} v{record.version}")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


if __name__ == "__main__":
    app()
