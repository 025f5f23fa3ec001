"""``astrid serve`` and ``astrid keys``: the web service and its API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from astrid.catalog import Catalog, connect
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


@app.command(cls=Command)
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.", metavar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
    verbose: Verbose = False,
) -> None:
    """Serve the API (/api/v1, /openapi.json) and the review web page (/) in one process.

    On first start an admin API key is created and printed once: log in with it. Uploaded
    frames are processed by a worker thread of this process unless ASTRID_SERVE_WORKER is
    false; then run `astrid worker` processes.
    """
    import uvicorn
    from pydantic import ValidationError

    from astrid.app import create_app, open_service
    from astrid.service.state import bootstrap_admin_key

    setup_logging(verbose)
    try:
        with open_settings(data_dir, db) as settings:
            service = open_service(settings)
            first_key = bootstrap_admin_key(service.catalog)
    except (AstridError, ValidationError) as e:
        print_error(e)
        raise typer.Exit(2) from e
    if first_key is not None:
        console.print(
            "[bold]First start: an admin API key was created. It is shown only now; "
            "keep it safe:[/bold]"
        )
        console.print(first_key, soft_wrap=True, markup=False, highlight=False)
    console.print(f"AstrID on http://{host}:{port}/ (API schema: /openapi.json)", soft_wrap=True)
    try:
        uvicorn.run(
            create_app(service=service, run_worker=settings.serve_worker),
            host=host,
            port=port,
            log_level="info" if verbose else "warning",
            access_log=verbose,
            server_header=False,
        )
    finally:  # the app's shutdown closes it too; not when the server never started
        service.close()


keys_app = command_group("Manage API keys (stored hashed; a key is shown once).")
app.add_typer(keys_app, name="keys")


def _catalog(data_dir: Path | None, db: str | None) -> Catalog:
    """The catalog of the settings from these flags (announcing a new data directory)."""
    with open_settings(data_dir, db) as settings:
        return connect(settings.db_url)


@keys_app.command("create", cls=Command)
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.", metavar="NAME")],
    role: Annotated[str, typer.Option(help="viewer, curator or admin.", metavar="ROLE")] = "viewer",
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Create an API key with ROLE and print it (once)."""
    from astrid.catalog.access import create_api_key

    try:
        with _catalog(data_dir, db) as catalog:
            key, record = create_api_key(catalog, name=name, role=role, actor="astrid keys")
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    console.print(f"key {record.id} ({record.name}, {record.role}):", soft_wrap=True)
    console.print(key, soft_wrap=True, markup=False, highlight=False)


@keys_app.command("list", cls=Command)
def keys_list(data_dir: DataDir = None, db: DatabaseUrl = None) -> None:
    """List API keys (prefixes only)."""
    from astrid.catalog.access import list_api_keys

    try:
        with _catalog(data_dir, db) as catalog:
            records = list_api_keys(catalog)
    except AstridError as e:
        print_error(e)
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


@keys_app.command("revoke", cls=Command)
def keys_revoke(
    key_id: Annotated[
        int, typer.Argument(help="Id of the key (see astrid keys list).", metavar="ID")
    ],
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Revoke an API key: it stops working at once."""
    from astrid.catalog.access import revoke_api_key

    try:
        with _catalog(data_dir, db) as catalog:
            record = revoke_api_key(catalog, key_id=key_id, actor="astrid keys")
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    console.print(f"revoked key {record.id} ({escape(record.name)}, {record.prefix}…)")
