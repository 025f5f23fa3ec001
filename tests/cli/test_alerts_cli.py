"""``astrid alerts``: filters (a caret under an error), subscriptions, deliver, dead letters."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from astrid.cli import app

runner = CliRunner()


def _invoke(data: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["alerts", *args, "--data-dir", str(data)])
    return result.exit_code, result.output


def test_filters_are_checked_saved_tried_and_deleted(tmp_path: Path) -> None:
    code, out = _invoke(tmp_path, "filters", "add", "typo", "rb > 0.5 and rbb < 2")
    assert code == 2
    assert "rb > 0.5 and rbb < 2\n" + " " * 13 + "^" in out and "rbb" in out
    code, out = _invoke(tmp_path, "filters", "add", "good", "rb > 0.5", "--description", "d")
    assert code == 0 and "filter good saved" in out
    code, out = _invoke(tmp_path, "filters", "add", "good", "rb > 0.9")
    assert code == 2 and "exists already" in out
    code, out = _invoke(tmp_path, "filters", "list")
    assert code == 0 and "rb > 0.5" in out
    code, out = _invoke(tmp_path, "filters", "try", "good", "--days", "3")
    assert code == 0 and "0 of 0 alerts of the last 3 days pass" in out
    code, out = _invoke(tmp_path, "filters", "delete", "good")
    assert code == 0
    code, out = _invoke(tmp_path, "filters", "delete", "good")
    assert code == 1 and "no filter named" in out


def test_subscriptions_deliver_and_dead_letters(tmp_path: Path) -> None:
    _invoke(tmp_path, "filters", "add", "all", "rb >= 0")
    code, out = _invoke(
        tmp_path, "subscriptions", "add", "inbox", "--filter", "all", "--directory", "inbox"
    )
    assert code == 0 and "files inbox" in out
    code, out = _invoke(
        tmp_path, "subscriptions", "add", "hook", "--filter", "all", "--webhook", "https://x.org/h"
    )
    assert code == 2 and "secret" in out  # a webhook needs its HMAC key
    code, out = _invoke(
        tmp_path,
        "subscriptions",
        "add",
        "both",
        "--filter",
        "all",
        "--directory",
        "a",
        "--webhook",
        "https://x.org/h",
    )
    assert code == 2 and "exactly one destination" in out
    code, out = _invoke(tmp_path, "subscriptions", "list")
    assert code == 0 and "inbox" in out
    code, out = _invoke(tmp_path, "deliver", "--budget", "1")
    assert code == 0 and "0 delivered" in out
    code, out = _invoke(tmp_path, "dead-letters")
    assert code == 0
    code, out = _invoke(tmp_path, "subscriptions", "delete", "inbox")
    assert code == 0
