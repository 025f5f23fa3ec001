"""The `astrid` command's conventions: --version, help on every option, readable metavars,
--workers, and the note when the data directory is created."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
import typer
from typer.testing import CliRunner

from astrid import __version__
from astrid.cli import app
from astrid.errors import AstridError

runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree, with the words that invoke it."""
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))
EACH = [pytest.param(path, command, id=" ".join(path) or "astrid") for path, command in COMMANDS]


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"run", "demo", "evaluate", "masters", "serve", "train", "train-unet"} <= names
    assert {"keys list", "keys create", "models activate", "rescore", "version"} <= names


@pytest.mark.parametrize(("path", "command"), EACH)
def test_every_option_and_argument_has_help(path: tuple[str, ...], command: Any) -> None:
    context = click.Context(command, info_name="astrid")
    missing = [p.name for p in command.get_params(context) if not getattr(p, "help", None)]
    assert missing == [], f"astrid {' '.join(path)}: no help for {missing}"


@pytest.mark.parametrize(("path", "command"), EACH)
def test_help_shows_metavars_not_python_types(path: tuple[str, ...], command: Any) -> None:
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)

    assert result.exit_code == 0, result.output
    assert re.findall(r"<[A-Za-z][^>]*>", result.output) == []  # <bool>, <list[Path]>, <path>


def test_run_help_names_files_and_folders() -> None:
    output = runner.invoke(app, ["run", "--help"], terminal_width=200).output

    assert "[OPTIONS] {FILE}..." in output
    assert re.search(r"--reference\s+-r\s+FILE\s", output)
    assert re.search(r"--out\s+-o\s+DIR\s", output)
    assert re.search(r"--data-dir\s+DIR\s", output)
    assert re.search(r"--db\s+URL\s", output)
    assert re.search(r"--verbose\s+-v\s+Log ", output)  # a flag: no metavar, and help


def test_version_option_and_command() -> None:
    for args in (["--version"], ["version"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == __version__


class _StopAtRun:
    """Stands in for `Pipeline`: records how it was built, then stops the command."""

    built: ClassVar[dict[str, Any]] = {}

    def __init__(self, catalog: Any, store: Any, config: Any, **options: Any) -> None:
        type(self).built = options
        self.catalog, self.store = catalog, store

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise AstridError("stopped by the test")


@pytest.mark.parametrize(
    ("flags", "env", "workers"),
    [(["--workers", "3"], None, 3), ([], "2", 2), (["--workers", "1"], "5", 1), ([], None, 0)],
    ids=["flag", "environment", "flag-over-environment", "default"],
)
def test_run_workers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    env: str | None,
    workers: int,
) -> None:
    if env is not None:
        monkeypatch.setenv("ASTRID_WORKERS", env)
    monkeypatch.setattr("astrid.cli.run.Pipeline", _StopAtRun)
    args = ["run", "-r", "ref.fits", "--data-dir", str(tmp_path), *flags, "sci.fits"]
    result = runner.invoke(app, args)

    assert result.exit_code == 2, result.output
    assert "stopped by the test" in result.output
    assert _StopAtRun.built["workers"] == workers


def test_a_new_data_directory_is_announced_once(tmp_path: Path) -> None:
    data = tmp_path / "new-data"
    first = runner.invoke(app, ["keys", "list", "--data-dir", str(data)], terminal_width=300)
    again = runner.invoke(app, ["keys", "list", "--data-dir", str(data)], terminal_width=300)

    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert f"created the data directory {data.resolve()}" in first.output
    assert "created the data directory" not in again.output


def test_the_default_data_directory_is_announced_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["models", "list"], terminal_width=300)

    assert result.exit_code == 0, result.output
    assert f"created the data directory {(tmp_path / 'astrid-data').resolve()}" in result.output
