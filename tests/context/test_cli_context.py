"""`astrid context` add / list / remove through the Typer app."""

from __future__ import annotations

from pathlib import Path

from astropy.table import Table
from typer.testing import CliRunner

from astrid.cli import app


def test_add_list_remove(tmp_path: Path) -> None:
    Table({"RA": ["10:00:00"], "DEC": ["-05:00:00"], "ID": ["X1"]}).write(tmp_path / "m.csv")
    runner = CliRunner()
    dd = str(tmp_path / "data")
    args = [
        "context",
        "add",
        str(tmp_path / "m.csv"),
        "--name",
        "mine",
        "--ra-col",
        "RA",
        "--dec-col",
        "DEC",
        "--name-col",
        "ID",
        "--data-dir",
        dd,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["context", "list", "--data-dir", dd])
    assert result.exit_code == 0 and "mine" in result.output
    assert runner.invoke(app, ["context", "remove", "mine", "--data-dir", dd]).exit_code == 0
    assert runner.invoke(app, ["context", "remove", "mine", "--data-dir", dd]).exit_code == 2
    bad = runner.invoke(app, [*args[:-2], "--kind", "planet", "--data-dir", dd])
    assert bad.exit_code == 2
