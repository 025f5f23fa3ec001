"""``astrid context``: install, list, add and remove offline context catalogues."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from astrid.cli import Command, DataDir, app, command_group, console, make_settings, print_error
from astrid.context.catalogues import KINDS, Kind
from astrid.context.install import add_catalogue, install_catalogues
from astrid.context.registry import read_registry, remove_catalogue
from astrid.errors import AstridError, ConfigurationError

context_app = command_group("Offline catalogues for context (VSX, GCVS, 3HSP, 4LAC, Mangrove).")
app.add_typer(context_app, name="context")


def _directory(data_dir: Path | None) -> Path:
    settings = make_settings(data_dir)
    assert settings.context_dir is not None  # filled by the settings validator
    return settings.context_dir


@context_app.command(cls=Command)
def install(
    source: Annotated[
        Path | None,
        typer.Argument(help="fink-science wheel or folder; default: pip download", metavar="PATH"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Install the built-in catalogues into the context folder of the data directory."""
    try:
        report = install_catalogues(source, _directory(data_dir))
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    for name, rows in report.installed.items():
        console.print(f"{escape(name)}: {rows} rows")
    for problem in report.problems:
        console.print(f"[yellow]{escape(problem)}[/yellow]", soft_wrap=True)
    if not report.installed:
        raise typer.Exit(1)


@context_app.command(name="list", cls=Command)
def list_catalogues(data_dir: DataDir = None) -> None:
    """List the installed catalogues."""
    try:
        registry = read_registry(_directory(data_dir))
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    table = RichTable("name", "rows", "radius (arcsec)", "source")
    for name, entry in registry.items():
        spec = entry.get("spec", {})
        radius = spec.get("radius_arcsec", "") if isinstance(spec, dict) else ""
        table.add_row(
            escape(name), str(entry.get("rows")), str(radius), escape(str(entry.get("source")))
        )
    console.print(table)


@context_app.command(cls=Command)
def add(
    path: Annotated[Path, typer.Argument(help="CSV, ECSV, FITS or parquet table.", metavar="FILE")],
    name: Annotated[str, typer.Option(help="Catalogue name.", metavar="NAME")],
    ra_col: Annotated[str, typer.Option(help="RA column (degrees or hours).", metavar="COLUMN")],
    dec_col: Annotated[str, typer.Option(help="Dec column (degrees).", metavar="COLUMN")],
    name_col: Annotated[
        str | None, typer.Option(help="Source-name column.", metavar="COLUMN")
    ] = None,
    type_col: Annotated[
        str | None, typer.Option(help="Source-type column.", metavar="COLUMN")
    ] = None,
    kind: Annotated[
        str, typer.Option(help=f"One of {', '.join(KINDS)}.", metavar="KIND")
    ] = "variable_star",
    radius: Annotated[float, typer.Option(help="Match radius in arcsec.")] = 2.0,
    data_dir: DataDir = None,
) -> None:
    """Register your own table as a catalogue."""
    try:
        if kind not in KINDS:
            raise ConfigurationError(f"--kind {kind!r} is not one of {KINDS}")
        kind_t: Kind = kind  # type: ignore[assignment]
        rows = add_catalogue(
            path,
            name,
            ra_col=ra_col,
            dec_col=dec_col,
            name_col=name_col,
            type_col=type_col,
            kind=kind_t,
            radius_arcsec=radius,
            directory=_directory(data_dir),
        )
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    console.print(f"{escape(name)}: {rows} rows")


@context_app.command(cls=Command)
def remove(
    name: Annotated[str, typer.Argument(help="Catalogue to remove.", metavar="NAME")],
    data_dir: DataDir = None,
) -> None:
    """Remove an installed catalogue."""
    try:
        remove_catalogue(name, _directory(data_dir))
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    console.print(f"removed {escape(name)}")
