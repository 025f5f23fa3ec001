"""``astrid alerts``: filters, subscriptions, and sending what is queued.

``astrid alerts filters add NAME EXPRESSION`` checks and saves a filter (a bad one is shown
with a caret under the error), ``filters try EXPRESSION`` counts the alerts of the last days
it passes, ``subscriptions add NAME --filter F --webhook URL --secret S`` (or
``--directory``, ``--email``, ``--kafka-topic``) connects one to a destination, ``deliver``
sends what is due, ``dead-letters`` lists what could not be delivered.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from astrid.alerts.filter_language import FilterSyntaxError
from astrid.catalog import connect
from astrid.catalog.deliveries import delivery_counts, list_deliveries
from astrid.catalog.subscriptions import (
    delete_filter,
    delete_subscription,
    list_filters,
    list_subscriptions,
)
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    app,
    command_group,
    console,
    open_settings,
    print_error,
)
from astrid.errors import AstridError
from astrid.pipeline.delivery_stage import DeliveryStage
from astrid.service.subscriptions import save_filter, save_subscription, try_filter
from astrid.store import ObjectStore

alerts_app = command_group("Alert filters, subscriptions and delivery.")
filters_app = command_group("Named filters over alert fields (docs/alert_filters.md).")
subscriptions_app = command_group("Subscriptions: a filter connected to a destination.")
app.add_typer(alerts_app, name="alerts")
alerts_app.add_typer(filters_app, name="filters")
alerts_app.add_typer(subscriptions_app, name="subscriptions")


def show_filter_error(error: FilterSyntaxError) -> None:
    """The expression with a caret under the error, then the message."""
    console.print(escape(error.pointer()), soft_wrap=True, highlight=False)
    print_error(error)


@filters_app.command("add", cls=Command)
def add_filter(
    name: Annotated[str, typer.Argument(help="Filter name.", metavar="NAME")],
    expression: Annotated[str, typer.Argument(help="Filter expression.", metavar="EXPRESSION")],
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Check and save a named filter."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        try:
            record = save_filter(catalog, name=name, expression=expression, description=description)
        except FilterSyntaxError as e:
            show_filter_error(e)
            raise typer.Exit(2) from e
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
    console.print(f"filter {escape(record.name)} saved")


@filters_app.command("list", cls=Command)
def filters(data_dir: DataDir = None, db: DatabaseUrl = None) -> None:
    """List the saved filters."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        table = RichTable("name", "expression", "description")
        for f in list_filters(catalog):
            table.add_row(escape(f.name), escape(f.expression), escape(f.description or ""))
    console.print(table)


@filters_app.command("try", cls=Command)
def try_expression(
    expression: Annotated[
        str, typer.Argument(help="Expression, or the name of a saved filter.", metavar="EXPR")
    ],
    days: Annotated[float, typer.Option(min=0.001, help="Alerts of the last DAYS.")] = 7.0,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Count the alerts of the last days that an expression passes."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        saved = {f.name: f.expression for f in list_filters(catalog)}
        try:
            trial = try_filter(catalog, saved.get(expression, expression), days=days)
        except FilterSyntaxError as e:
            show_filter_error(e)
            raise typer.Exit(2) from e
    console.print(
        f"{trial.passed} of {trial.total} alerts of the last {days:g} days pass", highlight=False
    )
    for fields in trial.examples:
        console.print(
            escape(
                f"  alert {fields.get('alert_id')}: {fields.get('object_name')} "
                f"rb={fields.get('rb')} mag={fields.get('mag')} band={fields.get('band')}"
            ),
            highlight=False,
        )


@filters_app.command("delete", cls=Command)
def remove_filter(
    name: Annotated[str, typer.Argument(help="Filter name.", metavar="NAME")],
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Delete a filter (refused while a subscription uses it)."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        try:
            found = delete_filter(catalog, name)
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
    if not found:
        print_error(ValueError(f"no filter named {name!r}"))
        raise typer.Exit(1)
    console.print(f"filter {escape(name)} deleted")


def _destination(
    directory: str | None,
    webhook: str | None,
    email: str | None,
    kafka_topic: str | None,
    smtp: dict[str, Any],
    bootstrap_servers: str | None,
) -> tuple[str, str, dict[str, Any]]:
    chosen = [
        (kind, target, options)
        for kind, target, options in (
            ("files", directory, {}),
            ("webhook", webhook, {}),
            ("email", email, {k: v for k, v in smtp.items() if v is not None}),
            ("kafka", kafka_topic, {"bootstrap_servers": bootstrap_servers}),
        )
        if target
    ]
    if len(chosen) != 1:
        raise typer.BadParameter(
            "give exactly one destination: --directory, --webhook, --email or --kafka-topic"
        )
    kind, target, options = chosen[0]
    assert target is not None
    return kind, target, options


@subscriptions_app.command("add", cls=Command)
def add_subscription(
    name: Annotated[str, typer.Argument(help="Subscription name.", metavar="NAME")],
    filter_name: Annotated[str, typer.Option("--filter", help="Saved filter.", metavar="NAME")],
    directory: Annotated[
        str | None, typer.Option(help="Write packets to a folder or fsspec URL.", metavar="URL")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="POST each alert, HMAC-signed, to URL.", metavar="URL")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            help="Webhook HMAC key or SMTP password.", envvar="ASTRID_SUBSCRIPTION_SECRET"
        ),
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Comma-separated recipients of digests.", metavar="ADDRS")
    ] = None,
    smtp_host: Annotated[
        str | None, typer.Option(help="SMTP server of the digests.", metavar="HOST")
    ] = None,
    smtp_port: Annotated[
        int | None, typer.Option(help="Its port (25, or 587 with STARTTLS).", metavar="PORT")
    ] = None,
    sender: Annotated[str | None, typer.Option(help="From address.", metavar="ADDR")] = None,
    kafka_topic: Annotated[
        str | None, typer.Option(help="Produce each packet to this Kafka topic.", metavar="TOPIC")
    ] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers, host:port,...", metavar="HOSTS")
    ] = None,
    max_attempts: Annotated[
        int, typer.Option(min=1, max=100, help="Attempts before a delivery is given up.")
    ] = 8,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Connect a saved filter to a destination."""
    smtp = {"host": smtp_host, "port": smtp_port, "sender": sender}
    kind, target, options = _destination(
        directory, webhook, email, kafka_topic, smtp, bootstrap_servers
    )
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        try:
            record = save_subscription(
                catalog,
                name=name,
                filter_name=filter_name,
                kind=kind,
                target=target,
                options=options,
                secret=secret,
                max_attempts=max_attempts,
            )
        except AstridError as e:
            print_error(e)
            raise typer.Exit(2) from e
    console.print(f"subscription {escape(record.name)}: {record.kind} {escape(record.target)}")


@subscriptions_app.command("list", cls=Command)
def subscriptions(data_dir: DataDir = None, db: DatabaseUrl = None) -> None:
    """List the subscriptions with their delivery counts."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        counts = delivery_counts(catalog)
        table = RichTable("name", "filter", "destination", "active", "deliveries")
        for s in list_subscriptions(catalog):
            table.add_row(
                escape(s.name),
                escape(s.filter_name),
                escape(f"{s.kind} {s.target}"),
                "yes" if s.active else "no",
                escape(json.dumps(counts.get(s.id, {}), sort_keys=True)),
            )
    console.print(table)


@subscriptions_app.command("delete", cls=Command)
def remove_subscription(
    name: Annotated[str, typer.Argument(help="Subscription name.", metavar="NAME")],
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Delete a subscription and its delivery records."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        found = delete_subscription(catalog, name)
    if not found:
        print_error(ValueError(f"no subscription named {name!r}"))
        raise typer.Exit(1)
    console.print(f"subscription {escape(name)} deleted")


@alerts_app.command("deliver", cls=Command)
def deliver(
    budget: Annotated[
        float, typer.Option(min=0.1, help="Stop starting new batches after SECONDS.")
    ] = 60.0,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """Send the queued alerts that are due (retries included)."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        stage = DeliveryStage(catalog, ObjectStore(settings.store_root))
        report = stage.deliver(budget_s=budget)
    console.print(
        f"{report.delivered} delivered, {report.failed} failed ({report.dead} given up) "
        f"in {report.seconds:.1f} s"
    )
    for name, error in sorted(report.errors.items()):
        console.print(escape(f"{name}: {error}"), style="yellow", soft_wrap=True)
    if "catalog" in report.errors:
        raise typer.Exit(2)


@alerts_app.command("dead-letters", cls=Command)
def dead_letters(
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Show at most N.", metavar="N")] = 50,
    data_dir: DataDir = None,
    db: DatabaseUrl = None,
) -> None:
    """List the deliveries given up on, newest first, with their last error."""
    with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
        names = {s.id: s.name for s in list_subscriptions(catalog)}
        table = RichTable("alert", "subscription", "attempts", "last error")
        for d in list_deliveries(catalog, status="dead", limit=limit):
            table.add_row(
                str(d.alert_id),
                escape(names.get(d.subscription_id, str(d.subscription_id))),
                str(d.attempts),
                escape(d.last_error or ""),
            )
    console.print(table)
