"""The `astrid` command: thin wrappers that parse, call the library and render with Rich.

One module per command group (`run`: run, masters, demo, evaluate; `models`: train,
train-unet, rescore, models; `service`: serve, keys); this module holds the Typer `app`
and what they share: settings from flags, the console, error printing, logging and the
help conventions (metavars such as ``FILE`` and ``DIR``, no type labels on flags).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup

from astrid import __version__
from astrid.config import Settings
from astrid.errors import AstridError

__all__ = ["app", "console", "context", "models", "run", "service"]


class _Argument(TyperArgument):
    """An argument whose metavar (``FILE``) says what it takes: no ``<list[Path]>`` label."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


_TYPE_METAVARS = {"int": "INTEGER", "float": "NUMBER", "str": "TEXT", "Path": "PATH"}


def _readable(params: list[Any]) -> list[Any]:
    """Help without ``<type>`` labels: flags show none, other options their type's name."""
    for param in params:
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
        elif getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.metavar is None:
            name = re.sub(r"^list\[(.*)\]$", r"\1", param.bare_type())
            param.metavar = _TYPE_METAVARS.get(name, name.upper())
    return params


class Command(TyperCommand):
    """A command whose help uses readable metavars (see `_readable`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


class Group(TyperGroup):
    """A command group whose help uses readable metavars (see `_readable`)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


def command_group(help_text: str) -> typer.Typer:
    """A Typer group following the CLI's help conventions."""
    return typer.Typer(cls=Group, add_completion=False, help=help_text)


app = command_group("AstrID: find what changed in the sky.")
console = Console()

# Options shared by many commands.
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Data directory: SQLite catalog + object store (ASTRID_DATA_DIR).", metavar="DIR"
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SQLite in the data dir).", metavar="URL"),
]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log what each stage does (INFO level).")
]


def _print_version(value: bool) -> None:
    if value:
        console.print(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """AstrID: find what changed in the sky."""


def print_error(error: Exception) -> None:
    """Print an error unwrapped (paths stay greppable) and never read as Rich markup."""
    console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)


def setup_logging(verbose: bool) -> None:
    """Log through Rich on the console: INFO with ``--verbose``, else warnings only."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


def make_settings(data_dir: Path | None = None, db: str | None = None, **fields: Any) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    overrides: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if db is not None:
        overrides["database_url"] = db
    return Settings.model_validate(overrides)


@contextmanager
def open_settings(
    data_dir: Path | None = None, db: str | None = None, **fields: Any
) -> Iterator[Settings]:
    """`make_settings`, and say so when the data directory did not exist and now does.

    An `AstridError` the command does not handle itself (a catalog or store that cannot be
    reached, say) is printed as one line and exits with status 2, never a traceback.
    """
    settings = make_settings(data_dir, db, **fields)
    existed = settings.data_dir.exists()
    try:
        yield settings
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    finally:
        if not existed and settings.data_dir.is_dir():
            where = escape(str(settings.data_dir.resolve()))
            console.print(
                f"created the data directory {where} (choose another with --data-dir or "
                "ASTRID_DATA_DIR)",
                soft_wrap=True,
            )


@app.command(cls=Command)
def version() -> None:
    """Print the version."""
    console.print(__version__)


# The command groups register themselves on `app`.
from astrid.cli import (  # noqa: E402, F401
    alerts,
    coadd,
    context,
    ingest,
    models,
    references,
    run,
    service,
    templates,
    watch,
    worker,
)
