"""``astrid train``, ``train-unet``, ``rescore`` and ``models``: the real/bogus models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table as RichTable

from astrid.catalog import connect
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    app,
    command_group,
    console,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.errors import AstridError
from astrid.store import ObjectStore

#: Fine-tuning: a tenth of the training learning rate, and at least this many draws an epoch.
FINETUNE_LR = 3e-4
FINETUNE_MIN_EPOCH = 4096


def _goto_pair() -> tuple[str, str] | None:
    """The real GOTO pair shipped in the ``zogyp`` wheel (reference, science), if installed."""
    import importlib.util

    spec = importlib.util.find_spec("zogyp")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "test"
    ref, sci = folder / "1.fits", folder / "2.fits"
    return (str(ref), str(sci)) if ref.is_file() and sci.is_file() else None


def _needs_train_extra(command: str, error: ImportError) -> typer.Exit:
    """Say which extra is missing; the exit to raise."""
    print_error(
        ImportError(
            f"astrid {command} needs the train extra: pip install 'astrid[train]' ({error})"
        )
    )
    return typer.Exit(2)


@app.command(cls=Command)
def train(
    out: Annotated[
        Path | None,
        typer.Option(help="ONNX file to write (default: DATA_DIR/models/...).", metavar="FILE"),
    ] = None,
    sets_dir: Annotated[
        Path | None,
        typer.Option(help="Where training sets live (default DATA_DIR/training).", metavar="DIR"),
    ] = None,
    n_train: Annotated[int, typer.Option(help="Simulated training fields.")] = 48,
    n_val: Annotated[int, typer.Option(help="Simulated validation fields.")] = 8,
    n_test: Annotated[
        int, typer.Option(help="Simulated test fields (half in a held-out PSF band).")
    ] = 16,
    size: Annotated[int, typer.Option(help="Side of the simulated fields (pixels).")] = 1024,
    seed: Annotated[int, typer.Option(help="Seed of the data and of the training.")] = 0,
    real_pair: Annotated[
        list[str] | None,
        typer.Option(
            help="REF.fits,SCI.fits of a real pair to inject into (repeatable); units are "
            "named real-NN in this order, after the GOTO pair (real-00) when used.",
            metavar="REF,SCI",
        ),
    ] = None,
    goto: Annotated[
        bool, typer.Option(help="Use the real GOTO pair of the zogyp wheel when installed.")
    ] = True,
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping on val).")] = 20,
    epoch_size: Annotated[int, typer.Option(help="Candidates drawn per epoch.")] = 30_000,
    exclude_kind: Annotated[
        list[str] | None,
        typer.Option(help="Leave this kind out of training (repeatable).", metavar="KIND"),
    ] = None,
    exclude_source: Annotated[
        list[str] | None,
        typer.Option(
            help="Leave this unit out of training, e.g. real-00 or real-* (leave one "
            "instrument out; repeatable).",
            metavar="UNIT",
        ),
    ] = None,
    activate: Annotated[bool, typer.Option(help="Make the new version the active one.")] = True,
    workers: Annotated[int, typer.Option(help="Processes building the data (0 = cores).")] = 0,
    with_labels: Annotated[
        bool,
        typer.Option(
            "--with-labels",
            help="Fine-tune the active model on the curators' labels instead (see below).",
        ),
    ] = False,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="With --with-labels: a training set folder whose train/val candidates are "
            "mixed in, so the model keeps what it knew.",
            metavar="DIR",
        ),
    ] = None,
    held_out: Annotated[
        float, typer.Option(help="With --with-labels: share of the labels held out to judge.")
    ] = 0.25,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
    verbose: Verbose = False,
) -> None:
    """Build (or reuse) the training set, train, evaluate, export ONNX, register a version.

    With --with-labels, fine-tune the active model instead on the candidates the curators
    agree on (a stable share held out), and register the result only if it beats the
    active model on the held-out labels. Needs the ``train`` extra (PyTorch). With
    MLFLOW_TRACKING_URI set, the run is also logged to MLflow (params, metrics, the file).
    """
    setup_logging(verbose)
    if with_labels:
        _finetune_on_labels(
            data_dir, db, out=out, replay=replay, held_out=held_out, seed=seed, epochs=epochs
        )
        return
    try:
        from astrid.training import (
            RealBogusTrainConfig,
            TrainingSetConfig,
            build_training_set,
            load_training_set,
            train_and_export,
        )
    except ImportError as e:
        raise _needs_train_extra("train", e) from e
    from astrid.pipeline.scoring import register_model_file

    # The GOTO pair first (unit real-00), then the given ones: real-01, real-02, ...
    pairs: list[tuple[str, str]] = []
    if goto and (pair := _goto_pair()) is not None:
        pairs.append(pair)
    for text in real_pair or []:
        ref, _, sci = text.partition(",")
        if not sci:
            raise typer.BadParameter(f"--real-pair {text!r}: give REF.fits,SCI.fits")
        pairs.append((ref, sci))
    with open_settings(data_dir, db) as settings:
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
                exclude_sources=tuple(exclude_source or ()),
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
            print_error(e)
            raise typer.Exit(2) from e
    split = "test" if "test" in card["metrics"] else "val"
    test = card["metrics"][split]
    table = RichTable(title=f"realbogus v{record.version} ({card['version']}) on the {split} set")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in ("auc", "fnr_at_operating", "fpr_at_operating", "fnr_at_fpr_1pct"):
        table.add_row(name, f"{test[name]:.4f}")
    table.add_row("fpr_at_fnr_1pct", f"{test['fpr_at_fnr_1pct']:.4f}")
    table.add_row("ood > 0.99 (in-distribution)", f"{test['ood_flag_rate_0.99']:.4f}")
    console.print(table)
    state = "active" if record.active else "not active"
    console.print(f"model: {path} (registered as v{record.version}, {state})", soft_wrap=True)


def _finetune_on_labels(
    data_dir: Path | None,
    db: str | None,
    *,
    out: Path | None,
    replay: Path | None,
    held_out: float,
    seed: int,
    epochs: int,
) -> None:
    """``astrid train --with-labels``: fine-tune the active model on curator labels."""
    try:
        from astrid.training import RealBogusTrainConfig, load_training_set, train_and_export
        from astrid.training.finetune import compare_models, concat_sets, labelled_set
    except ImportError as e:
        raise _needs_train_extra("train --with-labels", e) from e
    from astrid.pipeline.labelled import labelled_candidates
    from astrid.pipeline.scoring import register_model_file, resolve_model

    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        store = ObjectStore(settings.store_root)
        try:
            base = resolve_model(catalog, store)
            found = labelled_candidates(catalog, store)
            directory = settings.data_dir / "training" / "labels"
            labels = labelled_set(
                found.rows,
                found.triplets,
                found.label,
                found.kind,
                directory=directory,
                held_out=held_out,
                seed=seed,
            )
            console.print(
                f"{len(labels)} labelled candidates ({int(labels.label.sum())} real; "
                f"{found.missing_cutouts} left out without cutouts); split "
                + ", ".join(
                    f"{k} {int(np.sum(labels.split == k))}" for k in ("train", "val", "test")
                ),
                soft_wrap=True,
            )
            data = labels
            if replay is not None:
                old = load_training_set(replay)
                data = concat_sets(labels, old.subset(old.split != "test"), directory=directory)
            config = RealBogusTrainConfig(
                epochs=epochs,
                lr=FINETUNE_LR,
                min_epoch_size=FINETUNE_MIN_EPOCH,
                seed=seed,
                init_from=str(base.path),
            )
            target = (
                out or settings.data_dir / "models" / f"realbogus-labels-{labels.digest[:12]}.onnx"
            )
            with console.status("fine-tuning on the labels"):
                path, _ = train_and_export(data, target, config)
            verdict = compare_models(base.path, path, labels.subset(labels.split == "test"))
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
        table = RichTable(title=f"held-out labels ({verdict['n']}, {verdict['n_real']} real)")
        table.add_column("metric")
        table.add_column(f"active v{base.version}", justify="right")
        table.add_column("fine-tuned", justify="right")
        for name in ("auc", "fnr_at_fpr_1pct", "fpr_at_operating", "fnr_at_operating"):
            table.add_row(name, f"{verdict['base'][name]:.4f}", f"{verdict['new'][name]:.4f}")
        console.print(table)
        if not verdict["better"]:
            console.print(f"not registered: it does not beat the active model ({path} kept)")
            return
        record = register_model_file(catalog, store, path, activate=True)
        console.print(f"model: {path} (registered as v{record.version}, active)", soft_wrap=True)


@app.command("train-unet", cls=Command)
def train_unet(
    training_set: Annotated[
        Path,
        typer.Option(
            "--set",
            help="Training set folder with S_corr/D maps (built by `astrid train`).",
            metavar="DIR",
        ),
    ],
    out: Annotated[Path, typer.Option(help="ONNX file to write.", metavar="FILE")],
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
    verbose: Verbose = False,
) -> None:
    """Train the U-Net detector on a training set's maps and export it to ONNX.

    Options left out take the defaults of `astrid.training.UNetTrainConfig`. Needs the
    ``train`` extra (PyTorch).
    """
    setup_logging(verbose)
    try:
        from astrid.training import UNetTrainConfig, train_unet_from_set
    except ImportError as e:
        raise _needs_train_extra("train-unet", e) from e
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
        print_error(e)
        raise typer.Exit(2) from e
    console.print(
        f"model: {path} (best step {trained.best_step}, val loss "
        f"{trained.best_val_loss:.4f}, {trained.seconds:.0f} s)",
        soft_wrap=True,
    )


@app.command(cls=Command)
def rescore(
    model_version: Annotated[
        int | None, typer.Option(help="Registered version (default: the active one).")
    ] = None,
    model_file: Annotated[
        Path | None,
        typer.Option(help="Register this ONNX file (active) and score with it.", metavar="FILE"),
    ] = None,
    run_id: Annotated[
        list[int] | None,
        typer.Option(help="Only this run (repeatable; default all done runs).", metavar="ID"),
    ] = None,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
    verbose: Verbose = False,
) -> None:
    """Score stored candidates again with a model version; records the version per candidate."""
    from astrid.pipeline.scoring import register_model_file, resolve_model
    from astrid.pipeline.scoring import rescore as rescore_runs

    setup_logging(verbose)
    with open_settings(data_dir, db) as settings:
        store = ObjectStore(settings.store_root)
        try:
            with connect(settings.db_url) as catalog:
                if model_file is not None:
                    model_version = register_model_file(catalog, store, model_file).version
                model = resolve_model(catalog, store, version=model_version)
                n = rescore_runs(catalog, store, model, run_ids=run_id or None)
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
    console.print(f"scored {n} candidates with {model.label}")


models_app = command_group("Registered real/bogus model versions.")
app.add_typer(models_app, name="models")


@models_app.command("list", cls=Command)
def models_list(data_dir: DataDir = None, db: DatabaseUrl = None) -> None:
    """List model versions with their test metrics."""
    from astrid.catalog.model_registry import list_models

    try:
        with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
            records = list_models(catalog)
    except AstridError as e:
        print_error(e)
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


@models_app.command("activate", cls=Command)
def models_activate(
    version: Annotated[
        int, typer.Argument(help="Version number (see astrid models list).", metavar="VERSION")
    ],
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Make VERSION the active real/bogus model (used by astrid run from now on)."""
    from astrid.catalog.model_registry import activate_model
    from astrid.pipeline.scoring import MODEL_NAME

    try:
        with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
            record = activate_model(catalog, MODEL_NAME, version)
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    console.print(f"active: {record.name} v{record.version}")
